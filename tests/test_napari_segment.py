"""The segment widget in a real napari viewer (Xvfb) with tiny real-architecture models."""

from __future__ import annotations

import numpy as np
import pytest
from fixture_models import blob_scene
from napari_ruac.core.boxes import tight_box

pytest.importorskip("napari")

from napari.utils.key_bindings import coerce_keybinding  # noqa: E402

import napari_ruac._napari.segment_runs as runs_module  # noqa: E402
import napari_ruac._napari.workers as workers_module  # noqa: E402
from napari_ruac.inference import ImagePredictor  # noqa: E402
from napari_ruac.inference.volume_predictor import VolumePredictor  # noqa: E402
from napari_ruac._napari.prompt_layers import collect_prompts  # noqa: E402
from napari_ruac._napari.result_layers import commit_mask  # noqa: E402
from napari_ruac._napari.segment_widget import KEYS, SegmentWidget  # noqa: E402
from napari_ruac.uq import available_methods, get_method  # noqa: E402

WAIT_MS = 120_000


def _wait(qtbot, widget):
    qtbot.waitUntil(lambda: not widget.running, timeout=WAIT_MS)


def _draw_box(shapes_layer, mask: np.ndarray, z: int | None = None):
    """Draw the rectangle napari would give for a box hugging ``mask`` (pixel edges at ±0.5)."""
    x0, y0, x1, y1 = tight_box(mask)
    corners = np.array([[y0, x0], [y0, x1], [y1, x1], [y1, x0]], dtype=float) - 0.5
    if z is not None:
        corners = np.column_stack([np.full(4, z), corners])
    shapes_layer.add_rectangles(corners)


def _errors(monkeypatch):
    seen = []
    monkeypatch.setattr(runs_module, "show_error", lambda message: seen.append(message))
    monkeypatch.setattr(workers_module, "show_error", lambda message: seen.append(message))
    return seen


@pytest.fixture
def volume():
    """6 slices of a blob that shifts slightly along z; anisotropic voxels."""
    image, labels = blob_scene(seed=11, count=1)
    slices = [np.roll(image, shift=z - 3, axis=1) for z in range(6)]
    masks = [np.roll(labels, shift=z - 3, axis=1) for z in range(6)]
    return np.stack(slices), np.stack(masks)


# ---- library parts of the widget (no viewer) ---------------------------------------------
def test_collect_prompts_groups_by_slice_and_flips_to_xy():
    points = np.array([[2, 10, 40], [2, 12, 44], [4, 5, 6]], dtype=float)
    boxes = [np.array([[2, 0, 1], [2, 0, 9], [2, 7, 9], [2, 7, 1]], dtype=float)]
    prompts = collect_prompts(points, np.array([1, 0, 1]), boxes, ndim=3)
    assert set(prompts) == {(2,), (4,)}
    assert prompts[(2,)]["points"] == [[40.5, 10.5], [44.5, 12.5]]  # x = column, y = row
    assert prompts[(2,)]["labels"] == [1, 0]
    assert prompts[(2,)]["box"] == [1.5, 0.5, 9.5, 7.5]
    assert "box" not in prompts[(4,)]
    assert collect_prompts(np.array([[3.0, 4.0]]), np.array([1]), [], ndim=2) == {
        (): {"points": [[4.5, 3.5]], "labels": [1]}
    }


def test_commit_mask_only_fills_unlabelled_pixels():
    labels = np.zeros((10, 10), np.int32)
    first = np.zeros((10, 10), bool)
    first[2:6, 2:6] = True
    assert commit_mask(labels, first) == 1
    second = np.zeros((10, 10), bool)
    second[4:8, 4:8] = True
    assert commit_mask(labels, second) == 2
    assert (labels[2:6, 2:6] == 1).all()  # the older object keeps its overlap
    assert (labels[6:8, 6:8] == 2).all() and labels[4:6, 6:8].tolist() == [[2, 2], [2, 2]]
    assert commit_mask(labels, first) == 0  # nothing free


def test_error_message_keeps_library_text_and_names_other_failures():
    from napari_ruac.inference import PromptError

    try:
        raise workers_module.JobFailed("x") from PromptError("box lies entirely outside the image")
    except workers_module.JobFailed as exc:
        assert workers_module.error_message(exc) == "box lies entirely outside the image"
    assert workers_module.error_message(IndexError("pop from empty list")) == "IndexError: pop from empty list"


# ---- viewer tests ------------------------------------------------------------------------
@pytest.mark.viewer
def test_keys_bound_on_viewer_and_prompt_layers(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    image, _ = blob_scene(seed=1, count=1)
    viewer.add_image(np.stack([image] * 3), name="stack", scale=(4.0, 0.5, 0.5))
    widget = SegmentWidget(viewer)
    prompts = widget.prompt_layers_for(widget.image_layer)
    for provider in (viewer, prompts.points, prompts.shapes):
        for key, action in KEYS.items():
            assert provider.keymap[coerce_keybinding(key)].__name__ == f"ruac_{action}"
    np.testing.assert_allclose(prompts.points.scale, (4.0, 0.5, 0.5))
    np.testing.assert_allclose(prompts.shapes.scale, (4.0, 0.5, 0.5))
    # T through the viewer's binding flips the label of the next click (and its colour)
    assert prompts.points.feature_defaults["label"][0] == 1
    viewer.keymap[coerce_keybinding("T")](viewer)
    assert prompts.points.feature_defaults["label"][0] == 0
    prompts.points.add([1, 20, 20])
    np.testing.assert_allclose(prompts.points.face_color[-1], [1, 0, 0, 1])  # red: background
    widget.unbind_keys()
    assert coerce_keybinding("S") not in viewer.keymap
    assert coerce_keybinding("S") not in prompts.points.keymap


@pytest.mark.viewer
def test_segment_2d_adds_layers_matching_the_library(make_napari_viewer_proxy, qtbot, tiny_model):
    viewer = make_napari_viewer_proxy()
    image, labels = blob_scene(seed=3, count=1)
    viewer.add_image(image, name="cells", scale=(0.5, 0.25), translate=(3.0, 4.0))
    widget = SegmentWidget(viewer)
    widget.set_model(tiny_model)
    prompts = widget.prompt_layers_for(widget.image_layer)
    _draw_box(prompts.shapes, labels == 1)
    widget.segment_slice()
    _wait(qtbot, widget)
    names = [layer.name for layer in viewer.layers]
    for name in ("cells masks", "cells preview", "cells uncertainty (ruac-hyp)", "cells prompts", "cells boxes"):
        assert name in names  # the uncertainty layer's name says what it holds and which method drew it
    uncertainty = viewer.layers["cells uncertainty (ruac-hyp)"]
    assert uncertainty.colormap.name in ("magma", "inferno")
    assert tuple(uncertainty.contrast_limits) == (0.0, 1.0)
    assert str(uncertainty.blending) in ("additive", "translucent")
    for name in ("cells masks", "cells preview", "cells uncertainty (ruac-hyp)"):
        np.testing.assert_allclose(viewer.layers[name].scale, (0.5, 0.25))
        np.testing.assert_allclose(viewer.layers[name].translate, (3.0, 4.0))
    # the same box straight through the library gives the same result
    reference = ImagePredictor(tiny_model, cache=widget.cache)  # same embedding, independent decoding
    reference.set_image(image)
    expected = reference.predict(box=tight_box(labels == 1))
    np.testing.assert_array_equal(viewer.layers["cells preview"].data > 0, expected.mask)
    np.testing.assert_allclose(uncertainty.data, expected.uncertainty, atol=1e-6)
    assert not viewer.layers["cells masks"].data.any()  # nothing committed yet
    # another method on the same image draws into the same layer, and its name says both made it
    widget.controls.method.setCurrentText("sam2")
    widget.segment_slice()
    _wait(qtbot, widget)
    assert uncertainty.name == "cells uncertainty (ruac-hyp+sam2)" and uncertainty in viewer.layers
    assert [layer.name for layer in viewer.layers].count("cells uncertainty (ruac-hyp+sam2)") == 1


@pytest.mark.viewer
def test_reprompting_reuses_the_cached_embedding(make_napari_viewer_proxy, qtbot, tiny_model):
    viewer = make_napari_viewer_proxy()
    image, labels = blob_scene(seed=4, count=1)
    viewer.add_image(image, name="img")
    widget = SegmentWidget(viewer)
    widget.set_model(tiny_model)
    prompts = widget.prompt_layers_for(widget.image_layer)
    ys, xs = np.nonzero(labels == 1)
    prompts.points.add([ys.mean(), xs.mean()])
    widget.segment_slice()
    _wait(qtbot, widget)
    misses, hits = widget.cache.misses, widget.cache.hits
    prompts.points.add([ys.min() + 2, xs.min() + 2])
    widget.segment_slice()
    _wait(qtbot, widget)
    assert widget.cache.misses == misses and widget.cache.hits == hits + 1


@pytest.mark.viewer
def test_rgb_image_segments_as_2d(make_napari_viewer_proxy, qtbot, tiny_model):
    viewer = make_napari_viewer_proxy()
    image, labels = blob_scene(seed=5, count=1)
    viewer.add_image(np.repeat(image[..., None], 3, axis=-1), name="rgb", rgb=True)
    widget = SegmentWidget(viewer)
    widget.set_model(tiny_model)
    _draw_box(widget.prompt_layers_for(widget.image_layer).shapes, labels == 1)
    widget.segment_slice()
    _wait(qtbot, widget)
    assert viewer.layers["rgb preview"].data.shape == image.shape
    assert viewer.layers["rgb uncertainty (ruac-hyp)"].data.shape == image.shape
    assert viewer.layers["rgb preview"].data.any()


@pytest.mark.viewer
def test_commit_gives_new_ids_without_overwriting(make_napari_viewer_proxy, qtbot, tiny_model):
    viewer = make_napari_viewer_proxy()
    image, labels = blob_scene(seed=6, count=2)
    viewer.add_image(image, name="two")
    widget = SegmentWidget(viewer)
    widget.set_model(tiny_model)
    prompts = widget.prompt_layers_for(widget.image_layer)
    _draw_box(prompts.shapes, labels == 1)
    widget.segment_slice()
    _wait(qtbot, widget)
    first_preview = viewer.layers["two preview"].data > 0
    widget.commit()
    masks = viewer.layers["two masks"].data
    np.testing.assert_array_equal(masks == 1, first_preview)
    assert len(prompts.shapes.data) == 0 and not viewer.layers["two preview"].data.any()
    committed_one = masks == 1
    _draw_box(prompts.shapes, labels == 2)
    widget.segment_slice()
    _wait(qtbot, widget)
    second_preview = viewer.layers["two preview"].data > 0
    assert (second_preview & committed_one).any(), "the random model's masks overlap: the case under test"
    widget.commit()
    masks = viewer.layers["two masks"].data
    np.testing.assert_array_equal(masks == 1, committed_one)  # object 1 kept every pixel
    np.testing.assert_array_equal(masks == 2, second_preview & ~committed_one)


@pytest.mark.viewer
def test_volume_propagation_fills_every_slice_like_the_library(make_napari_viewer_proxy, qtbot, fitted, volume):
    stack, truth = volume
    viewer = make_napari_viewer_proxy()
    viewer.add_image(stack, name="vol", scale=(3.0, 1.0, 1.0))
    widget = SegmentWidget(viewer)
    widget.set_model(fitted)
    prompts = widget.prompt_layers_for(widget.image_layer)
    _draw_box(prompts.shapes, truth[2] == 1, z=2)
    widget.segment_volume()
    _wait(qtbot, widget)
    assert sorted(widget.received_slices) == list(range(6))
    preview = viewer.layers["vol preview"].data > 0
    uncertainty = viewer.layers["vol uncertainty (ruac-hyp)"].data
    np.testing.assert_allclose(viewer.layers["vol masks"].scale, (3.0, 1.0, 1.0))
    reference = VolumePredictor(fitted, cache=widget.cache).segment(stack, {2: dict(box=tight_box(truth[2] == 1))})
    np.testing.assert_array_equal(preview, reference.mask)
    np.testing.assert_allclose(uncertainty, reference.uncertainty, atol=1e-6)
    assert preview[2].any() and preview.reshape(6, -1).any(axis=1).all()


@pytest.mark.viewer
def test_cancel_mid_volume_keeps_only_finished_slices(make_napari_viewer_proxy, qtbot, tiny_model, volume):
    stack, truth = volume
    viewer = make_napari_viewer_proxy()
    viewer.add_image(stack, name="vol")
    widget = SegmentWidget(viewer)
    widget.set_model(tiny_model)
    prompts = widget.prompt_layers_for(widget.image_layer)
    _draw_box(prompts.shapes, truth[3] == 1, z=3)
    widget.segment_volume()
    widget.worker.yielded.connect(lambda _: widget.cancel())  # cancel as soon as the first slice arrives
    _wait(qtbot, widget)
    assert widget.received_slices == [3]
    preview = viewer.layers["vol preview"].data
    uncertainty = viewer.layers["vol uncertainty (ruac-hyp)"].data
    touched = [z for z in range(6) if preview[z].any() or uncertainty[z].any()]
    assert touched == [3]  # the finished slice, whole; nothing else
    assert uncertainty[3].min() > 0  # written in full (random weights: uncertain everywhere)
    assert not viewer.layers["vol masks"].data.any()
    assert widget.controls.segment_volume.isEnabled() and not widget.controls.cancel.isEnabled()


@pytest.mark.viewer
def test_errors_become_notifications(make_napari_viewer_proxy, qtbot, tiny_model, monkeypatch):
    errors = _errors(monkeypatch)
    viewer = make_napari_viewer_proxy()
    image, labels = blob_scene(seed=7, count=1)
    viewer.add_image(np.stack([image] * 3), name="s")
    widget = SegmentWidget(viewer)
    widget.segment_slice()
    assert "no model loaded" in errors[-1]
    widget.set_model(tiny_model)
    widget.segment_slice()
    assert "no prompt on this slice" in errors[-1]
    # a library error raised inside the worker arrives as its own message, not a traceback
    prompts = widget.prompt_layers_for(widget.image_layer)
    viewer.dims.set_current_step(0, 1)
    prompts.points.add([1, 10, 500])  # outside the 192-pixel-wide image
    widget.segment_slice()
    _wait(qtbot, widget)
    assert "outside" in errors[-1] and "Traceback" not in errors[-1]
    assert widget.status.text().startswith("Failed: ") and "outside" in widget.status.text()  # not "Segmenting…"
    image_only = [m for m in available_methods() if not getattr(get_method(m), "supports_volume", False)]
    if image_only:  # methods that re-run the model per image cannot propagate: a clear refusal
        widget.controls.method.setCurrentText(image_only[0])
        widget.segment_volume()
        assert "single images only" in errors[-1]


@pytest.mark.viewer
def test_time_series_segments_the_current_slice_only(make_napari_viewer_proxy, qtbot, tiny_model, monkeypatch):
    infos, errors = [], _errors(monkeypatch)
    monkeypatch.setattr(runs_module, "show_info", lambda message: infos.append(message))
    viewer = make_napari_viewer_proxy()
    image, labels = blob_scene(seed=8, count=1)
    data = np.stack([np.stack([image] * 2)] * 2)  # (T, Z, Y, X)
    viewer.add_image(data, name="tz")
    widget = SegmentWidget(viewer)
    widget.set_model(tiny_model)
    viewer.dims.set_current_step(0, 1)
    viewer.dims.set_current_step(1, 0)
    prompts = widget.prompt_layers_for(widget.image_layer)
    x0, y0, x1, y1 = tight_box(labels == 1)
    corners = np.array([[y0, x0], [y0, x1], [y1, x1], [y1, x0]], dtype=float) - 0.5
    prompts.shapes.add_rectangles(np.column_stack([np.ones(4), np.zeros(4), corners]))
    widget.segment_slice()
    _wait(qtbot, widget)
    assert any("current Y×X slice only" in message for message in infos)
    preview = viewer.layers["tz preview"].data
    assert preview[1, 0].any() and not preview[0].any() and not preview[1, 1].any()
    widget.segment_volume()
    assert "volume propagation needs Z×Y×X" in errors[-1]


@pytest.mark.viewer
def test_model_loads_off_the_gui_thread_and_bad_files_are_reported(make_napari_viewer_proxy, qtbot, tmp_path, monkeypatch):
    errors = _errors(monkeypatch)
    viewer = make_napari_viewer_proxy()
    widget = SegmentWidget(viewer)
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"")  # an interrupted copy
    widget.load_model(str(bad))
    assert widget.running and not widget.controls.segment_slice.isEnabled()  # loading runs in a worker
    _wait(qtbot, widget)
    assert widget.model is None
    assert errors and "broken.pt" in errors[-1] and "empty" in errors[-1] and "Traceback" not in errors[-1]
    assert widget.controls.segment_slice.isEnabled()


@pytest.mark.viewer
def test_volume_run_tells_where_projection_tracking_stopped(make_napari_viewer_proxy, qtbot, tiny_model, volume,
                                                            monkeypatch):
    from napari_ruac.inference import SliceResult

    stack, truth = volume
    shown = []
    monkeypatch.setattr(runs_module, "show_info", shown.append)

    def tracked(predictor, array, prompts, value_range=None):  # what projection tracking yields
        empty = np.zeros(array.shape[1:3], np.float32)
        for done, z in enumerate((2, 3, 4, 5), start=1):
            stopped = "tracking stopped: the mask vanished (0 px)" if z == 4 else None
            mask = truth[z] == 1 if z < 4 else np.zeros(array.shape[1:3], bool)
            yield SliceResult(z, 1, mask, mask.astype(np.float32), empty, 0.9, 1.0 if z < 4 else -1.0,
                              z == 2, done, 4, stopped)

    monkeypatch.setattr(runs_module, "segment_volume_job", tracked)
    viewer = make_napari_viewer_proxy()
    viewer.add_image(stack, name="vol")
    widget = SegmentWidget(viewer)
    widget.set_model(tiny_model)
    _draw_box(widget.prompt_layers_for(widget.image_layer).shapes, truth[2] == 1, z=2)
    widget.segment_volume()
    _wait(qtbot, widget)
    assert widget.received_slices == [2, 3, 4, 5]
    assert widget.track_stops == [(4, "tracking stopped: the mask vanished (0 px)")]
    assert shown == ["Slice 4: tracking stopped: the mask vanished (0 px). Prompt that slice to go on."]
    # the status sums up the run, not the last slice that arrived ("Slice 5: 0 px (4/4)")
    assert widget.status.text().startswith("Volume done: object on 2 of 6 slices")
    assert "tracking stopped on slice(s) [4]" in widget.status.text()


@pytest.mark.viewer
def test_removing_the_dock_unbinds_the_keys(make_napari_viewer, qtbot):
    """napari removes a dock by re-parenting its widget (no close event); S must not segment afterwards."""
    viewer = make_napari_viewer()
    image, _ = blob_scene(seed=1, count=1)
    viewer.add_image(image, name="cells")
    widget = SegmentWidget(viewer)
    viewer.window.add_dock_widget(widget, name="segment")
    prompts = widget.prompt_layers_for(widget.image_layer)
    assert coerce_keybinding("S") in viewer.keymap and coerce_keybinding("S") in prompts.points.keymap
    viewer.window.remove_dock_widget(widget)
    for provider in (viewer, prompts.points, prompts.shapes):
        assert not any(coerce_keybinding(key) in provider.keymap for key in KEYS)


@pytest.mark.viewer
def test_model_menu_lists_each_model_once(make_napari_viewer_proxy, qtbot):
    widget = SegmentWidget(make_napari_viewer_proxy())
    menu = widget.controls.model
    labels = [menu.itemText(i) for i in range(menu.count())]
    names = [label.removesuffix(" (shipped)") for label in labels]
    assert "ruac-micro (shipped)" in labels and "ruac-micro" not in labels  # was listed twice
    assert len(names) == len(set(names))
    assert menu.itemData(labels.index("ruac-micro (shipped)")) == "ruac-micro"


@pytest.mark.viewer
def test_undo_redo_prompts_commits_and_clears(make_napari_viewer_proxy, qtbot, tiny_model):
    viewer = make_napari_viewer_proxy()
    image, labels = blob_scene(seed=3, count=1)
    viewer.add_image(image, name="cells")
    widget = SegmentWidget(viewer)
    widget.set_model(tiny_model)
    prompts = widget.prompt_layers_for(widget.image_layer)
    prompts.points.add([60, 60])
    prompts.points.add([70, 70])
    assert widget.undo() == "prompt" and len(prompts.points.data) == 1  # the last click is gone
    assert widget.redo() == "prompt" and len(prompts.points.data) == 2
    widget.undo()
    widget.toggle_label()
    prompts.points.add([20, 20])  # a background click; a new change drops the redo step
    assert widget.redo() is None and prompts.points.features["label"].tolist() == [1, 0]
    _draw_box(prompts.shapes, labels == 1)
    widget.segment_slice()
    _wait(qtbot, widget)
    results = widget.results_for(widget.image_layer)
    preview = results.preview.data.copy()
    assert preview.any()
    new_id = widget.commit()
    assert new_id == 1 and (results.masks.data == 1).any() and not results.preview.data.any()
    assert len(prompts.points.data) == 0 and len(prompts.shapes.data) == 0
    assert widget.undo() == "commit"  # Ctrl+Z: the object leaves the masks, preview and prompts come back
    assert not results.masks.data.any()
    np.testing.assert_array_equal(results.preview.data, preview)
    assert len(prompts.points.data) == 2 and len(prompts.shapes.data) == 1
    assert prompts.points.features["label"].tolist() == [1, 0]
    viewer.keymap[coerce_keybinding("Control-Shift-Z")](viewer)  # Ctrl+Shift+Z through the viewer's binding
    assert (results.masks.data == 1).any() and len(prompts.points.data) == 0
    widget.undo()
    widget.clear()
    assert not results.preview.data.any() and len(prompts.points.data) == 0
    viewer.keymap[coerce_keybinding("Control-Z")](viewer)
    np.testing.assert_array_equal(results.preview.data, preview)
    assert len(prompts.points.data) == 2


@pytest.mark.viewer
def test_preview_has_the_colour_of_the_committed_object_and_uncertainty_a_colour_bar(make_napari_viewer_proxy, qtbot):
    from napari_ruac._napari.result_layers import ResultLayers

    viewer = make_napari_viewer_proxy()
    image, labels = blob_scene(seed=2, count=2)
    layer = viewer.add_image(image, name="cells")
    results = ResultLayers(viewer, layer)
    assert results.uncertainty.colorbar.visible
    for expected_id in (1, 2):
        results.show_slice((), labels == expected_id, np.zeros(labels.shape, np.float32))
        preview_colour = np.asarray(results.preview.get_color(1))
        assert results.commit() == expected_id
        np.testing.assert_allclose(results.masks.get_color(expected_id), preview_colour, atol=1e-6)


@pytest.mark.viewer
def test_the_dock_reuses_an_on_disk_embedding_cache(make_napari_viewer_proxy, qtbot, tiny_model, volume, tmp_path):
    stack, truth = volume
    stack = stack[:3]
    for session in range(2):  # the second widget is a new session: nothing in memory
        viewer = make_napari_viewer_proxy()
        viewer.add_image(stack, name="vol")
        widget = SegmentWidget(viewer)
        widget.set_model(tiny_model)
        widget.set_cache_folder(tmp_path / "emb")
        _draw_box(widget.prompt_layers_for(widget.image_layer).shapes, truth[1] == 1, z=1)
        widget.segment_volume()
        _wait(qtbot, widget)
        (disk,) = widget.cache.disks
        assert disk.store.path == tmp_path / "emb" / "vol.zarr" and disk.complete
        assert disk.reads == (0 if session == 0 else 3)


def test_zoom_setting_reaches_the_prediction(make_napari_viewer_proxy, qtbot, tiny_model):
    """The panel's zoom-in choice: 'on' decodes a small object in a window (nothing outside it), like the library."""
    viewer = make_napari_viewer_proxy()
    rng = np.random.default_rng(0)
    image = (rng.random((600, 600)) * 40).astype(np.uint8)
    image[300:315, 200:215] = 220
    truth = np.zeros(image.shape, bool)
    truth[300:315, 200:215] = True
    viewer.add_image(image, name="big")
    widget = SegmentWidget(viewer)
    widget.set_model(tiny_model)
    assert widget.controls.zoom.currentText() == "auto"
    widget.controls.zoom.setCurrentText("on")
    prompts = widget.prompt_layers_for(widget.image_layer)
    _draw_box(prompts.shapes, truth)
    widget.segment_slice()
    _wait(qtbot, widget)
    reference = ImagePredictor(tiny_model, cache=widget.cache, zoom="on")
    reference.set_image(image)
    expected = reference.predict(box=tight_box(truth))
    assert expected.window is not None
    np.testing.assert_allclose(viewer.layers["big uncertainty (ruac-hyp)"].data, expected.uncertainty, atol=1e-6)
    outside = np.ones(image.shape, bool)
    outside[slice(expected.window[0], expected.window[2]), slice(expected.window[1], expected.window[3])] = False
    assert not viewer.layers["big uncertainty (ruac-hyp)"].data[outside].any()


@pytest.mark.viewer
def test_the_click_check_setting_reaches_the_prediction(make_napari_viewer_proxy, qtbot):
    """The panel's 'check a lone click' box: off by default; on, a lone click's preview is the library's checked click."""
    from napari_ruac import load_model

    micro = load_model("ruac-micro", device="cpu")
    yy, xx = np.mgrid[:256, :256]
    truth = np.zeros((256, 256), np.int32)
    for i, (cy, cx) in enumerate([(60, 60), (60, 180), (180, 70), (190, 190)], start=1):
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 <= 14**2] = i
    image = np.clip(np.where(truth > 0, 170.0, 30.0) + np.random.default_rng(0).normal(0, 6, truth.shape), 0, 255)
    image = image.astype(np.uint8)
    viewer = make_napari_viewer_proxy()
    viewer.add_image(image, name="discs")
    widget = SegmentWidget(viewer)
    widget.set_model(micro)
    assert not widget.controls.click_proposal.isChecked()
    widget.controls.click_proposal.setChecked(True)
    widget.prompt_layers_for(widget.image_layer).points.add([60, 60])
    widget.segment_slice()
    _wait(qtbot, widget)
    assert widget._predictor(widget.image_layer).click_proposal is True
    reference = ImagePredictor(micro, click_proposal=True)
    reference.set_image(image)
    expected = reference.predict(points=[[60.5, 60.5]], labels=[1])
    assert "proposal_box" in expected.extras  # the check changed this click's answer (the plain click's differs)
    np.testing.assert_allclose(viewer.layers["discs uncertainty (ruac-hyp)"].data, expected.uncertainty, atol=1e-6)
