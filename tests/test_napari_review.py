"""The review widget in a real napari viewer: ranking, navigation, marks, CSV, plots."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")

from qtpy.QtCore import Qt  # noqa: E402

from napari_ruac.review import regions_from_csv  # noqa: E402
from napari_ruac._napari.layer_geometry import camera_of  # noqa: E402
from napari_ruac._napari.result_layers import KIND_KEY, UNCERTAINTY_KIND  # noqa: E402
from napari_ruac._napari.review_widget import (  # noqa: E402
    CORRECTED_COLUMN,
    MARKER_NAME,
    REVIEWED_COLUMN,
    ReviewWidget,
)

SCALE = (4.0, 0.5, 0.5)
MADE_HERE = {KIND_KEY: UNCERTAINTY_KIND}  # what the segment dock puts on its uncertainty layer


def _planted():
    """Masks + uncertainty: a strongly uncertain block inside object 2, a weaker one at object 1's edge."""
    rng = np.random.default_rng(1)
    masks = np.zeros((10, 80, 80), np.int32)
    masks[1:5, 5:30, 5:30] = 1
    masks[4:9, 40:75, 40:75] = 2
    uncertainty = rng.uniform(0.0, 0.3, masks.shape).astype(np.float32)
    uncertainty[2:4, 25:35, 25:35] = 0.6  # 200 voxels: score 120
    uncertainty[5:8, 50:62, 55:70] = 0.95  # 540 voxels: score 513 → first
    return masks, uncertainty


@pytest.fixture
def review_viewer(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    masks, uncertainty = _planted()
    viewer.add_image(np.zeros(masks.shape, np.uint8), name="cells", scale=SCALE)
    viewer.add_labels(masks, name="cells masks", scale=SCALE)
    viewer.add_image(uncertainty, name="cells uncertainty", scale=SCALE, colormap="magma", metadata=dict(MADE_HERE))
    return viewer


@pytest.mark.viewer
def test_planted_region_ranked_first_and_jumped_to(review_viewer, qtbot):
    viewer = review_viewer
    widget = ReviewWidget(viewer)
    assert widget.mask_combo.currentText() == "cells masks"
    assert widget.uncertainty_combo.currentText() == "cells uncertainty"
    widget.set_threshold(0.5)
    regions = widget.find_regions()
    assert len(regions) == 2 and widget.table.rowCount() == 2
    first = regions[0]
    assert first.bbox == ((5, 8), (50, 62), (55, 70)) and first.label == 2
    assert first.volume == pytest.approx(540 * 4.0 * 0.25)
    assert widget.table.item(0, 1).text() == str(first.slice) and widget.table.item(0, 2).text() == "540"

    viewer.dims.set_current_step(0, 0)
    before_zoom = camera_of(viewer).zoom
    widget.select_row(0)  # what a click on the first row does
    assert viewer.dims.current_step[0] == first.slice
    centre_world = np.array(first.centroid[1:]) * np.array(SCALE[1:])
    np.testing.assert_allclose(camera_of(viewer).center[-2:], centre_world, atol=1e-6)
    assert camera_of(viewer).zoom > before_zoom
    marker = viewer.layers[MARKER_NAME]
    np.testing.assert_allclose(marker.scale, SCALE)
    (outline,) = marker.data
    assert set(outline[:, 0]) == {first.slice}
    np.testing.assert_allclose(outline[:, 1:].min(axis=0), [49.5, 54.5])
    np.testing.assert_allclose(outline[:, 1:].max(axis=0), [61.5, 69.5])
    assert viewer.layers["cells masks"].selected_label == 2

    widget.select_row(1)
    assert viewer.dims.current_step[0] == regions[1].slice
    assert viewer.layers["cells masks"].selected_label == 1


@pytest.mark.viewer
def test_marks_survive_threshold_changes_and_export(review_viewer, qtbot, tmp_path):
    widget = ReviewWidget(review_viewer)
    widget.set_threshold(0.5)
    widget.find_regions()
    widget.table.item(0, CORRECTED_COLUMN).setCheckState(Qt.CheckState.Checked)  # a click on the checkbox
    widget.table.item(1, REVIEWED_COLUMN).setCheckState(Qt.CheckState.Checked)
    assert [r.status for r in widget.regions] == ["corrected", "reviewed"]
    assert widget.table.item(0, REVIEWED_COLUMN).checkState() == Qt.CheckState.Checked  # corrected ⇒ reviewed

    widget.set_threshold(0.55)
    regions = widget.find_regions()
    assert [r.status for r in regions] == ["corrected", "reviewed"]  # same places, marks kept
    widget.set_threshold(0.9)
    regions = widget.find_regions()
    assert len(regions) == 1 and regions[0].status == "corrected"

    path = widget.export_csv(tmp_path / "review.csv")
    back, settings = regions_from_csv(path)
    assert [(r.rank, r.status, r.size) for r in back] == [(1, "corrected", 540)]
    assert float(settings["threshold"]) == pytest.approx(0.9)
    assert settings["mask_layer"] == "cells masks" and settings["uncertainty_layer"] == "cells uncertainty"


@pytest.mark.viewer
def test_coverage_uses_ground_truth_when_given(review_viewer, qtbot):
    viewer = review_viewer
    masks, _ = _planted()
    truth = masks.copy()
    truth[2:4, 25:35, 25:35] = 1  # object 1 really extends there: the mask misses it, all inside region 2
    truth[6:9, 5:20, 50:75] = 3  # an object nobody segmented: no error of this segmentation
    viewer.add_labels(truth, name="cells ground truth", scale=SCALE)
    widget = ReviewWidget(viewer)
    widget.select_layers("cells masks", "cells uncertainty", "cells ground truth")
    widget.set_threshold(0.5)
    widget.find_regions()
    k, covered = widget.coverage
    assert k.tolist() == [0, 1, 2] and covered.tolist() == pytest.approx([0.0, 0.0, 1.0])
    assert "substantive error" in widget.plots.coverage_ax.get_ylabel()  # beyond 2 px of the true edge
    (line,) = widget.plots.coverage_ax.get_lines()
    assert line.get_ydata().tolist() == pytest.approx([0.0, 0.0, 1.0])

    widget.select_layers("cells masks", "cells uncertainty", None)
    widget.find_regions()
    k, covered = widget.coverage
    assert covered[1] > covered[2] - covered[1] > 0  # estimated error: the first region holds more
    assert "estimated error" in widget.plots.coverage_ax.get_ylabel()
    assert widget.plots.histogram_ax.patches  # histogram drawn


@pytest.mark.viewer
def test_2d_review(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    masks = np.zeros((60, 60), np.int32)
    masks[10:40, 10:40] = 1
    uncertainty = np.zeros((60, 60), np.float32)
    uncertainty[35:45, 35:45] = 0.8
    viewer.add_labels(masks, name="m masks")
    viewer.add_image(uncertainty, name="m uncertainty", metadata=dict(MADE_HERE))
    widget = ReviewWidget(viewer)
    (region,) = widget.find_regions()
    assert region.slice is None and region.size == 100 and region.label == 1
    widget.select_row(0)
    np.testing.assert_allclose(camera_of(viewer).center[-2:], region.centroid, atol=1e-6)
    assert viewer.layers[MARKER_NAME].ndim == 2


@pytest.mark.viewer
def test_uncertainty_menu_refuses_the_image_and_follows_new_layers(make_napari_viewer_proxy, qtbot):
    """Opened before segmenting: the raw image must not become the uncertainty (it gave 'mean u' 130)."""
    viewer = make_napari_viewer_proxy()
    masks, uncertainty = _planted()
    raw = (uncertainty * 480).astype(np.float32)  # intensities, far outside [0, 1]
    viewer.add_image(raw, name="cells", scale=SCALE)
    viewer.add_labels(masks, name="cells labels", scale=SCALE)
    widget = ReviewWidget(viewer)
    assert widget.uncertainty_combo.count() == 0  # the raw image is not offered
    assert widget.find_regions() == [] and widget.table.rowCount() == 0
    assert "segment first" in widget.summary.text()

    viewer.add_labels(masks, name="cells masks", scale=SCALE)
    viewer.add_image(uncertainty, name="cells uncertainty", scale=SCALE, metadata=dict(MADE_HERE))
    assert widget.mask_combo.currentText() == "cells masks"  # the new result layers become the choice
    assert widget.uncertainty_combo.currentText() == "cells uncertainty"
    assert [widget.uncertainty_combo.itemText(i) for i in range(widget.uncertainty_combo.count())] == ["cells uncertainty"]
    assert len(widget.find_regions()) == 2

    viewer.layers["cells uncertainty"].data = raw  # a plugin layer whose values left [0, 1]
    widget.table.setRowCount(0)
    before = list(widget.regions)
    assert widget.find_regions() == [] and widget.regions == before  # refused, nothing recomputed from it


@pytest.mark.viewer
def test_stale_table_cleared_when_its_layers_go(review_viewer, qtbot):
    widget = ReviewWidget(review_viewer)
    widget.set_threshold(0.5)
    widget.find_regions()
    widget.select_row(0)
    assert widget.table.rowCount() == 2 and MARKER_NAME in review_viewer.layers
    review_viewer.layers.remove("cells") # an unrelated layer: the list stays
    assert widget.table.rowCount() == 2
    review_viewer.layers.remove("cells uncertainty")
    assert widget.table.rowCount() == 0 and widget.regions == [] and widget.coverage is None
    assert MARKER_NAME not in review_viewer.layers
    assert "removed" in widget.summary.text()
