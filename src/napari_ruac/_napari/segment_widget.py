"""The "Segment with uncertainty" dock widget: prompts → mask + uncertainty, slice or volume.

Keys while the widget lives (also buttons): S segments the current object on the current slice (when
the only change since the slice's preview is more clicks, S corrects that preview: it goes back in as the
mask prompt, ``ImagePredictor.correct``; any other change starts afresh), Shift+S propagates it through the volume, C commits it as a new label, Shift+C clears the prompts
and preview, T toggles whether new clicks mark the object or the background. N suggests the next
click, Enter accepts it, T flips a shown suggestion's sign (guided.py). Ctrl+Z / Ctrl+Shift+Z undo
and redo clicks, boxes, commits and clears (history.py).
The model row lives in model_loading.py, the slice/volume runs and Cancel in segment_runs.py
(mix-ins of this class); this module holds the dock itself, its layers, settings and editing actions.
"""

from __future__ import annotations

import weakref

import numpy as np
from napari.utils.notifications import show_info, show_warning
from qtpy.QtCore import QEvent
from qtpy.QtWidgets import QFileDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from ..inference import EmbeddingCache, ImagePredictor, Intensity
from ..inference.embedding_cache import disk_cache
from .combo import refill_keeping_choice
from .everything_panel import EverythingPanel
from .guided import GuidedCorrection
from .history import History
from .keys import KEYS, bind_keys, unbind_keys  # noqa: F401  (KEYS: the documented key map)
from .layer_geometry import is_volume, layer_array
from .model_loading import ModelLoading
from .prompt_layers import (
    POSITIVE,
    PromptLayers,
    add_prompt_layers,
    clear_prompts,
    current_label,
    toggle_point_label,
)
from .result_layers import ResultLayers, replaced_object
from .segment_controls import SegmentControls
from .segment_runs import SegmentRuns
from .spacing_check import dropped_spacing_message


_LIVE: "weakref.WeakSet[SegmentWidget]" = weakref.WeakSet()


def segment_widget_of(viewer):
    """The segment dock open in ``viewer`` (the Objects review hands it objects to fix), or None. napari
    hands each dock its own proxy of the viewer, so the viewers are compared unwrapped."""
    target = _unwrapped(viewer)
    return next((w for w in list(_LIVE) if _unwrapped(w.viewer) is target), None)


def _unwrapped(viewer):
    return getattr(viewer, "__wrapped__", viewer)


class SegmentWidget(ModelLoading, SegmentRuns, QWidget):
    """Segment objects with SAM2 + an uncertainty method; the computation is the library's predictors."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.model = None
        self.worker = None
        self.cache = EmbeddingCache()
        self.cache_folder = None  # on-disk embeddings (napari-ruac embed / --cache): set_cache_folder
        self._on_disk: set = set()  # (image layer id, intensity) already backed by the folder
        self._predictors: dict[str, ImagePredictor] = {}
        self._results: dict[str, ResultLayers] = {}
        self._prompts: dict[str, PromptLayers] = {}
        self._run_cancelled = False
        self._run_failed = False
        self.running = False  # True from a job's start until its last signal was handled
        self.received_slices: list[int] = []
        self.track_stops: list[tuple[int, str]] = []  # (slice, why projection tracking ended there)
        self.last_prediction = None
        self.after_job = None  # what starts when the running job ends (a re-propagation after a correction)
        self.history = History(self)
        self.controls = SegmentControls(self)
        self.guided = GuidedCorrection(self)
        self.everything = EverythingPanel(self)
        self.status = QLabel("Load a model, pick an image, click the object (or draw a box) and press S.")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.controls)
        layout.addWidget(self.everything)
        layout.addWidget(self.guided.panel)
        layout.addWidget(self.status)
        layout.addStretch(1)
        _LIVE.add(self)
        self._wire()
        self.refresh_images()
        bind_keys(self.viewer, self)

    def _keep_button_heights(self) -> None:
        """A crowded dock area must not squash the buttons' text: each keeps its size hint's height, taken
        when shown (napari's style sheet, applied on docking, changes the hint)."""
        for button in self.findChildren(QPushButton):
            button.setMinimumHeight(button.sizeHint().height())

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._keep_button_heights()
        super().showEvent(event)

    # ---- wiring ----------------------------------------------------------------------
    def _wire(self) -> None:
        c = self.controls
        c.image.currentTextChanged.connect(self._on_image_changed)
        c.load.clicked.connect(self._on_load_clicked)
        c.cache_folder.clicked.connect(self._on_cache_clicked)
        c.model.activated.connect(self._on_model_activated)
        c.device.currentTextChanged.connect(self._on_device_changed)
        c.intensity.currentTextChanged.connect(self._on_intensity_mode)
        for button, action in (
            (c.segment_slice, self.segment_slice),
            (c.segment_volume, self.segment_volume),
            (c.commit, self.commit),
            (c.clear, self.clear),
            (c.toggle, self.toggle_label),
            (c.cancel, self.cancel),
        ):
            button.clicked.connect(lambda _=False, act=action: act())
        events = self.viewer.layers.events
        for event in (events.inserted, events.removed, events.moved):
            event.connect(self.refresh_images)

    def unbind_keys(self) -> None:
        """Remove our key bindings from the viewer and prompt layers (when the widget closes)."""
        layers = [p for prompts in self._prompts.values() for p in (prompts.points, prompts.shapes)]
        unbind_keys([self.viewer, *layers])

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.cancel()
        self.unbind_keys()
        super().closeEvent(event)

    def event(self, event) -> bool:
        """napari removes a dock by re-parenting its widget to None (no close event): unbind then too."""
        if event.type() == QEvent.Type.ParentChange and self.parent() is None:
            self.cancel()
            self.unbind_keys()
        return super().event(event)

    # ---- layers ----------------------------------------------------------------------
    def _image_layers(self) -> list:
        return [
            layer
            for layer in self.viewer.layers
            if type(layer).__name__ == "Image" and "source_layer" not in (layer.metadata or {})
        ]

    def refresh_images(self, *_) -> None:
        """Keep the image menu in step with the viewer's layers."""
        combo = self.controls.image
        current = combo.currentText()
        refill_keeping_choice(combo, [layer.name for layer in self._image_layers()])
        if combo.currentText() != current:
            self._on_image_changed(combo.currentText())

    @property
    def image_layer(self):
        """The image being segmented (None when the viewer has no image layer)."""
        name = self.controls.image.currentText()
        for layer in self._image_layers():
            if layer.name == name:
                return layer
        return None

    def set_image_layer(self, layer) -> None:
        self.controls.image.setCurrentText(layer.name)

    def _on_image_changed(self, name: str) -> None:
        layer = self.image_layer
        if layer is not None and name:
            warning = dropped_spacing_message(layer)
            if warning:
                show_warning(warning)
            self.prompt_layers_for(layer)
            self._show_label_hint()

    def prompt_layers_for(self, layer) -> PromptLayers:
        """The clicks/boxes layers of ``layer`` (created on first use, keys bound on them)."""
        key = layer.unique_id
        if key not in self._prompts or self._prompts[key].points not in self.viewer.layers:
            self._prompts[key] = add_prompt_layers(self.viewer, layer)
            bind_keys(self._prompts[key].points, self)
            bind_keys(self._prompts[key].shapes, self)
            self.history.watch(layer, self._prompts[key])
        return self._prompts[key]

    def results_for(self, layer) -> ResultLayers:
        """The masks / preview / uncertainty layers of ``layer`` (created on first use)."""
        key = layer.unique_id
        existing = self._results.get(key)
        if existing is None or any(x not in self.viewer.layers for x in (existing.masks, existing.preview, existing.uncertainty)):
            self._results[key] = ResultLayers(self.viewer, layer)
        return self._results[key]

    def set_cache_folder(self, folder) -> None:
        """Read and write each image's embeddings in ``folder/<layer name>.zarr`` (shared with the CLI's
        ``embed`` / ``--cache``); None stops using a folder."""
        self.cache_folder = folder
        self.cache.disks.clear()
        self._on_disk.clear()

    def _on_cache_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Embedding cache folder")
        if folder:
            self.set_cache_folder(folder)
            self.status.setText(f"Embeddings are kept in {folder} (one <layer name>.zarr per image).")

    def _use_disk_cache(self, layer, intensity) -> None:
        """Back the embedding cache with the cache folder for ``layer`` (once per layer and intensity)."""
        key = (layer.unique_id, str(intensity))
        if self.cache_folder is None or key in self._on_disk:
            return
        self.cache.attach_disk(disk_cache(
            self.cache_folder, layer.name, self.model, np.asarray(layer_array(layer)), intensity,
            volume=is_volume(layer), log=show_info,
        ).disk)  # fmt: skip
        self._on_disk.add(key)

    def _predictor(self, layer) -> ImagePredictor:
        key = layer.unique_id
        if key not in self._predictors:
            self._predictors[key] = ImagePredictor(self.model, method=self.method, cache=self.cache)
        self._predictors[key].zoom = self.controls.zoom.currentText()  # the panel's settings at each use
        self._predictors[key].click_proposal = self.controls.click_proposal.isChecked()
        return self._predictors[key]

    # ---- settings ----------------------------------------------------------------------
    @property
    def method(self) -> str:
        return self.controls.method.currentText()

    def intensity(self) -> Intensity:
        """The intensity mapping chosen in the panel."""
        mode = self.controls.intensity.currentText()
        low, high = self.controls.low.value(), self.controls.high.value()
        if mode == "window":
            return Intensity(mode="window", window=(low, high))
        if mode == "percentile":
            return Intensity(mode="percentile", percentiles=(low, high))
        return Intensity(mode="auto")

    def _on_intensity_mode(self, mode: str) -> None:
        c = self.controls
        layer = self.image_layer
        if mode == "window" and layer is not None:
            low, high = layer.contrast_limits
            c.set_range(-1e9, 1e9, low, high)
        elif mode == "percentile":
            c.set_range(0.0, 100.0, 0.5, 99.5)
        c.low.setEnabled(mode != "auto")
        c.high.setEnabled(mode != "auto")

    # ---- actions -----------------------------------------------------------------------
    def _busy(self) -> bool:
        if self.running:
            show_info("napari-ruac is still working; wait for it or press Cancel.")
            return True
        return False

    def commit(self) -> int:
        """C: the preview becomes a new label in the masks layer (older objects are never overwritten).

        Returns the new id (0 when nothing was committed).
        """
        layer = self.image_layer
        if self._busy() or layer is None:
            return 0
        results = self.results_for(layer)
        if not results.has_preview:
            show_info("nothing to commit: segment the object first (S or Shift+S).")
            return 0
        target = self.guided.fix_target(layer)
        if target is not None:
            return self._write_back(layer, results, *target)
        with self.history.action(layer, "commit"):
            new_id = results.commit()
            clear_prompts(self.prompt_layers_for(layer))
        self.guided.forget(layer)
        self.status.setText(f"Committed object {new_id}." if new_id else "Nothing committed: every pixel was taken.")
        return new_id

    def _write_back(self, layer, results, labels_layer, object_id: int) -> int:
        """C after refining a Labels object: the preview replaces that object on the slices it covers."""
        preview = np.asarray(results.preview.data) > 0
        data = np.asarray(labels_layer.data)
        if data.shape != preview.shape:
            show_warning(f"'{labels_layer.name}' has shape {data.shape}, the image {preview.shape}: not written back.")
            return 0
        covered = preview.reshape(preview.shape[0], -1).any(axis=1) if preview.ndim == 3 else None
        where = None if covered is None else np.broadcast_to(covered[:, None, None], preview.shape)
        indices, values = replaced_object(data, object_id, preview, where)
        if len(values):
            labels_layer.data_setitem(indices, values)
        with self.history.action(layer, "commit"):
            results.clear_preview()
            clear_prompts(self.prompt_layers_for(layer))
        self.guided.forget(layer)
        self.status.setText(f"Object {object_id} of '{labels_layer.name}' replaced by the refined mask "
                            f"({int((np.asarray(labels_layer.data) == object_id).sum())} px); Ctrl+Z in that layer takes it back.")
        return int(object_id)

    def clear(self) -> None:
        """Shift+C: remove the current prompts and preview."""
        layer = self.image_layer
        if self._busy() or layer is None:
            return
        with self.history.action(layer, "clear"):
            clear_prompts(self.prompt_layers_for(layer))
            if layer.unique_id in self._results:
                self.results_for(layer).clear_preview()
        self.guided.forget(layer)
        self.status.setText("Prompts and preview cleared.")

    def undo(self) -> str | None:
        """Ctrl+Z: take back the last click, box, commit or clear (returns what was undone)."""
        if self._busy():
            return None
        what = self.history.undo()
        self.status.setText(f"Undid the last {what}. Ctrl+Shift+Z redoes it." if what else "Nothing to undo.")
        return what

    def redo(self) -> str | None:
        """Ctrl+Shift+Z: do again what Ctrl+Z took back."""
        if self._busy():
            return None
        what = self.history.redo()
        self.status.setText(f"Redid the {what}." if what else "Nothing to redo.")
        return what

    def toggle_label(self) -> int | None:
        """T: new clicks mark the object ↔ the background (or, while a suggestion shows, flip its sign)."""
        layer = self.image_layer
        if layer is None:
            return None
        if self.guided.showing:
            return self.guided.flip().label
        new = toggle_point_label(self.prompt_layers_for(layer).points)
        self._show_label_hint()
        return new

    def suggest_click(self):
        """N: show the suggested next click on the current slice (see guided.py)."""
        return self.guided.suggest()

    def accept_suggestion(self) -> bool:
        """Enter: the shown suggestion becomes a click and the slice is re-decoded."""
        return self.guided.accept()

    def _show_label_hint(self) -> None:
        layer = self.image_layer
        if layer is None:
            return
        label = current_label(self.prompt_layers_for(layer).points)
        text = "object (green)" if label == POSITIVE else "background (red)"
        self.controls.label_hint.setText(f"Next click: {text} — T toggles · N suggests a click, Enter accepts it")

    def _set_running(self, running: bool) -> None:
        if running:
            self._run_failed = False
        self.running = running
        self.controls.set_running(running)

    def _job_done(self) -> None:
        self._set_running(False)
        follow, self.after_job = self.after_job, None
        if follow is not None:
            follow()

