"""Guided correction in the segment widget (Xvfb): N shows a suggestion marker, T flips its sign,
Enter makes it a click and re-decodes from the cached embedding; in 3D the accepted correction
re-propagates without touching committed (or hand-edited) objects; refine from a Labels layer."""

from __future__ import annotations

import numpy as np
import pytest
from fixture_models import blob_scene

pytest.importorskip("napari")

from napari.utils.key_bindings import coerce_keybinding  # noqa: E402

import napari_ruac._napari.guided as guided_module  # noqa: E402
import napari_ruac._napari.workers as workers_module  # noqa: E402
from napari_ruac._napari.guided import KEYS_HELP  # noqa: E402
from napari_ruac._napari.segment_widget import SegmentWidget  # noqa: E402
from napari_ruac.inference import ImagePredictor  # noqa: E402

WAIT_MS = 120_000
GREEN, RED = [0, 1, 0, 1], [1, 0, 0, 1]


@pytest.fixture(scope="module")
def micro():
    from napari_ruac.models import load_model

    return load_model("ruac-micro", device="cpu")


def _wait(qtbot, widget):
    qtbot.waitUntil(lambda: not widget.running, timeout=WAIT_MS)


def _press(viewer, key):
    viewer.keymap[coerce_keybinding(key)](viewer)


def _errors(monkeypatch):
    seen = []
    for module in (guided_module, workers_module):
        monkeypatch.setattr(module, "show_error", lambda message: seen.append(message))
    return seen


def _scene():
    from ruac_training.synthetic import generate_scene

    scene = generate_scene("cells", 515151, 256)
    ids, areas = np.unique(scene.labels[scene.labels > 0], return_counts=True)
    return scene.image, scene.labels == ids[np.argmax(areas)]


def _clicked_cells(make_viewer, qtbot, micro):
    """(image, truth, viewer, widget, prompt layers) after one click at the largest cell's median and S."""
    image, truth = _scene()
    viewer = make_viewer()
    viewer.add_image(image, name="cells")
    widget = SegmentWidget(viewer)
    widget.set_model(micro)
    prompts = widget.prompt_layers_for(widget.image_layer)
    ys, xs = np.nonzero(truth)
    prompts.points.add([np.median(ys), np.median(xs)])
    widget.segment_slice()
    _wait(qtbot, widget)
    return image, truth, viewer, widget, prompts


@pytest.mark.viewer
def test_n_shows_t_flips_enter_accepts_and_decodes_only(make_napari_viewer_proxy, qtbot, micro):
    image, truth, viewer, widget, prompts = _clicked_cells(make_napari_viewer_proxy, qtbot, micro)
    ys, xs = np.nonzero(truth)

    _press(viewer, "N")
    suggestion = widget.guided.suggestion
    assert suggestion is not None
    # the same suggestion as the library's, from the same maps (probability included)
    library = ImagePredictor(micro, cache=widget.cache)
    library.set_image(image)
    click = [[float(np.median(xs)) + 0.5, float(np.median(ys)) + 0.5]]
    first = library.predict(points=click, labels=[1])
    expected = library.suggest_click(first, points=click, labels=[1])[0]
    assert (suggestion.x, suggestion.y, suggestion.positive) == (expected.x, expected.y, expected.positive)
    results = widget.results_for(widget.image_layer)
    np.testing.assert_allclose(results.preview_probability, first.probability, atol=1e-5)  # not the 0/1 mask
    assert ((first.probability > 0.05) & (first.probability < 0.95)).any()
    marker = viewer.layers["cells suggestion"]
    assert len(marker.data) == 1 and marker.symbol[0].value == "star"
    np.testing.assert_allclose(marker.data[0], [suggestion.y - 0.5, suggestion.x - 0.5])
    np.testing.assert_allclose(marker.face_color[0], GREEN if suggestion.positive else RED)
    assert len(prompts.points.data) == 1  # a suggestion is never a prompt by itself
    assert KEYS_HELP in widget.status.text() and viewer.help == KEYS_HELP
    preview = viewer.layers["cells preview"].data > 0
    assert preview[int(suggestion.y), int(suggestion.x)] != suggestion.positive  # sign = side of the mask

    _press(viewer, "T")  # flips the suggestion, not the next-click label
    assert widget.guided.suggestion.positive != suggestion.positive
    np.testing.assert_allclose(marker.face_color[0], RED if suggestion.positive else GREEN)
    assert prompts.points.feature_defaults["label"][0] == 1

    misses, hits = widget.cache.misses, widget.cache.hits
    before = viewer.layers["cells preview"].data > 0
    _press(viewer, "Enter")
    _wait(qtbot, widget)
    assert len(prompts.points.data) == 2
    np.testing.assert_allclose(prompts.points.data[-1], [suggestion.y - 0.5, suggestion.x - 0.5])
    assert prompts.points.features["label"].iloc[-1] == (0 if suggestion.positive else 1)
    assert prompts.points.feature_defaults["label"][0] == 1  # new clicks still default to object
    assert widget.cache.misses == misses and widget.cache.hits == hits + 1  # the decoder only
    assert len(marker.data) == 0 and not widget.guided.showing
    # the preview is the library's correction step: the previous preview as the mask prompt, both clicks
    reference = ImagePredictor(micro, cache=widget.cache)
    reference.set_image(image)
    from napari_ruac._napari.prompt_layers import prompts_from_layers

    prompt = prompts_from_layers(prompts)[()]
    expected = reference.correct(before, points=prompt["points"], labels=prompt["labels"])
    np.testing.assert_array_equal(viewer.layers["cells preview"].data > 0, expected.mask)
    # the accepted click is an ordinary prompt edit: Ctrl+Z takes it back
    widget.undo()
    assert len(prompts.points.data) == 1


@pytest.mark.viewer
def test_suggest_without_a_result_and_accept_without_suggestion(make_napari_viewer_proxy, qtbot, micro, monkeypatch):
    seen = _errors(monkeypatch)
    image, _ = blob_scene(seed=2, count=1)
    viewer = make_napari_viewer_proxy()
    viewer.add_image(image, name="img")
    widget = SegmentWidget(viewer)
    widget.set_model(micro)
    assert widget.suggest_click() is None
    assert seen and "segment the object first" in seen[-1]
    assert widget.accept_suggestion() is False


@pytest.mark.viewer
def test_refine_from_a_labels_layer_object(make_napari_viewer_proxy, qtbot, micro, monkeypatch):
    seen = _errors(monkeypatch)
    image, truth = _scene()
    viewer = make_napari_viewer_proxy()
    viewer.add_image(image, name="cells")
    widget = SegmentWidget(viewer)
    widget.set_model(micro)
    painted = np.zeros(truth.shape, np.int32)
    painted[truth] = 3
    cols = np.nonzero(truth)[1]
    painted[:, cols.min() + 2 * (cols.max() - cols.min()) // 3 :] = 0  # an old mask missing a third
    layer = viewer.add_labels(painted, name="old masks")
    assert "old masks" in [widget.guided.panel.labels.itemText(i) for i in range(widget.guided.panel.labels.count())]
    assert widget.guided.refine_from_labels(layer, 9) is False
    assert "label id 9 is absent" in seen[-1]
    assert widget.guided.refine_from_labels(layer, 3)
    _wait(qtbot, widget)
    reference = ImagePredictor(micro, cache=widget.cache)
    reference.set_image(image)
    np.testing.assert_array_equal(viewer.layers["cells preview"].data > 0, reference.refine_mask(painted == 3).mask)
    # N + Enter keep refining: the latest result as the mask prompt with the accepted click
    _press(viewer, "N")
    s = widget.guided.suggestion
    assert s is not None
    latest = viewer.layers["cells preview"].data > 0
    _press(viewer, "Enter")
    _wait(qtbot, widget)
    expected = reference.correct(latest, points=[[s.x, s.y]], labels=[s.label]).mask
    np.testing.assert_array_equal(viewer.layers["cells preview"].data > 0, expected)


@pytest.mark.viewer
def test_3d_correction_repropagates_and_committed_edits_survive(make_napari_viewer_proxy, qtbot, micro):
    from ruac_training.synthetic import generate_scene

    scene = generate_scene("shapes", 525254, 128)
    stack = np.stack([np.roll(scene.image, z - 2, axis=1) for z in range(5)])
    labels = np.stack([np.roll(scene.labels, z - 2, axis=1) for z in range(5)])
    ids, areas = np.unique(labels[2][labels[2] > 0], return_counts=True)
    first, second = ids[np.argsort(-areas)][:2]
    viewer = make_napari_viewer_proxy()
    viewer.add_image(stack, name="vol")
    widget = SegmentWidget(viewer)
    widget.set_model(micro)
    prompts = widget.prompt_layers_for(widget.image_layer)

    def click(object_id, z):
        ys, xs = np.nonzero(labels[z] == object_id)
        prompts.points.add([z, np.median(ys), np.median(xs)])

    click(first, 2)
    widget.segment_volume()
    _wait(qtbot, widget)
    widget.commit()
    masks = viewer.layers["vol masks"].data
    masks[0, :6, :6] = 1  # the user's hand edit on another slice
    committed = masks.copy()
    assert committed[2].any()

    click(second, 2)
    widget.segment_volume()
    _wait(qtbot, widget)
    for z in (3, 4, 1, 0):  # a slice other than the prompted one that has something to correct
        viewer.dims.set_current_step(0, z)
        _press(viewer, "N")
        if widget.guided.suggestion is not None:
            break
    assert widget.guided.suggestion is not None and widget.guided.index == (z,)
    widget.received_slices = []
    _press(viewer, "Enter")
    _wait(qtbot, widget)
    # the accepted click is on that slice and the object was re-propagated through every slice
    assert prompts.points.data[-1][0] == z
    assert sorted(widget.received_slices) == list(range(5))
    np.testing.assert_array_equal(viewer.layers["vol masks"].data, committed)  # nothing committed was undone
    widget.commit()
    final = viewer.layers["vol masks"].data
    np.testing.assert_array_equal(final[committed > 0], committed[committed > 0])


def test_the_star_is_sized_to_the_object_so_it_does_not_hide_a_small_one():
    from napari_ruac._napari.guided import marker_size

    yy, xx = np.mgrid[:512, :512]
    nucleus = (yy - 100) ** 2 + (xx - 100) ** 2 <= 12**2  # 25 px across
    assert 4.0 <= marker_size(nucleus, (512, 512)) <= 0.5 * 25
    assert marker_size(nucleus[:1, :1] & False, (512, 512)) == marker_size(None, (512, 512)) == 2.5 * 0.02 * 512
    whole = np.ones((512, 512), bool)
    assert marker_size(whole, (512, 512)) == 2.5 * 0.02 * 512  # capped for a large object
    speck = np.zeros((512, 512), bool)
    speck[5, 5] = True
    assert marker_size(speck, (512, 512)) == 4.0


@pytest.mark.viewer
def test_s_after_more_clicks_corrects_the_preview_and_anything_else_starts_afresh(make_napari_viewer_proxy, qtbot, micro):
    from napari_ruac._napari.prompt_layers import prompts_from_layers

    image, truth, viewer, widget, prompts = _clicked_cells(make_napari_viewer_proxy, qtbot, micro)
    ys, xs = np.nonzero(truth)
    first = viewer.layers["cells preview"].data > 0
    reference = ImagePredictor(micro, cache=widget.cache)
    reference.set_image(image)

    prompts.points.add([ys.min() + 1, xs[np.argmin(ys)]])  # a second click by hand, then S
    widget.segment_slice()
    _wait(qtbot, widget)
    prompt = prompts_from_layers(prompts)[()]
    corrected = reference.correct(first, points=prompt["points"], labels=prompt["labels"]).mask
    fresh = reference.predict(points=prompt["points"], labels=prompt["labels"]).mask
    assert not np.array_equal(corrected, fresh)  # the two ways differ here, so the check below means something
    np.testing.assert_array_equal(viewer.layers["cells preview"].data > 0, corrected)

    widget.undo()  # the second click goes: S starts afresh from the first click
    widget.segment_slice()
    _wait(qtbot, widget)
    prompt = prompts_from_layers(prompts)[()]
    np.testing.assert_array_equal(viewer.layers["cells preview"].data > 0,
                                  reference.predict(points=prompt["points"], labels=prompt["labels"]).mask)
