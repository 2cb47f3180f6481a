"""The review widget's **Objects** mode: every object of a labels layer ranked by its uncertainty
score (most likely wrong first), jump-to (centre + zoom, on the object's largest slice), accept /
fix / delete per object, J/K for next/previous, Shift+A / Shift+F / Shift+X for accept / fix /
delete, and a status column saved to and reloaded from ``<stem>_objects.csv`` beside the labels.

Rows come from "Segment all" (the labels layer's metadata) or are scored here from the labels and
the uncertainty map (objects painted by hand). Fix hands the object to the segment dock's guided
correction when one is open with a model (clicks refine it, C writes it back in place), else selects its
label in paint mode; its row (area, score) is recomputed from the edited labels when you move on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..everything.files import object_table, objects_csv_path, read_objects_csv, rows_to_table, write_objects_csv
from ..everything.result import result_from_labels
from .everything_panel import OBJECTS_KEY
from .keys import bind_keys, unbind_keys
from .layer_geometry import jump_to
from .result_layers import is_uncertainty_layer

COLUMNS = ("#", "id", "score", "area", "pred IoU", "slice", "status")
KEYS = {"J": "next", "K": "previous", "Shift-A": "accept", "Shift-F": "fix", "Shift-X": "delete"}
PREFIX = "ruac_objects_"


class ObjectReview(QWidget):
    """Objects of a labels layer, most likely wrong first (review score); see the module doc."""

    def __init__(self, viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.rows: list[dict] = []
        self.current = -1
        form = QFormLayout()
        self.labels_combo, self.uncertainty_combo = QComboBox(), QComboBox()
        form.addRow("Objects", self.labels_combo)
        form.addRow("Uncertainty", self.uncertainty_combo)
        self.load_button = QPushButton("List objects")
        self.save_button, self.open_button = QPushButton("Save CSV"), QPushButton("Load CSV…")
        buttons = QGridLayout()
        self.accept_button, self.fix_button = QPushButton("Accept [⇧A]"), QPushButton("Fix [⇧F]")
        self.delete_button = QPushButton("Delete [⇧X]")
        self.previous_button, self.next_button = QPushButton("Previous [K]"), QPushButton("Next [J]")
        for i, button in enumerate((self.load_button, self.save_button, self.open_button, self.previous_button,
                                    self.next_button, self.accept_button, self.fix_button, self.delete_button)):
            buttons.addWidget(button, i // 3, i % 3)
        form.addRow(buttons)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)  # the status column: "accepted" is never cut
        self.table.setMinimumHeight(160)
        self.summary = QLabel("Segment all (segment dock), then List objects: the most uncertain come first.")
        self.summary.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        for button, action in ((self.load_button, self.list_objects), (self.save_button, self.save),
                               (self.open_button, self._on_open), (self.previous_button, self.previous),
                               (self.next_button, self.next), (self.accept_button, self.accept),
                               (self.fix_button, self.fix), (self.delete_button, self.delete)):
            button.clicked.connect(lambda _=False, act=action: act())
        self.table.itemSelectionChanged.connect(self._on_selected)
        self.refresh_layers()
        self._bind_keys()

    # ---- layers ------------------------------------------------------------------------
    def refresh_layers(self, event=None) -> None:
        labels = [layer.name for layer in self.viewer.layers if type(layer).__name__ == "Labels"]
        uncertainty = [layer.name for layer in self.viewer.layers if is_uncertainty_layer(layer)]
        for combo, names, prefer in ((self.labels_combo, labels, " objects"), (self.uncertainty_combo, uncertainty, "")):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            chosen = current if current in names else next((n for n in names if n.endswith(prefer)), None)
            if chosen:
                combo.setCurrentText(chosen)
            combo.blockSignals(False)

    def _layer(self, name: str):
        return next((layer for layer in self.viewer.layers if layer.name == name), None)

    @property
    def labels_layer(self):
        return self._layer(self.labels_combo.currentText())

    # ---- table -------------------------------------------------------------------------
    def list_objects(self) -> list[dict]:
        """Rows of the chosen labels layer: its Segment-all table, else scored here; ranked by score."""
        layer = self.labels_layer
        if layer is None:
            show_info("no labels layer: Segment all first (segment dock), or open a labels file.")
            return []
        table = layer.metadata.get(OBJECTS_KEY)
        present = set(np.unique(np.asarray(layer.data))) - {0}
        if not table or {int(r["id"]) for r in table} != present:
            unc_layer = self._layer(self.uncertainty_combo.currentText())
            if unc_layer is None:
                show_error("pick the uncertainty layer of these objects (its map scores them).")
                return []
            statuses = {int(r["id"]): r.get("status", "") for r in table or []}
            table = object_table(result_from_labels(np.asarray(layer.data), np.asarray(unc_layer.data)),
                                 statuses=statuses)
            layer.metadata[OBJECTS_KEY] = table
        self.rows = sorted((dict(r) for r in table), key=lambda r: -float(r.get("review_score", r["uncertainty_score"])))
        for rank, row in enumerate(self.rows, start=1):
            row["rank"] = rank
        self._fill()
        self.summary.setText(f"{len(self.rows)} objects, most likely wrong first." if self.rows else "No objects.")
        return self.rows

    def _fill(self) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.rows))
        for i, row in enumerate(self.rows):
            pred = row.get("predicted_iou")
            values = (row["rank"], row["id"], f"{float(row.get('review_score', row['uncertainty_score'])):.3f}", row["area"],
                      "" if pred in (None, "") or pred != pred else f"{float(pred):.2f}", self._slice_of(row) or "",
                      row.get("status", ""))
            for column, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                item.setTextAlignment(int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter))
                self.table.setItem(i, column, item)
        self.table.blockSignals(False)
        self.table.resizeColumnsToContents()

    def _slice_of(self, row: dict) -> int | None:
        """The z of the object's largest slice (3D), else None."""
        layer = self.labels_layer
        if layer is None or np.asarray(layer.data).ndim < 3 or "z0" not in row:
            return None
        z0, z1 = int(row["z0"]), int(row["z1"])
        block = np.asarray(layer.data[z0:z1]) == int(row["id"])
        counts = block.reshape(block.shape[0], -1).sum(1)
        return z0 + int(np.argmax(counts)) if counts.any() else None

    # ---- navigation --------------------------------------------------------------------
    def _on_selected(self) -> None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        if len(rows) == 1:
            self.go_to(rows.pop())

    def go_to(self, index: int) -> None:
        """Centre and zoom on object ``index`` of the table (its largest slice in 3D), select its label."""
        if not 0 <= index < len(self.rows):
            return
        if self.current >= 0 and self.current != index:
            self._rescore(self.current)
        self.current = index
        row = self.rows[index]
        layer = self.labels_layer
        if layer is None:
            return
        axes = ("z", "y", "x") if "z0" in row else ("y", "x")
        centre = [float(row[f"centroid_{a}"]) for a in axes]
        z = self._slice_of(row)
        if z is not None:
            centre[0] = z
        size = max((int(row[f"{a}1"]) - int(row[f"{a}0"])) * abs(s) for a, s in zip(axes[-2:], layer.scale[-2:]))
        jump_to(self.viewer, layer, centre, size, has_slice=z is not None)
        layer.selected_label = int(row["id"])
        if self.table.currentRow() != index:
            self.table.blockSignals(True)
            self.table.selectRow(index)
            self.table.blockSignals(False)

    def next(self) -> None:
        self.go_to(min(self.current + 1, len(self.rows) - 1))

    def previous(self) -> None:
        self.go_to(max(self.current - 1, 0))

    # ---- marks -------------------------------------------------------------------------
    def _mark(self, status: str) -> int | None:
        if not 0 <= self.current < len(self.rows):
            show_info("pick an object in the list first (List objects, then J / a row).")
            return None
        self.rows[self.current]["status"] = status
        self.table.item(self.current, len(COLUMNS) - 1).setText(status)
        self.table.resizeColumnToContents(len(COLUMNS) - 1)  # "accepted" was cut to "acce…"
        self._store()
        return int(self.rows[self.current]["id"])

    def accept(self) -> None:
        self._mark("accepted")

    def fix(self) -> None:
        """Mark for fixing (its row updates when you move on). With a segment dock that has a model and an
        image of the labels' shape, the object is refined there with clicks (its mask the mask prompt; N /
        Enter or clicks + S correct it, C writes it back in place); otherwise its label is selected in
        paint mode."""
        object_id = self._mark("fixed")
        layer = self.labels_layer
        if object_id is None or layer is None:
            return
        if self._refine_in_segment_dock(layer, object_id):
            return
        layer.selected_label = object_id
        layer.mode = "paint"
        self.viewer.layers.selection.active = layer

    def _refine_in_segment_dock(self, layer, object_id: int) -> bool:
        from .layer_geometry import spatial_shape
        from .segment_widget import segment_widget_of

        segment = segment_widget_of(self.viewer)
        image = None if segment is None else segment.image_layer
        if segment is None or segment.model is None or image is None or segment.running:
            return False
        if np.shape(layer.data) != tuple(spatial_shape(image)):
            return False
        return bool(segment.guided.refine_from_labels(layer, object_id))

    def delete(self) -> None:
        """Remove the object's voxels from the labels layer; its row stays, marked deleted."""
        object_id = self._mark("deleted")
        layer = self.labels_layer
        if object_id is not None and layer is not None:
            layer.data[np.asarray(layer.data) == object_id] = 0
            layer.refresh()
            self.rows[self.current]["area"] = 0
            self.table.item(self.current, 3).setText("0")
            self._store()

    def _rescore(self, index: int) -> None:
        """Area and score of a fixed object from the edited labels."""
        row = self.rows[index]
        layer, unc_layer = self.labels_layer, self._layer(self.uncertainty_combo.currentText())
        if row.get("status") != "fixed" or layer is None or unc_layer is None:
            return
        mask = np.asarray(layer.data) == int(row["id"])
        scored = result_from_labels(mask.astype(np.int32), np.asarray(unc_layer.data)).objects
        if scored:
            fresh = rows_to_table(scored, mask.ndim)[0]
            row.update({k: v for k, v in fresh.items() if k not in ("id", "rank", "status")})
            self.table.item(index, 2).setText(f"{float(row.get('review_score', row['uncertainty_score'])):.3f}")
            self.table.item(index, 3).setText(str(row["area"]))
            self._store()

    def _store(self) -> None:
        layer = self.labels_layer
        if layer is not None:
            layer.metadata[OBJECTS_KEY] = [dict(r) for r in self.rows]

    # ---- files -------------------------------------------------------------------------
    def default_path(self) -> Path | None:
        layer = self.labels_layer
        source = getattr(getattr(layer, "source", None), "path", None) if layer is not None else None
        return objects_csv_path(source) if source else None

    def save(self, path=None) -> Path | None:
        """Write the table with its status column (default: ``<stem>_objects.csv`` beside the labels file)."""
        if self.current >= 0:
            self._rescore(self.current)
        path = path or self.default_path()
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save objects", "objects.csv", "CSV (*.csv)")
            if not path:
                return None
        written = write_objects_csv(path, [{k: v for k, v in r.items() if k != "slice"} for r in self.rows])
        show_info(f"objects written to {written}")
        return written

    def _on_open(self) -> None:
        path = self.default_path()
        if path is None or not path.exists():
            path, _ = QFileDialog.getOpenFileName(self, "Load objects", "", "CSV (*.csv)")
        if path:
            self.load(path)

    def load(self, path) -> list[dict]:
        """Read a saved table: statuses come back for the objects still in the labels layer."""
        try:
            saved = {int(r["id"]): r for r in read_objects_csv(path)}
        except (OSError, ValueError) as exc:
            show_error(str(exc))
            return self.rows
        if not self.rows:
            self.list_objects()
        for row in self.rows:
            if int(row["id"]) in saved:
                row["status"] = saved[int(row["id"])]["status"]
        self._fill()
        self._store()
        return self.rows

    # ---- keys --------------------------------------------------------------------------
    def _bind_keys(self) -> None:
        bind_keys(self.viewer, self, KEYS, PREFIX)

    def unbind_keys(self) -> None:
        unbind_keys([self.viewer], KEYS, PREFIX)
