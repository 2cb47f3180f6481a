"""The form of the segment widget: menus, intensity fields and action buttons (no logic)."""

from __future__ import annotations

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from ..uq import DEFAULT_METHOD, available_methods
from .model_choice import BROWSE, ModelEntry, device_choices, model_entries

INTENSITY_MODES = ("auto", "percentile", "window")
IN_MEMORY = "<in memory>"  # menu data of a model handed over with set_model


class SegmentControls(QWidget):
    """Image / model / method / device / intensity pickers and the S, Shift+S, C, Shift+C, T buttons."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.image = QComboBox()
        form.addRow("Image", self.image)

        self.model = QComboBox()
        for entry in model_entries():
            self.model.addItem(entry.label, entry.source)
        self.model.addItem(BROWSE, None)
        self.load = QPushButton("Load")
        self.load.setToolTip("Load the chosen model (in the background)")
        self.cache_folder = QPushButton("Cache…")
        self.cache_folder.setToolTip(
            "Keep image embeddings in a folder (as `napari-ruac embed --cache DIR`): later sessions only decode"
        )
        row = QHBoxLayout()
        row.addWidget(self.model, 1)
        row.addWidget(self.load)
        row.addWidget(self.cache_folder)
        form.addRow("Model", row)
        self.model_info = QLabel("no model loaded" if self.model.count() > 1 else "no model found: browse to a checkpoint")
        self.model_info.setWordWrap(True)
        form.addRow("", self.model_info)

        self.method = QComboBox()
        self.method.addItems(available_methods())
        if DEFAULT_METHOD in available_methods():
            self.method.setCurrentText(DEFAULT_METHOD)
        form.addRow("Method", self.method)
        self.device = QComboBox()
        self.device.addItems(device_choices())
        form.addRow("Device", self.device)

        self.intensity = QComboBox()
        self.intensity.addItems(INTENSITY_MODES)
        self.low, self.high = QDoubleSpinBox(), QDoubleSpinBox()
        for box in (self.low, self.high):
            box.setDecimals(1)
            box.setEnabled(False)
        self.set_range(0.0, 100.0, 0.5, 99.5)
        row = QHBoxLayout()
        row.addWidget(self.intensity, 1)
        row.addWidget(self.low, 1)
        row.addWidget(self.high, 1)
        form.addRow("Intensity", row)
        self.zoom = QComboBox()  # zoom-in on small objects (inference/zoom.py)
        self.zoom.addItems(["auto", "on", "off"])
        self.zoom.setToolTip("Zoom-in: predict a small object in a window around its box at the model's resolution "
                             "(auto: when that gains resolution). Outside the window the object is absent.")
        form.addRow("Zoom-in", self.zoom)
        self.click_proposal = QCheckBox("check a lone click against the image's own object")
        self.click_proposal.setToolTip(
            "One positive click: also segment the box of the object the image itself shows under the click, and keep "
            "it when model and image agree (inference/click_proposal.py). Helps round, well-separated objects "
            "(coins, cells); off by default: it costs crowded real nuclei a little.")
        form.addRow("Clicks", self.click_proposal)

        self.segment_slice = QPushButton("Segment slice [S]")
        self.segment_volume = QPushButton("Segment volume [⇧S]")
        self.commit = QPushButton("Commit [C]")
        self.clear = QPushButton("Clear [⇧C]")
        self.toggle = QPushButton("Object/background [T]")
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        grid = QGridLayout()
        grid.setVerticalSpacing(4)  # napari's style gives none: the three rows read as one block
        for i, button in enumerate(
            (self.segment_slice, self.segment_volume, self.commit, self.clear, self.toggle, self.cancel)
        ):
            grid.addWidget(button, i // 2, i % 2)
        form.addRow(grid)
        self.label_hint = QLabel("")
        form.addRow(self.label_hint)

    def set_range(self, minimum: float, maximum: float, low: float, high: float) -> None:
        for box in (self.low, self.high):
            box.setRange(minimum, maximum)
        self.low.setValue(low)
        self.high.setValue(high)

    def add_model_entry(self, entry: ModelEntry) -> None:
        """Add a browsed checkpoint above the browse line and select it."""
        index = max(self.model.count() - 1, 0)
        self.model.insertItem(index, entry.label, entry.source)
        self.model.setCurrentIndex(index)

    def show_loaded_model(self, label: str, source: str) -> None:
        """Select the menu line of the model in use (adding it when it is not listed)."""
        index = self.model.findData(source)
        if index < 0:
            index = max(self.model.count() - 1, 0)
            self.model.insertItem(index, label, source)
        elif source == IN_MEMORY:
            self.model.setItemText(index, label)
        self.model.setCurrentIndex(index)

    def show_method_readiness(self, readiness: dict[str, str | None]) -> None:
        """Grey out the methods the loaded model cannot run, with why (and how to fix it) as the tooltip."""
        items = self.method.model()
        for index in range(self.method.count()):
            reason = readiness.get(self.method.itemText(index))
            item = items.item(index)
            item.setEnabled(reason is None)
            item.setToolTip(reason or "")
        if readiness.get(self.method.currentText()) is not None:
            self.method.setCurrentText(DEFAULT_METHOD)

    def set_running(self, running: bool) -> None:
        """While a job runs only Cancel is active."""
        for button in (self.segment_slice, self.segment_volume, self.commit, self.clear, self.load):
            button.setEnabled(not running)
        self.cancel.setEnabled(running)
