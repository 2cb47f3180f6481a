"""Segment runs of the segment dock: S on the current slice, Shift+S through the volume, Cancel.

``SegmentRuns`` is a mix-in of ``SegmentWidget`` (segment_widget.py): it uses the widget's
``viewer``, ``model``, ``cache``, ``status``, ``image_layer``, ``method``, ``intensity``,
``prompt_layers_for``, ``results_for``, ``_predictor``, ``_busy``, ``_set_running`` and ``_job_done``.
Cancelling a volume run keeps the slices that had arrived (each written whole, mask and
uncertainty together) and leaves the other slices of the preview empty; nothing is committed.
"""

from __future__ import annotations

import numpy as np
from napari.utils.notifications import show_error, show_info

from ..inference.volume_predictor import VolumePredictor
from .layer_geometry import check_yx_displayed, is_volume, layer_array, leading_index, spatial_shape
from .prompt_layers import prompts_from_layers
from .result_layers import ResultLayers
from .workers import error_message, segment_slice_job, segment_volume_job, start_job


class SegmentRuns:
    """Segment the current object on one slice or through the volume, in a worker."""

    def _require(self):
        if self.model is None:
            raise ValueError("no model loaded: pick one under Model and press Load (or browse to a checkpoint).")
        layer = self.image_layer
        if layer is None:
            raise ValueError("no image layer: open an image (File ▸ Open) or a sample (File ▸ Open Sample ▸ napari-ruac).")
        return layer

    def segment_slice(self) -> None:
        """S: segment the current object on the slice the viewer shows (the result goes to the preview)."""
        if self._busy():
            return
        try:
            layer = self._require()
            check_yx_displayed(self.viewer, layer)
            index = leading_index(self.viewer, layer)
            prompt = prompts_from_layers(self.prompt_layers_for(layer)).get(index)
            if not prompt:
                where = f" (slice {', '.join(map(str, index))})" if index else ""
                raise ValueError(
                    f"no prompt on this slice{where}: click the object in '{layer.name} prompts' "
                    f"or draw a rectangle in '{layer.name} boxes' first."
                )
            data = layer_array(layer)
            image = np.asarray(data[index])
            value_range = self.intensity().value_range(np.asarray(data) if index else image)
            if len(spatial_shape(layer)) <= 3:
                self._use_disk_cache(layer, self.intensity())
            predictor = self._predictor(layer)
            results = self.results_for(layer)
            previous, window = self.guided.correction_base(layer, index, prompt, results)
        except Exception as exc:
            show_error(error_message(exc))
            return
        if len(spatial_shape(layer)) > 3:
            show_info(f"'{layer.name}' has {len(spatial_shape(layer))} axes: segmenting the current Y×X slice only.")
        self._set_running(True)
        self.status.setText("Segmenting the current slice…")
        self.worker = start_job(
            segment_slice_job, predictor, image, prompt, self.method, value_range, previous, window,
            desc="Segmenting slice", on_return=lambda p: self._on_slice_done(results, index, p, (layer, prompt)),
            on_done=self._job_done, on_error=self._on_job_error,
        )  # fmt: skip

    def _on_slice_done(self, results: ResultLayers, index: tuple, prediction, made_by=None) -> None:
        """Show one slice's result; ``made_by`` = (image layer, the prompt that made it), so that S after
        more clicks corrects this mask (guided.py ``correction_base``)."""
        results.show_slice(index, prediction.mask, prediction.uncertainty, prediction.method, prediction.probability)
        self.last_prediction = prediction
        target = None
        if made_by is not None:
            self.guided.remember(made_by[0], index, made_by[1], prediction.window)
            target = self.guided.fix_target(made_by[0])
        then = (f"C writes it back into '{target[0].name}' as object {target[1]}" if target is not None
                else "C commits")
        self.status.setText(
            f"{prediction.method}: {prediction.area} px, predicted IoU {prediction.iou:.2f}, mean uncertainty in "
            f"mask {prediction.mean_uncertainty(inside_mask=True):.2f}. {then}, Shift+C clears."
        )

    def segment_volume(self) -> None:
        """Shift+S: propagate the current object through the volume from every prompted slice."""
        if self._busy():
            return
        try:
            layer = self._require()
            if len(spatial_shape(layer)) == 2:
                show_info("a 2D image: segmenting it as one slice (Shift+S propagates through Z×Y×X volumes).")
                self.segment_slice()
                return
            if not is_volume(layer):
                raise ValueError(
                    f"'{layer.name}' has {len(spatial_shape(layer))} axes; volume propagation needs Z×Y×X. "
                    "Use S for the current slice, or open one Z×Y×X stack as its own layer."
                )
            prompts = {key[0]: value for key, value in prompts_from_layers(self.prompt_layers_for(layer)).items()}
            if not prompts:
                raise ValueError("no prompts: click the object (or draw a box) on at least one slice first.")
            volume = np.asarray(layer_array(layer))
            value_range = self.intensity().value_range(volume)
            self._use_disk_cache(layer, self.intensity())
            predictor = VolumePredictor(self.model, method=self.method, cache=self.cache,
                                        zoom=self.controls.zoom.currentText())
            results = self.results_for(layer)
        except Exception as exc:
            show_error(error_message(exc))
            return
        results.clear_preview()
        self.guided.forget_prompts(layer)  # the propagated preview is no single slice's prompt's answer
        self._run_cancelled = False
        self._set_running(True)
        self.received_slices = []
        self.track_stops = []
        self.status.setText(f"Propagating from slice(s) {sorted(prompts)} through {volume.shape[0]} slices…")
        self.worker = start_job(
            segment_volume_job, predictor, volume, prompts, value_range,
            desc="Segmenting volume", total=volume.shape[0],
            on_yield=lambda item: self._on_volume_slice(results, item), on_error=self._on_job_error,
            on_done=lambda: self._on_volume_done(results, volume.shape[0]),
        )  # fmt: skip

    def _on_volume_slice(self, results: ResultLayers, item) -> None:
        if self._run_cancelled:
            return  # a slice that was already on its way when Cancel was pressed
        results.show_slice((item.z,), item.mask, item.uncertainty, self.method, item.probability)
        self.received_slices.append(item.z)
        if item.stopped:  # projection tracking gave up here: say where a new prompt would help
            self.track_stops.append((item.z, item.stopped))
            hint = " Prompt that slice to go on." if item.stopped.startswith("tracking stopped") else ""
            show_info(f"Slice {item.z}: {item.stopped}.{hint}")
        self.status.setText(f"Slice {item.z}: {int(item.mask.sum())} px ({item.done}/{item.total}).")

    def _on_volume_done(self, results: ResultLayers, total: int) -> None:
        """The status line sums up the run (not the last slice that happened to arrive)."""
        if not self._run_failed:
            preview = np.asarray(results.preview.data) > 0
            slices, voxels = int(preview.reshape(preview.shape[0], -1).any(axis=1).sum()), int(preview.sum())
            stops = f"; tracking stopped on slice(s) {[z for z, _ in self.track_stops]}" if self.track_stops else ""
            head = "Cancelled" if self._run_cancelled else "Volume done"
            self.status.setText(
                f"{head}: object on {slices} of {total} slices, {voxels} voxels{stops}. C commits, Shift+C clears."
            )
        self._job_done()

    def _on_job_error(self, message: str) -> None:
        self._run_failed = True
        self.status.setText(f"Failed: {message}")

    def cancel(self) -> None:
        """Stop the running job; a volume keeps the slices that already arrived."""
        if self.running and self.worker is not None:
            self._run_cancelled = True
            self.after_job = None
            self.worker.quit()
            self.status.setText("Cancelled.")

