"""The widget's key bindings (S, Shift+S, C, Shift+C, T, N, Enter, Ctrl+Z, Ctrl+Shift+Z) on the viewer and on our prompt layers.

A prompt layer's own keys (Points/Shapes: S = select mode, T = path) would win over the
viewer's while it is the active layer, so the same keys are bound on those layers too.
"""

from __future__ import annotations

import weakref

from napari.utils.key_bindings import coerce_keybinding

KEYS = {
    "S": "segment_slice", "Shift-S": "segment_volume", "C": "commit", "Shift-C": "clear", "T": "toggle_label",
    "N": "suggest_click", "Enter": "accept_suggestion", "Control-Z": "undo", "Control-Shift-Z": "redo",
}
PREFIX = "ruac_"


def bind_keys(provider, widget, keys: dict[str, str] = KEYS, prefix: str = PREFIX) -> None:
    """Bind every key of ``keys`` (default: the segment dock's) on ``provider`` to the widget method it names
    (weakly held); handlers are named ``prefix + method`` so that ``unbind_keys`` removes only ours."""
    ref = weakref.ref(widget)

    def make(method_name: str):
        def handler(_provider):
            target = ref()
            if target is not None:
                getattr(target, method_name)()

        handler.__name__ = f"{prefix}{method_name}"
        return handler

    for key, method_name in keys.items():
        provider.bind_key(key, make(method_name), overwrite=True)


def unbind_keys(providers, keys: dict[str, str] = KEYS, prefix: str = PREFIX) -> None:
    """Remove our bindings (and only ours) from each provider."""
    for provider in providers:
        for key in keys:
            bound = provider.keymap.get(coerce_keybinding(key))
            if bound is not None and getattr(bound, "__name__", "").startswith(prefix):
                provider.bind_key(key, None)
