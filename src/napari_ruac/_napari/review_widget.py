"""The "Review uncertain regions" dock widget: a ranked list of uncertain regions to walk through.

Regions and their ranking come from ``napari_ruac.review`` (score = mean uncertainty × physical
size). Clicking a row moves the viewer to the region's most covered slice, centres and zooms
on it, outlines it in a marker layer and selects its label in the mask layer.
The **Objects** mode (object_review.py) lists every object instead, most likely wrong first (review score).
"""

from __future__ import annotations

import numpy as np
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QEvent, Qt, QTimer
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .. import review
from .layer_geometry import geometry_of, jump_to
from .object_review import ObjectReview
from .plots import ReviewPlots
from .result_layers import is_uncertainty_layer

NO_GROUND_TRUTH = "(none: estimate from uncertainty)"
NO_UNCERTAINTY = (
    "The Uncertainty menu lists maps napari-ruac made: segment first (Segment with uncertainty), "
    "or open a *_uncertainty file written by napari-ruac."
)
MARKER_NAME = "review: current region"
MODES = ("Regions", "Objects")  # uncertain regions of a mask, or every object ranked by its score
COLUMNS = ("#", "slice", "size", "score", "mean u", "label", "seen", "fixed")
COLUMN_TIPS = (
    "rank (1 = review first)", "z of the slice holding most of the region", "voxels",
    "mean uncertainty × physical volume (expected wrong volume)", "mean uncertainty in the region",
    "mask label the region overlaps most (0 = background)", "marked as reviewed", "marked as corrected",
)  # fmt: skip
REVIEWED_COLUMN, CORRECTED_COLUMN = 6, 7


class ReviewWidget(QWidget):
    """Rank uncertain regions of a mask, jump to them, mark them, export the list."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.regions: list[review.Region] = []
        self.components: np.ndarray | None = None
        self.coverage: tuple[np.ndarray, np.ndarray] | None = None
        self._sources: tuple = ()  # the layers the table was computed from
        self._build()
        self.refresh_layers()
        events = self.viewer.layers.events
        for event in (events.inserted, events.removed, events.moved):
            event.connect(self.refresh_layers)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.objects.unbind_keys()
        super().closeEvent(event)

    def event(self, event) -> bool:
        """napari removes a dock by re-parenting it to None (no close event): unbind the Objects keys then."""
        if event.type() == QEvent.Type.ParentChange and self.parent() is None and hasattr(self, "objects"):
            self.objects.unbind_keys()
        return super().event(event)

    # ---- form ------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        self.mask_combo, self.uncertainty_combo, self.truth_combo = QComboBox(), QComboBox(), QComboBox()
        form.addRow("Mask", self.mask_combo)
        form.addRow("Uncertainty", self.uncertainty_combo)
        form.addRow("Ground truth", self.truth_combo)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setValue(50)
        self.threshold_label = QLabel("0.50")
        row = QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(self.threshold_label)
        form.addRow("Threshold", row)
        self.min_size = QSpinBox()
        self.min_size.setRange(1, 10_000_000)
        self.min_size.setValue(10)
        self.min_size.setSuffix(" voxels")
        form.addRow("Min size", self.min_size)
        self.find_button = QPushButton("Find regions")
        self.export_button = QPushButton("Export CSV…")
        row = QHBoxLayout()
        row.addWidget(self.find_button)
        row.addWidget(self.export_button)
        form.addRow(row)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for column, tip in enumerate(COLUMN_TIPS):
            self.table.horizontalHeaderItem(column).setToolTip(tip)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(160)
        self.summary = QLabel("Pick a mask and its uncertainty, then Find regions.")
        self.summary.setWordWrap(True)
        self.plots = ReviewPlots()

        regions_page = QWidget()
        layout = QVBoxLayout(regions_page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.plots)
        self.objects = ObjectReview(self.viewer)  # the Objects mode (object_review.py)
        self.pages = QStackedWidget()
        self.pages.addWidget(regions_page)
        self.pages.addWidget(self.objects)
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.mode.currentIndexChanged.connect(self.pages.setCurrentIndex)
        outer = QVBoxLayout(self)
        modes = QFormLayout()
        modes.addRow("Review", self.mode)
        outer.addLayout(modes)
        outer.addWidget(self.pages, 1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(300)
        self._debounce.timeout.connect(self.find_regions)
        self.slider.valueChanged.connect(self._on_threshold_moved)
        self.min_size.valueChanged.connect(lambda _: self._debounce.start())
        self.find_button.clicked.connect(lambda: self.find_regions())
        self.export_button.clicked.connect(self._on_export_clicked)
        self.table.itemSelectionChanged.connect(self._on_row_selected)
        self.table.itemChanged.connect(self._on_item_changed)

    # ---- layers ------------------------------------------------------------------------
    def _layers(self, kind: str) -> list:
        return [layer for layer in self.viewer.layers if type(layer).__name__ == kind and layer.name != MARKER_NAME]

    def refresh_layers(self, event=None) -> None:
        """Refill the layer menus (uncertainty: only maps this plugin made); a new '<image> masks' or
        uncertainty layer becomes the choice; a table whose layers were removed is cleared."""
        labels = [layer.name for layer in self._layers("Labels")]
        uncertainties = [layer.name for layer in self._layers("Image") if is_uncertainty_layer(layer)]
        added = getattr(event, "value", None) if getattr(event, "type", None) == "inserted" else None
        _refill(self.mask_combo, labels, prefer=" masks", added=added)
        _refill(self.uncertainty_combo, uncertainties, prefer=" uncertainty", added=added)
        _refill(self.truth_combo, [NO_GROUND_TRUTH, *labels], prefer=NO_GROUND_TRUTH)
        if hasattr(self, "objects"):
            self.objects.refresh_layers(event)
        if self._sources and any(layer not in self.viewer.layers for layer in self._sources):
            self.clear_regions("The layers of the list were removed: pick a mask and its uncertainty, then Find regions.")
        elif not uncertainties and not self.regions:
            self.summary.setText(NO_UNCERTAINTY)

    def clear_regions(self, message: str) -> None:
        """Empty the table, the plots and the marker (the regions no longer match any layer)."""
        self.regions, self.components, self.coverage, self._sources = [], None, None, ()
        self.table.setRowCount(0)
        self.plots.clear_plots()
        marker = self._layer(MARKER_NAME)
        if marker is not None:
            self.viewer.layers.remove(marker)
        self.summary.setText(message)

    def _layer(self, name: str):
        for layer in self.viewer.layers:
            if layer.name == name:
                return layer
        return None

    def select_layers(self, mask: str, uncertainty: str, ground_truth: str | None = None) -> None:
        """Choose the layers by name (what the menus do)."""
        self.mask_combo.setCurrentText(mask)
        self.uncertainty_combo.setCurrentText(uncertainty)
        self.truth_combo.setCurrentText(ground_truth or NO_GROUND_TRUTH)

    # ---- threshold ---------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return self.slider.value() / 100.0

    def set_threshold(self, value: float) -> None:
        self.slider.setValue(int(round(value * 100)))

    def _on_threshold_moved(self, value: int) -> None:
        self.threshold_label.setText(f"{value / 100:.2f}")
        self._debounce.start()

    # ---- regions -----------------------------------------------------------------------
    def find_regions(self) -> list[review.Region]:
        """Rank the regions for the chosen layers and settings; review marks survive by location."""
        self._debounce.stop()
        mask_layer = self._layer(self.mask_combo.currentText())
        uncertainty_layer = self._layer(self.uncertainty_combo.currentText())
        if mask_layer is None or uncertainty_layer is None:
            show_info("pick a mask (Labels) layer and an uncertainty layer first. " + NO_UNCERTAINTY)
            return []
        try:
            mask = np.asarray(mask_layer.data)
            uncertainty = np.asarray(uncertainty_layer.data, dtype=np.float32)
            check_uncertainty(uncertainty_layer, uncertainty)
            components = review.label_uncertain_components(uncertainty, self.threshold, self.min_size.value())
            regions = review.find_uncertain_regions(
                mask, uncertainty, self.threshold, self.min_size.value(),
                spacing=tuple(uncertainty_layer.scale), components=components,
            )  # fmt: skip
            error, error_kind = self._error_map(mask, uncertainty)
            coverage = review.region_error_coverage(regions, components, error)
        except Exception as exc:
            show_error(str(exc))
            return []
        _carry_marks(self.regions, self.components, regions, components)
        self.regions, self.components, self.coverage = regions, components, coverage
        self._sources = (mask_layer, uncertainty_layer)
        self._fill_table()
        self.plots.update_plots(uncertainty, self.threshold, *coverage, error_kind)
        held = coverage[1][min(5, len(regions))]
        top = f"; the top 5 hold {held:.0%} of the {error_kind}" if regions and np.isfinite(held) else ""
        top = f"; there is no {error_kind} to find" if not np.isfinite(held) else top
        plural = "region" if len(regions) == 1 else "regions"
        self.summary.setText(f"{len(regions)} {plural} with uncertainty ≥ {self.threshold:.2f}{top}.")
        return regions

    def _error_map(self, mask: np.ndarray, uncertainty: np.ndarray) -> tuple[np.ndarray, str]:
        truth_name = self.truth_combo.currentText()
        truth = None if truth_name == NO_GROUND_TRUTH else self._layer(truth_name)
        if truth is not None:
            segmented = review.segmented_truth(mask, np.asarray(truth.data))  # unsegmented objects are no error
            return review.segmentation_error(mask, segmented, review.DEFAULT_BAND), "substantive error"
        return review.estimated_error(uncertainty), "estimated error"

    def _fill_table(self) -> None:
        table = self.table
        table.blockSignals(True)
        table.setRowCount(len(self.regions))
        for row, region in enumerate(self.regions):
            values = (
                region.rank, "" if region.slice is None else region.slice, region.size,
                f"{region.score:.3g}", f"{region.mean_uncertainty:.2f}", region.label,
            )  # fmt: skip
            for column, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                item.setTextAlignment(int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter))
                table.setItem(row, column, item)
            for column, status in ((REVIEWED_COLUMN, "reviewed"), (CORRECTED_COLUMN, "corrected")):
                item = QTableWidgetItem("")
                item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                checked = region.status == status or (status == "reviewed" and region.status == "corrected")
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                table.setItem(row, column, item)
        table.blockSignals(False)
        table.resizeColumnsToContents()

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        row, column = item.row(), item.column()
        if column not in (REVIEWED_COLUMN, CORRECTED_COLUMN) or row >= len(self.regions):
            return
        reviewed = self.table.item(row, REVIEWED_COLUMN).checkState() == Qt.CheckState.Checked
        corrected = self.table.item(row, CORRECTED_COLUMN).checkState() == Qt.CheckState.Checked
        self.mark(row, "corrected" if corrected else "reviewed" if reviewed else "unreviewed")

    def mark(self, row: int, status: str) -> None:
        """Set a region's status (``unreviewed``, ``reviewed``, ``corrected``) and its checkboxes."""
        review.set_status(self.regions[row], status)
        self.table.blockSignals(True)
        states = {"reviewed": status in ("reviewed", "corrected"), "corrected": status == "corrected"}
        for column, key in ((REVIEWED_COLUMN, "reviewed"), (CORRECTED_COLUMN, "corrected")):
            self.table.item(row, column).setCheckState(Qt.CheckState.Checked if states[key] else Qt.CheckState.Unchecked)
        self.table.blockSignals(False)

    # ---- navigation --------------------------------------------------------------------
    def _on_row_selected(self) -> None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        if len(rows) == 1:
            self.go_to(rows.pop())

    def select_row(self, row: int) -> None:
        """Select a row of the list (as a click does), which moves the viewer to its region."""
        self.table.selectRow(row)

    def go_to(self, row: int) -> None:
        """Show region ``row``: its best slice, centred and zoomed, outlined, its label selected."""
        region = self.regions[row]
        layer = self._layer(self.uncertainty_combo.currentText())
        if layer is None:
            return
        centre = list(region.centroid)
        if region.slice is not None:
            centre[0] = region.slice
        size = max((b - a) * abs(s) for (a, b), s in zip(region.bbox[-2:], layer.scale[-2:]))
        jump_to(self.viewer, layer, centre, size, has_slice=region.slice is not None)
        self._outline(region, layer)
        mask_layer = self._layer(self.mask_combo.currentText())
        if mask_layer is not None and region.label > 0:
            mask_layer.selected_label = region.label
        if mask_layer is not None:
            self.viewer.layers.selection.active = mask_layer

    def _outline(self, region: review.Region, layer) -> None:
        (y0, y1), (x0, x1) = region.bbox[-2:]
        corners = np.array([[y0, x0], [y0, x1], [y1, x1], [y1, x0]], dtype=float) - 0.5
        if region.slice is not None:
            corners = np.column_stack([np.full(4, region.slice, dtype=float), corners])
        marker = self._layer(MARKER_NAME)
        if marker is None or marker.ndim != corners.shape[1]:
            if marker is not None:
                self.viewer.layers.remove(marker)
            marker = self.viewer.add_shapes(
                ndim=corners.shape[1], name=MARKER_NAME, edge_color="#4fc3f7", face_color="transparent",
                edge_width=2, **geometry_of(layer),
            )  # fmt: skip
        if len(marker.data):
            marker.selected_data = set(range(len(marker.data)))
            marker.remove_selected()
        marker.add_rectangles([corners])

    # ---- export ------------------------------------------------------------------------
    def _on_export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export review", "review.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path):
        """Write the ranked list, the marks and the settings (threshold, min size, layers) to ``path``."""
        extra = {
            "mask_layer": self.mask_combo.currentText(),
            "uncertainty_layer": self.uncertainty_combo.currentText(),
            "ground_truth_layer": "" if self.truth_combo.currentText() == NO_GROUND_TRUTH else self.truth_combo.currentText(),
        }
        written = review.regions_to_csv(self.regions, path, self.threshold, self.min_size.value(), extra=extra)
        show_info(f"review list written to {written}")
        return written


def check_uncertainty(layer, values: np.ndarray) -> None:
    """Refuse a layer that is not an uncertainty map: not made by this plugin, or values outside [0, 1]."""
    if not is_uncertainty_layer(layer):
        raise ValueError(f"'{layer.name}' is not an uncertainty map made by napari-ruac. {NO_UNCERTAINTY}")
    finite = values[np.isfinite(values)]
    if finite.size != values.size or (finite.size and (finite.min() < 0.0 or finite.max() > 1.0)):
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (float("nan"),) * 2
        raise ValueError(
            f"'{layer.name}' holds values {low:.3g}…{high:.3g} (or NaN); an uncertainty lies in [0, 1]. "
            "Segment again to rebuild it."
        )


def _refill(combo: QComboBox, names: list[str], prefer: str, added=None) -> None:
    current = combo.currentText()
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(names)
    added_name = getattr(added, "name", None)
    if added_name in names and added_name.endswith(prefer):
        combo.setCurrentText(added_name)
    elif current in names:
        combo.setCurrentText(current)
    else:
        preferred = [name for name in names if name.endswith(prefer)]
        if preferred:
            combo.setCurrentText(preferred[-1])
    combo.blockSignals(False)


def _carry_marks(old_regions, old_components, new_regions, new_components) -> None:
    """A new region inherits the mark of an old one whose centroid voxel it contains."""
    if not old_regions or old_components is None or old_components.shape != new_components.shape:
        return
    by_component = {region.component: region for region in new_regions}
    for old in old_regions:
        if old.status == "unreviewed":
            continue
        voxel = tuple(int(round(c)) for c in old.centroid)
        new = by_component.get(int(new_components[voxel]))
        if new is not None and new.status == "unreviewed":
            new.status = old.status
