"""Segment all (segment dock) and the review's Objects mode in a real napari viewer (Xvfb), on the
shipped ruac-micro: objects layer + table, cancel leaves a consistent layer, ranking, jump-to,
accept / fix / delete, keys, status saved to and reloaded from the CSV beside the labels."""

from __future__ import annotations

import numpy as np
import pytest
from fixture_models import blob_scene

pytest.importorskip("napari")

from napari_ruac._napari.layer_geometry import camera_of  # noqa: E402
from napari_ruac._napari.everything_panel import OBJECTS_KEY, objects_name  # noqa: E402
from napari_ruac._napari.result_layers import KIND_KEY, UNCERTAINTY_KIND  # noqa: E402
from napari_ruac._napari.review_widget import ReviewWidget  # noqa: E402
from napari_ruac._napari.segment_widget import SegmentWidget  # noqa: E402
from napari_ruac.everything.files import read_objects_csv  # noqa: E402
from napari_ruac.models import load_model  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
WAIT_MS = 120_000


@pytest.fixture(scope="module")
def micro():
    return load_model("ruac-micro", device="cpu")


def _consistent(layer) -> None:
    ids = set(np.unique(np.asarray(layer.data))) - {0}
    table = layer.metadata[OBJECTS_KEY]
    assert {int(r["id"]) for r in table} == ids
    for row in table:
        assert row["area"] == int((np.asarray(layer.data) == row["id"]).sum())


def _segment_all(viewer, qtbot, micro, image, scope=0):
    widget = SegmentWidget(viewer)
    widget.set_model(micro)
    widget.everything.scope.setCurrentIndex(scope)
    widget.everything.grid.setValue(4)  # the grid fills in where the image proposals found nothing
    widget.everything.segment_all()
    return widget


def test_segment_all_then_review_objects_worst_first(make_napari_viewer_proxy, qtbot, micro, tmp_path):
    viewer = make_napari_viewer_proxy()
    image, truth = blob_scene(seed=3, size=192, count=5)
    viewer.add_image(image, name="blobs")
    widget = _segment_all(viewer, qtbot, micro, image)
    qtbot.waitUntil(lambda: not widget.running, timeout=WAIT_MS)
    layer = viewer.layers[objects_name("blobs")]
    unc = viewer.layers["blobs uncertainty (ruac-hyp)"]
    assert unc.metadata[KIND_KEY] == UNCERTAINTY_KIND and float(np.asarray(unc.data).max()) > 0
    assert 4 <= len(layer.metadata[OBJECTS_KEY]) <= 6
    _consistent(layer)

    review = ReviewWidget(viewer)
    review.mode.setCurrentText("Objects")
    objects = review.objects
    objects.labels_combo.setCurrentText(layer.name)
    rows = objects.list_objects()
    scores = [float(r["review_score"]) for r in rows]
    assert scores == sorted(scores, reverse=True) and objects.table.rowCount() == len(rows)

    # keys: J = next (here the first object)
    viewer.keymap[next(k for k in viewer.keymap if str(k) == "J")](viewer)
    assert objects.current == 0 and layer.selected_label == rows[0]["id"]
    cy, cx = rows[0]["centroid_y"], rows[0]["centroid_x"]
    assert np.allclose(camera_of(viewer).center[-2:], (cy, cx), atol=1.0) and camera_of(viewer).zoom > 1.0
    objects.accept()
    status_item = objects.table.item(0, objects.table.columnCount() - 1)
    assert status_item.text() == "accepted"
    width = objects.table.fontMetrics().horizontalAdvance("accepted")
    assert objects.table.columnWidth(objects.table.columnCount() - 1) >= width  # the status is not cut
    objects.next()
    # Fix with a segment dock open: the object is refined there (its mask the mask prompt) ...
    fixed_id = int(rows[1]["id"])
    before = np.asarray(layer.data).copy()
    objects.fix()
    qtbot.waitUntil(lambda: not widget.running, timeout=WAIT_MS)
    image_layer = viewer.layers["blobs"]
    assert widget.guided.fix_target(image_layer) == (layer, fixed_id)
    preview = viewer.layers["blobs preview"]
    assert (np.asarray(preview.data) > 0)[before == fixed_id].mean() > 0.5  # the refined object is that object
    # ... and C writes the refined mask back in place of the old one (here: a strip the "user" made of it)
    preview.data[...] = 0
    preview.data[int(rows[1]["y0"]):int(rows[1]["y1"]), int(rows[1]["x0"]):int(rows[1]["x0"]) + 2] = 1
    assert widget.commit() == fixed_id
    after = np.asarray(layer.data)
    strip = np.zeros(after.shape, bool)
    strip[int(rows[1]["y0"]):int(rows[1]["y1"]), int(rows[1]["x0"]):int(rows[1]["x0"]) + 2] = True
    np.testing.assert_array_equal(after == fixed_id, strip & ((before == 0) | (before == fixed_id)))
    others = (before != fixed_id) & (before > 0)
    np.testing.assert_array_equal(after[others], before[others])  # other objects keep every voxel
    assert not viewer.layers["blobs masks"].data.any()  # not committed as a new object
    layer.undo()  # the Labels layer's own undo takes the write-back back
    np.testing.assert_array_equal(np.asarray(layer.data), before)
    layer.redo()
    objects.next()  # moving on rescores the fixed object
    assert objects.rows[1]["area"] == int((np.asarray(layer.data) == rows[1]["id"]).sum())
    deleted = objects.rows[2]["id"]
    objects.delete()
    assert not (np.asarray(layer.data) == deleted).any()
    path = objects.save(tmp_path / "blobs_objects.csv")
    saved = {r["id"]: r["status"] for r in read_objects_csv(path)}
    assert saved[rows[0]["id"]] == "accepted" and saved[rows[1]["id"]] == "fixed" and saved[deleted] == "deleted"

    # a fresh review (new session) reloads the statuses
    layer.metadata[OBJECTS_KEY] = [{**r, "status": ""} for r in layer.metadata[OBJECTS_KEY]]
    again = ReviewWidget(viewer).objects
    again.labels_combo.setCurrentText(layer.name)
    again.list_objects()
    again.load(path)
    status = {int(r["id"]): r["status"] for r in again.rows}
    assert status[rows[0]["id"]] == "accepted" and status[rows[1]["id"]] == "fixed"


def test_fix_without_a_segment_dock_paints(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    labels = np.zeros((40, 40), np.int32)
    labels[5:15, 5:15], labels[20:30, 20:30] = 1, 2
    layer = viewer.add_labels(labels, name="hand")
    viewer.add_image(np.zeros((40, 40), np.float32) + 0.5, name="u", metadata={KIND_KEY: UNCERTAINTY_KIND})
    objects = ReviewWidget(viewer).objects
    objects.labels_combo.setCurrentText("hand")
    objects.uncertainty_combo.setCurrentText("u")
    rows = objects.list_objects()
    assert len(rows) == 2
    objects.next()
    objects.fix()
    assert layer.mode == "paint" and layer.selected_label == rows[0]["id"]
    assert objects.rows[0]["status"] == "fixed"


def test_cancelled_volume_run_leaves_a_consistent_layer(make_napari_viewer_proxy, qtbot, micro):
    from napari_ruac.samples.nuclei import nuclei_stack

    viewer = make_napari_viewer_proxy()
    stack = nuclei_stack(seed=3, shape=(8, 96, 96))
    viewer.add_image(stack.image, name="stack")
    viewer.dims.set_point(0, 4)
    widget = _segment_all(viewer, qtbot, micro, stack.image, scope=1)
    qtbot.waitUntil(lambda: "slice 3/" in widget.status.text() or not widget.running, timeout=WAIT_MS)
    was_running = widget.running
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.running, timeout=WAIT_MS)
    layer = viewer.layers[objects_name("stack")]
    assert layer.data.shape == stack.image.shape
    _consistent(layer)
    assert layer.metadata["ruac_objects_complete"] is not was_running  # cancelled mid-run: marked incomplete
    assert len(layer.metadata[OBJECTS_KEY]) >= 1


def test_volume_scope_segments_every_slice_and_links_the_objects(make_napari_viewer_proxy, qtbot, micro):
    # a disc only in the first quarter of the stack and one only in the last: the current (middle) slice holds
    # neither; the volume scope segments every slice (as the CLI) and finds both, each as one object
    viewer = make_napari_viewer_proxy()
    zz, yy, xx = np.mgrid[:12, :96, :96]
    top = (zz <= 3) & ((yy - 30) ** 2 + (xx - 30) ** 2 <= 12**2)
    bottom = (zz >= 7) & ((yy - 64) ** 2 + (xx - 64) ** 2 <= 12**2)
    stack = np.where(top | bottom, 200, 20).astype(np.uint8)
    viewer.add_image(stack, name="quarters")
    viewer.dims.set_point(0, 6)
    widget = _segment_all(viewer, qtbot, micro, stack, scope=1)
    qtbot.waitUntil(lambda: not widget.running, timeout=WAIT_MS)
    layer = viewer.layers[objects_name("quarters")]
    labels = np.asarray(layer.data)
    found = []
    for disc in (top, bottom):
        ids, counts = np.unique(labels[disc], return_counts=True)
        found.append(ids[np.argmax(counts)])
        assert found[-1] > 0 and counts.max() > 0.7 * disc.sum()  # found, as one object through its slices
    assert found[0] != found[1]
    _consistent(layer)


def test_segment_all_on_the_current_slice_fills_that_slice_only(make_napari_viewer_proxy, qtbot, micro):
    viewer = make_napari_viewer_proxy()
    image, _ = blob_scene(seed=3, size=192, count=5)
    viewer.add_image(np.stack([image, image[::-1], image[:, ::-1]]), name="three")
    viewer.dims.set_point(0, 1)
    widget = _segment_all(viewer, qtbot, micro, None, scope=0)
    qtbot.waitUntil(lambda: not widget.running, timeout=WAIT_MS)
    data = np.asarray(viewer.layers[objects_name("three")].data)
    assert data[1].any() and not data[0].any() and not data[2].any()
    assert all(row["slice"] == [1] for row in viewer.layers[objects_name("three")].metadata[OBJECTS_KEY])
