"""The segment widget's "Segment all" panel: every object of the image, the current slice or the
volume (``napari_ruac.everything``), with progress and Cancel. A cancelled run still gives a
consistent objects layer: the objects (or slices) finished so far, without overlaps.

Results: a Labels layer '<image> objects' whose metadata holds the per-object table (what the
review's Objects mode ranks) and the '<image> uncertainty' map (max over the objects)."""

from __future__ import annotations

import numpy as np
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QPushButton, QSpinBox, QWidget

from ..everything import make_run
from ..everything.files import object_table
from .layer_geometry import geometry_metadata, geometry_of, is_volume, layer_array, leading_index, spatial_shape
from .result_layers import _find, note_method, uncertainty_layer
from .workers import JobFailed, error_message, start_job

SCOPES = ("image / current slice", "volume (every slice, linked through z)")
OBJECTS_KEY = "ruac_objects"  # Labels metadata: the object table (list of dicts, ranked)


def objects_name(image_name: str) -> str:
    return f"{image_name} objects"


def everything_job(run):
    """Iterate the run off the GUI thread (each Progress goes to the GUI); quitting the worker stops it."""
    try:
        yield from run
    except Exception as exc:
        raise JobFailed(str(exc)) from exc


class EverythingPanel(QWidget):
    """Scope, grid density and the Segment all button; uses the segment widget's model, method, intensity."""

    def __init__(self, segment_widget) -> None:
        super().__init__()
        self.owner = segment_widget
        self.run = None
        self.layer = None
        self.index: tuple = ()
        self.last_result = None
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.scope = QComboBox()
        self.scope.addItems(SCOPES)
        self.grid = QSpinBox()
        self.grid.setRange(0, 64)
        self.grid.setValue(0)
        self.grid.setSpecialValueText("no grid")
        self.grid.setToolTip("objects come from image proposals (one box each); a grid of N×N clicks per tile also "
                             "fills in where they found none (more decoding). 0: no grid")
        self.button = QPushButton("Segment all")
        self.button.setToolTip("segment every object; the review's Objects mode then lists them, most likely wrong first")
        row = QHBoxLayout()
        row.addWidget(self.scope, 1)
        row.addWidget(self.grid)
        row.addWidget(self.button)
        form.addRow("All objects", row)
        self.button.clicked.connect(lambda _=False: self.segment_all())

    def segment_all(self) -> None:
        owner = self.owner
        if owner._busy():
            return
        try:
            layer = owner._require()
            data = np.asarray(layer_array(layer))
            volume_scope = self.scope.currentIndex() == 1 and is_volume(layer)
            index = () if volume_scope else leading_index(owner.viewer, layer)
            if self.scope.currentIndex() == 1 and not is_volume(layer):
                show_info("not a Z×Y×X volume: segmenting all objects of the current image instead.")
            value_range = owner.intensity().value_range(data)
            image = data if volume_scope else data[index]
            grid = {"grid": True, "points_per_side": self.grid.value()} if self.grid.value() else {}
            kwargs = dict(method=owner.method, cache=owner.cache, intensity=owner.intensity(), **grid)
            if volume_scope:
                run = make_run(owner.model, image, volume=True, **kwargs)  # every slice, linked through z
            else:
                run = make_run(owner.model, image, value_range=value_range, **kwargs)
        except Exception as exc:
            show_error(error_message(exc))
            return
        self.run, self.layer, self.index = run, layer, index
        owner._run_cancelled = False
        owner._set_running(True)
        owner.status.setText("Segmenting all objects…")
        owner.worker = start_job(everything_job, run, desc="Segment all", on_yield=self._on_progress,
                                 on_done=self._finish)

    def _on_progress(self, event) -> None:
        self.owner.status.setText(f"Segment all: {event.stage} {event.done}/{event.total}, {event.objects} objects so far")

    def _finish(self) -> None:
        """After the run ends, is cancelled or fails: show what is finished as one consistent layer."""
        run, layer = self.run, self.layer
        self.run = None
        try:
            if run is not None and layer is not None and layer in self.owner.viewer.layers:
                self.last_result = self.show_result(layer, self.index, run.result())
        except Exception as exc:
            show_error(error_message(exc))
        self.owner._job_done()

    def show_result(self, layer, index: tuple, result):
        """Write ``result`` into the '<image> objects' and uncertainty layers (slice ``index`` or all)."""
        viewer = self.owner.viewer
        shape = spatial_shape(layer)
        metadata = {**geometry_metadata(layer), "source_layer": layer.name}
        labels_layer = _find(viewer, objects_name(layer.name), "Labels")
        if labels_layer is None or labels_layer.data.shape != shape:
            labels_layer = viewer.add_labels(np.zeros(shape, np.int32), name=objects_name(layer.name), opacity=0.5,
                                             metadata=dict(metadata), **geometry_of(layer))
        unc_layer = uncertainty_layer(viewer, layer, shape)
        note_method(unc_layer, self.owner.method)
        labels_layer.data[index] = result.labels
        unc_layer.data[index] = result.uncertainty
        table = object_table(result)
        if index:  # one slice of a stack: the table's coordinates get the leading index
            for row in table:
                row["slice"] = list(index)
        labels_layer.metadata[OBJECTS_KEY] = table
        labels_layer.metadata["ruac_objects_complete"] = result.complete
        labels_layer.refresh()
        unc_layer.refresh()
        state = "" if result.complete else " (cancelled: the objects finished so far)"
        found = f"{result.count} objects" if result.count else "no objects found"
        self.owner.status.setText(f"Segment all: {found}{state}. Review them in the review dock's Objects mode.")
        return result

