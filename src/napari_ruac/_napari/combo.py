"""Refill a layer menu (QComboBox) with new names, keeping the chosen one when it is still there."""

from __future__ import annotations


def refill_keeping_choice(combo, names: list[str]) -> None:
    """``combo`` lists ``names``; its current text stays when it is among them. No signal fires
    while refilling (the caller reacts to a changed choice itself)."""
    current = combo.currentText()
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(names)
    if current in names:
        combo.setCurrentText(current)
    combo.blockSignals(False)
