"""Model loading for the segment dock: pick a registry model or checkpoint, load or move it in a worker.

``ModelLoading`` is a mix-in of ``SegmentWidget`` (segment_widget.py): it uses the widget's
``controls``, ``status``, ``cache``, ``_predictors``, ``_busy``, ``_set_running`` and ``_job_done``.
"""

from __future__ import annotations

from napari.utils.notifications import show_info
from qtpy.QtWidgets import QFileDialog

from ..uq import method_readiness
from .model_choice import BROWSE, CHECKPOINT_FILTER, ModelEntry, load_model_job, move_model_job
from .segment_controls import IN_MEMORY
from .workers import call_job, start_job


class ModelLoading:
    """The Model row of the segment dock: load, browse, move to another device."""

    def set_model(self, model, source: str = IN_MEMORY) -> None:
        """Use ``model`` (a RUACModel) from now on; predictors and cached embeddings are dropped.

        ``source``: the menu entry it came from (a model handed over in code shows as "loaded").
        """
        self.model = model
        self._predictors.clear()
        self.cache.clear()
        info = model.info
        self.controls.show_loaded_model(f"{info.name} (loaded)", source)
        self.controls.model_info.setText(f"{info.name} · {model.image_size}px · {model.device} · {info.source}")
        self.controls.show_method_readiness(method_readiness(model))
        self.status.setText(f"Model {info.name} ready.")

    def _on_model_activated(self, index: int) -> None:
        if self.controls.model.itemText(index) == BROWSE:
            self.browse_checkpoint()

    def browse_checkpoint(self) -> None:
        """Ask for a .pt / .safetensors file, add it to the menu and load it."""
        path, _ = QFileDialog.getOpenFileName(self, "Load a checkpoint", "", CHECKPOINT_FILTER)
        if path:
            entry = ModelEntry(label=path.rsplit("/", 1)[-1], source=path)
            self.controls.add_model_entry(entry)
            self.load_model(entry.source)

    def _on_load_clicked(self) -> None:
        source = self.controls.model.currentData()
        if source is None:
            self.browse_checkpoint()
        elif source == IN_MEMORY:
            show_info("this model is already loaded.")
        else:
            self.load_model(source)

    def load_model(self, source: str) -> None:
        """Load a registry model or checkpoint in a worker; ``set_model`` runs when it is ready."""
        if self._busy():
            return
        self.status.setText(f"Loading {source}…")
        self._set_running(True)
        self.worker = start_job(
            call_job, load_model_job, source, self.controls.device.currentText(),
            desc="Loading model", on_return=lambda model: self.set_model(model, source), on_done=self._job_done,
            on_error=self._on_job_error,
        )  # fmt: skip

    def _on_device_changed(self, device: str) -> None:
        if self.model is None or self._busy():
            return
        self._set_running(True)
        source = self.controls.model.currentData() or IN_MEMORY
        self.worker = start_job(
            call_job, move_model_job, self.model, device,
            desc=f"Moving model to {device}", on_return=lambda model: self.set_model(model, source),
            on_done=self._job_done, on_error=self._on_job_error,
        )  # fmt: skip

