"""Guided correction in the segment widget: the tool points at the next click, the user decides.

N shows the suggestion for the current slice (library rule: ``uq/suggest.py``) as a star in a
"<image> suggestion" layer, green for a likely missed part (a positive click), red for a likely
leak (a negative click). Enter accepts it: it becomes a click in the prompts layer and the slice is
re-decoded from the cached embedding (the decoder only). T flips its sign while it shows.
Nothing becomes a prompt without Enter; the slice's current preview goes back in as the mask prompt
(``ImagePredictor.correct``, the step bench_interactive measures). In a volume whose preview was propagated, accepting also
re-propagates from the prompted slices (the corrected one among them); committed objects are never
touched. "Refine object" takes an object of any Labels layer (layer + id) on the current slice as
the mask prompt; later accepted clicks refine its latest result, and C writes the result back into that
layer in place of the old object (on the slices the preview covers; other objects keep their voxels;
the Labels layer's own Ctrl+Z takes it back). The Objects review's Fix starts this for its object.
"""

from __future__ import annotations

import numpy as np
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QComboBox, QGridLayout, QLabel, QPushButton, QSpinBox, QWidget

from ..inference.prompts import adds_clicks_only, object_mask
from ..uq.suggest import ClickSuggestion, edge_width_for, suggest_clicks
from .combo import refill_keeping_choice
from .layer_geometry import check_yx_displayed, geometry_of, is_volume, layer_array, leading_index
from .prompt_layers import LABEL_COLORS, NEGATIVE, POSITIVE, PIXEL_CENTRE, prompts_from_layers
from .workers import call_job, error_message, start_job

KEYS_HELP = "N: suggest a click · Enter: accept it · T: flip its sign"
SUGGESTION_SYMBOL = "star"


def marker_size(mask: np.ndarray | None, image_hw) -> float:
    """The star's size in image pixels: 0.4 × the object's equivalent diameter (it must not hide the
    small object it points into), at least 4 px and at most 2.5 × 2 % of the image's longer side."""
    largest = 2.5 * max(3.0, 0.02 * max(image_hw))
    if mask is None or not np.any(mask):
        return largest
    return float(np.clip(0.4 * np.sqrt(4.0 * np.count_nonzero(mask) / np.pi), 4.0, largest))


def suggestion_name(image_name: str) -> str:
    return f"{image_name} suggestion"


def refine_job(predictor, image, mask, prompt: dict, method: str, value_range, correcting: bool = False,
               keep_window=None):
    """Encode (or reuse) the slice and refine ``mask`` with the slice's clicks (worker thread):
    ``correcting``: the library's correction step (the previous mask, the slice's box and clicks, the
    previous zoom window kept while it fits: ``ImagePredictor.correct``); else a Labels object refined
    with its own box (``refine_mask``)."""
    predictor.set_image(image, value_range=value_range)
    points, labels = prompt.get("points"), prompt.get("labels")
    if correcting:
        return predictor.correct(mask, box=prompt.get("box"), points=points, labels=labels, method=method,
                                 keep_window=keep_window)
    return predictor.refine_mask(mask, points=points, labels=labels, method=method)


class GuidedPanel(QWidget):
    """Suggest / accept buttons and the refine-from-labels pickers (no logic)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.suggest = QPushButton("Suggest click [N]")
        self.accept = QPushButton("Accept [Enter]")
        self.labels = QComboBox()
        self.labels.setToolTip("a Labels layer holding the object to refine")
        self.object_id = QSpinBox()
        self.object_id.setRange(1, 2**31 - 1)
        self.object_id.setPrefix("id ")
        self.refine = QPushButton("Refine object")
        grid.addWidget(self.suggest, 0, 0)
        grid.addWidget(self.accept, 0, 1)
        grid.addWidget(QLabel("Refine"), 1, 0)
        grid.addWidget(self.labels, 1, 1)
        grid.addWidget(self.object_id, 2, 0)
        grid.addWidget(self.refine, 2, 1)


class GuidedCorrection:
    """The suggestion state of one segment widget and its actions (N, Enter, T, Refine)."""

    def __init__(self, widget) -> None:
        self.widget = widget
        self.suggestion: ClickSuggestion | None = None
        self.index: tuple[int, ...] | None = None
        self.layer = None  # the suggestion Points layer
        self.mask_prompts: dict[tuple, np.ndarray] = {}  # (image layer id, slice) → the mask being refined
        # (image layer id, slice) → (the prompt its preview was made from, the zoom window it was decoded in)
        self.made_by: dict[tuple, tuple[dict, tuple | None]] = {}
        self.fix_targets: dict = {}  # image layer id → (Labels layer, object id) that C writes the refined mask into
        self.panel = GuidedPanel()
        self.panel.suggest.clicked.connect(lambda: self.suggest())
        self.panel.accept.clicked.connect(lambda: self.accept())
        self.panel.refine.clicked.connect(lambda: self.refine_from_labels())
        events = widget.viewer.layers.events
        for event in (events.inserted, events.removed):
            event.connect(self.refresh_labels)
        self.refresh_labels()

    @property
    def showing(self) -> bool:
        return self.suggestion is not None

    # ---- N -------------------------------------------------------------------------------
    def suggest(self) -> ClickSuggestion | None:
        """N: compute and show the most useful corrective click on the current slice."""
        w = self.widget
        try:
            image_layer = w._require()
            check_yx_displayed(w.viewer, image_layer)
            index = leading_index(w.viewer, image_layer)
            results = w._results.get(image_layer.unique_id)
            if results is None or not results.preview.data[index].any():
                raise ValueError("nothing to correct on this slice: segment the object first (S or Shift+S).")
            mask = np.asarray(results.preview.data[index]) > 0
            uncertainty = results.preview_uncertainty[index]
            probability = results.preview_probability[index]  # the same maps the library's suggest_click reads
            prompt = prompts_from_layers(w.prompt_layers_for(image_layer)).get(index, {})
            found = suggest_clicks(
                probability, uncertainty, mask, points=prompt.get("points"), labels=prompt.get("labels"),
                box=prompt.get("box"), n=1, edge_width=edge_width_for(mask.shape, w.model.image_size),
            )  # fmt: skip
        except Exception as exc:
            show_error(error_message(exc))
            return None
        if not found:
            self.dismiss()
            w.status.setText("No uncertain region left to correct on this slice.")
            return None
        self.suggestion, self.index = found[0], index
        self._show(image_layer, marker_size(mask, np.shape(layer_array(image_layer))[-2:]))
        return self.suggestion

    def _show(self, image_layer, size: float | None = None) -> None:
        s = self.suggestion
        coords = np.array([[*self.index, s.y - PIXEL_CENTRE, s.x - PIXEL_CENTRE]], dtype=float)
        colour = LABEL_COLORS[POSITIVE if s.positive else NEGATIVE]
        viewer = self.widget.viewer
        name = suggestion_name(image_layer.name)
        if self.layer is None or self.layer not in viewer.layers:
            size = size or marker_size(None, np.shape(layer_array(image_layer))[-2:])
            self.layer = viewer.add_points(
                coords, name=name, symbol=SUGGESTION_SYMBOL, size=size, face_color=colour, border_color="yellow",
                border_width=0.08, **geometry_of(image_layer),
            )  # fmt: skip
        else:
            self.layer.data = coords
            self.layer.face_color = colour
            if size:
                self.layer.size = size
        viewer.layers.selection.active = self.widget.prompt_layers_for(image_layer).points
        kind = "positive click (object)" if s.positive else "negative click (background)"
        text = f"Suggested: {kind} at x={s.x:.0f}, y={s.y:.0f} — {s.reason}. {KEYS_HELP}."
        self.widget.status.setText(text)
        viewer.help = KEYS_HELP

    def dismiss(self) -> None:
        """Remove the marker; nothing becomes a prompt."""
        self.suggestion = self.index = None
        if self.layer is not None and self.layer in self.widget.viewer.layers:
            self.layer.data = np.empty((0, self.layer.ndim))

    # ---- T -------------------------------------------------------------------------------
    def flip(self) -> ClickSuggestion | None:
        """T while a suggestion shows: flip its sign (its colour follows)."""
        if self.suggestion is None:
            return None
        self.suggestion = self.suggestion.flipped()
        self._show(self.widget.image_layer)
        return self.suggestion

    # ---- Enter ---------------------------------------------------------------------------
    def accept(self) -> bool:
        """Enter: the suggestion becomes a click with its sign; the slice is re-decoded."""
        w = self.widget
        if self.suggestion is None:
            show_info("no suggestion to accept: press N first.")
            return False
        if w._busy():
            return False
        image_layer = w.image_layer
        s, index = self.suggestion, self.index
        points = w.prompt_layers_for(image_layer).points
        defaults = points.feature_defaults.copy()
        chosen = defaults.copy()
        chosen["label"] = s.label
        points.feature_defaults = chosen
        points.add([*index, s.y - PIXEL_CENTRE, s.x - PIXEL_CENTRE])
        points.feature_defaults = defaults
        self.dismiss()
        propagated = is_volume(image_layer) and self._preview_elsewhere(image_layer, index)
        self.run_slice(image_layer, index, then_propagate=propagated)
        return True

    def _preview_elsewhere(self, image_layer, index) -> bool:
        results = self.widget._results.get(image_layer.unique_id)
        if results is None:
            return False
        others = np.asarray(results.preview.data).reshape(results.preview.data.shape[0], -1).any(axis=1)
        others[index[0]] = False
        return bool(others.any())

    def run_slice(self, image_layer, index, then_propagate: bool = False) -> None:
        """Re-decode the slice after an accepted click: the library's correction step on the slice's
        current preview (its mask goes back in as the mask prompt); without a preview, refine the
        Labels object chosen for this slice, else segment as S does."""
        w = self.widget
        if then_propagate:
            w.after_job = w.segment_volume
        results = w._results.get(image_layer.unique_id)
        alive = results is not None and results.preview in w.viewer.layers
        preview = np.asarray(results.preview.data[index]) > 0 if alive else None
        if preview is not None and preview.any():
            self._start_refine(image_layer, index, preview, correcting=True,
                               keep_window=self.window_of(image_layer, index))
            return
        mask = self.mask_prompts.get((image_layer.unique_id, index))
        if mask is None:
            w.segment_slice()
            return
        self._start_refine(image_layer, index, mask)

    # ---- refine from a Labels layer ----------------------------------------------------
    def refresh_labels(self, *_) -> None:
        names = [layer.name for layer in self.widget.viewer.layers if type(layer).__name__ == "Labels"]
        refill_keeping_choice(self.panel.labels, names)

    def refine_from_labels(self, labels_layer=None, object_id: int | None = None) -> bool:
        """Take object ``object_id`` of ``labels_layer`` on the current slice as the mask prompt
        (with the slice's clicks) and refine it; Enter-accepted clicks keep refining it."""
        w = self.widget
        if w._busy():
            return False
        try:
            image_layer = w._require()
            check_yx_displayed(w.viewer, image_layer)
            if labels_layer is None:
                name = self.panel.labels.currentText()
                if not name or name not in w.viewer.layers:
                    raise ValueError("no Labels layer to refine from: open or paint one, then pick it under Refine.")
                labels_layer = w.viewer.layers[name]
            object_id = int(self.panel.object_id.value()) if object_id is None else int(object_id)
            index = leading_index(w.viewer, image_layer)
            labels = np.asarray(labels_layer.data)
            if labels.shape != np.shape(layer_array(image_layer))[: labels.ndim]:
                raise ValueError(
                    f"Labels layer '{labels_layer.name}' has shape {labels.shape}; it must match the image "
                    f"'{image_layer.name}' ({np.shape(layer_array(image_layer))})."
                )
            plane = labels[index] if labels.ndim > 2 else labels
            mask = object_mask(plane, object_id)
        except Exception as exc:
            show_error(error_message(exc))
            return False
        self.mask_prompts[(image_layer.unique_id, index)] = mask
        self.fix_targets[image_layer.unique_id] = (labels_layer, object_id)
        w.status.setText(f"Refining object {object_id} of '{labels_layer.name}': click (or N, Enter) to correct it; "
                         "C writes it back into that layer in place of the old mask.")
        self._start_refine(image_layer, index, mask)
        return True

    def fix_target(self, image_layer):
        """(Labels layer, object id) the current object refines, if that layer is still open; else None."""
        target = self.fix_targets.get(image_layer.unique_id)
        if target is None or target[0] not in self.widget.viewer.layers:
            return None
        return target

    def _start_refine(self, image_layer, index, mask, correcting: bool = False, keep_window=None) -> None:
        w = self.widget
        data = layer_array(image_layer)
        image = np.asarray(data[index])
        value_range = w.intensity().value_range(np.asarray(data) if index else image)
        prompt = prompts_from_layers(w.prompt_layers_for(image_layer)).get(index, {})
        results = w.results_for(image_layer)
        w._set_running(True)
        w.status.setText("Refining the object on this slice…")
        w.worker = start_job(
            call_job, refine_job, w._predictor(image_layer), image, mask, prompt, w.method, value_range, correcting,
            keep_window,
            desc="Refining", on_return=lambda p: w._on_slice_done(results, index, p, (image_layer, prompt)),
            on_done=w._job_done,
        )  # fmt: skip

    def forget(self, image_layer) -> None:
        """Commit / clear: the object is done, its mask prompts and suggestion go."""
        self.dismiss()
        for key in [k for k in self.mask_prompts if k[0] == image_layer.unique_id]:
            del self.mask_prompts[key]
        self.forget_prompts(image_layer)
        self.fix_targets.pop(image_layer.unique_id, None)

    # ---- S after more clicks: a correction ------------------------------------------------
    def remember(self, image_layer, index, prompt: dict, window=None) -> None:
        """The slice's preview was made from ``prompt``, in zoom ``window`` (None: the whole slice)."""
        self.made_by[(image_layer.unique_id, index)] = (prompt, window)

    def window_of(self, image_layer, index):
        """The zoom window the slice's preview was decoded in (kept by corrections while it fits)."""
        return self.made_by.get((image_layer.unique_id, index), ({}, None))[1]

    def forget_prompts(self, image_layer) -> None:
        for key in [k for k in self.made_by if k[0] == image_layer.unique_id]:
            del self.made_by[key]

    def correction_base(self, image_layer, index, prompt: dict, results) -> tuple[np.ndarray | None, tuple | None]:
        """(the slice's preview, its zoom window) when ``prompt`` only adds clicks to the prompt that made it
        (then S runs the library's correction step, the preview fed back as the mask prompt); else
        (None, None): S starts afresh."""
        before, window = self.made_by.get((image_layer.unique_id, index), (None, None))
        if not adds_clicks_only(before, prompt):
            return None, None
        preview = np.asarray(results.preview.data[index]) > 0
        return (preview, window) if preview.any() else (None, None)
