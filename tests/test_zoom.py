"""Zoom-in prediction: the window rule, paste-back geometry, the cache key, points-only prompts, errors."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ruac import ImagePredictor, load_model
from napari_ruac.inference.zoom import Window, ZoomError, as_window, choose_window, parse_zoom, window_around

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def micro():
    return load_model("ruac-micro", device="cpu")


def disk_image(size: int, center, radius: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:size, :size]
    mask = (yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= radius**2
    rng = np.random.default_rng(seed)
    image = (20 + 180 * mask + rng.normal(0, 6, mask.shape)).clip(0, 255).astype(np.uint8)
    return image, mask


def box_of(mask, pad=2):
    ys, xs = np.nonzero(mask)
    return [float(xs.min() - pad), float(ys.min() - pad), float(xs.max() + 1 + pad), float(ys.max() + 1 + pad)]


# ---- the rule ------------------------------------------------------------------------------
def test_window_is_a_square_of_context_times_the_box_inside_the_image():
    w = window_around([100, 200, 120, 230], (1000, 800), context=3.0, min_side=0)
    assert w.shape == (90, 90)  # 3 × the longer side (30)
    assert w.y0 <= 200 and w.y1 >= 230 and w.x0 <= 100 and w.x1 >= 120
    # near a corner the window is moved inside, not cut
    corner = window_around([0, 0, 10, 10], (500, 500), context=3.0, min_side=64)
    assert corner.as_tuple() == (0, 0, 64, 64)
    # larger than the image on one axis: clipped there only
    tall = window_around([10, 10, 40, 40], (60, 400), context=3.0, min_side=100)
    assert tall.shape == (60, 100)


def test_auto_zooms_only_when_it_gains_resolution():
    small_object = dict(box=[100, 100, 115, 115])
    assert choose_window("auto", (512, 512), min_side=256, **small_object).shape == (256, 256)
    assert choose_window("auto", (256, 256), min_side=256, **small_object) is None  # nothing to gain
    assert choose_window("auto", (512, 512), min_side=256, box=[50, 50, 300, 300]) is None  # a large object
    assert choose_window("on", (300, 300), min_side=256, **small_object).shape == (256, 256)
    assert choose_window("off", (4096, 4096), min_side=256, **small_object) is None


def test_points_only_prompts_use_the_point_context():
    w = choose_window("on", (1000, 1000), points=[[500, 400]], min_side=256, point_context=120)
    assert w.shape == (120, 120)
    assert w.x0 <= 500 < w.x1 and w.y0 <= 400 < w.y1
    assert choose_window("on", (1000, 1000), points=[[500, 400]], min_side=256).shape == (256, 256)
    # auto: clicks alone do not say how large the object is, so only with a context the user set
    assert choose_window("auto", (1000, 1000), points=[[500, 400]], min_side=256) is None
    assert choose_window("auto", (1000, 1000), points=[[500, 400]], min_side=256, point_context=200).shape == (200, 200)


@pytest.mark.parametrize("bad", ["yes", 2, "zoom", 0.5])
def test_nonsense_zoom_setting_is_named(bad):
    with pytest.raises(ZoomError, match="zoom must be one of"):
        parse_zoom(bad)


@pytest.mark.parametrize("window", [(0, 0, 600, 10), (10, 10, 5, 50), (0, 0, 4, 4), "abc", (1, 2, 3)])
def test_nonsense_window_is_named(window):
    with pytest.raises(ZoomError, match="window"):
        as_window(window, (512, 512))


def test_predictor_rejects_bad_zoom_options(micro):
    with pytest.raises(ZoomError, match="zoom_context"):
        ImagePredictor(micro, zoom_context=0.5)
    with pytest.raises(ZoomError, match="zoom must be one of"):
        ImagePredictor(micro, zoom="maybe")
    with pytest.raises(ZoomError, match="≥ 8"):
        ImagePredictor(micro, zoom_min_side=2)


# ---- paste-back geometry -------------------------------------------------------------------
@pytest.mark.parametrize("size", [400, 700, 1300])
def test_window_prediction_equals_the_crop_predicted_alone_pasted_back(micro, size):
    image, mask = disk_image(size, (size * 0.6, size * 0.3), radius=9)
    box = box_of(mask)
    full = ImagePredictor(micro, zoom="on")
    full.set_image(image)
    out = full.predict(box=box)
    assert out.window is not None
    window = Window(*out.window)
    assert window.shape == (256, 256)
    crop = ImagePredictor(micro, zoom="off")
    crop.set_image(image[window.slices], value_range=full.value_range)
    shifted = [box[0] - window.x0, box[1] - window.y0, box[2] - window.x0, box[3] - window.y0]
    alone = crop.predict(box=shifted)
    np.testing.assert_allclose(out.probability[window.slices], alone.probability, atol=1e-6)
    np.testing.assert_array_equal(out.mask[window.slices], alone.mask)
    outside = np.ones(image.shape, bool)
    outside[window.slices] = False
    assert not out.mask[outside].any()
    assert (out.probability[outside] == 0).all() and (out.uncertainty[outside] == 0).all()
    # the mask sits on the object: centroid within a pixel and a half
    ys, xs = np.nonzero(out.mask)
    assert abs(ys.mean() - size * 0.6) < 1.5 and abs(xs.mean() - size * 0.3) < 1.5


def test_zoom_helps_a_small_object_in_a_large_image(micro):
    image, mask = disk_image(1024, (500, 300), radius=8, seed=3)
    ious = {}
    for zoom in ("off", "auto"):
        predictor = ImagePredictor(micro, zoom=zoom)
        predictor.set_image(image)
        out = predictor.predict(box=box_of(mask))
        ious[zoom] = (out.mask & mask).sum() / (out.mask | mask).sum()
    assert ious["auto"] > ious["off"] + 0.1, ious
    assert ious["auto"] > 0.7, ious


def test_windows_are_cached_under_their_own_key(micro):
    image, mask = disk_image(600, (300, 300), radius=8)
    predictor = ImagePredictor(micro, zoom="on")
    predictor.set_image(image)
    assert len(predictor.cache) == 1
    first = predictor.predict(box=box_of(mask))
    assert len(predictor.cache) == 2  # the whole image and the window
    hits = predictor.cache.hits
    second = predictor.predict(box=box_of(mask))
    assert predictor.cache.hits == hits + 1 and len(predictor.cache) == 2
    np.testing.assert_array_equal(first.probability, second.probability)
    other = predictor.predict(box=[10, 10, 30, 30])
    assert other.window != first.window and len(predictor.cache) == 3


def test_points_only_and_batches_zoom_per_prompt(micro):
    image, mask = disk_image(800, (200, 600), radius=10)
    predictor = ImagePredictor(micro, zoom="on")
    predictor.set_image(image)
    out = predictor.predict(points=[[600, 200]], labels=[1])
    window = Window(*out.window)
    assert window.shape == (256, 256) and window.x0 <= 600 < window.x1
    batch = predictor.predict_batch(boxes=[box_of(mask), [10, 10, 40, 40]])
    assert batch[0].window != batch[1].window
    np.testing.assert_allclose(batch[0].probability, predictor.predict(box=box_of(mask)).probability, atol=1e-6)


def test_refining_in_the_same_window_with_its_logits(micro):
    image, mask = disk_image(700, (350, 350), radius=9)
    predictor = ImagePredictor(micro, zoom="on")
    predictor.set_image(image)
    first = predictor.predict(box=box_of(mask))
    again = predictor.predict(points=[[350, 350]], labels=[1], mask_input=first.low_res_logits, window=first.window)
    assert again.window == first.window and again.mask[350, 350]
    with pytest.raises(ZoomError, match="outside the window"):
        predictor.predict(points=[[5, 5]], labels=[1], window=first.window)


def test_a_click_alone_zooms_to_the_object_its_first_answer_measures(micro):
    image, mask = disk_image(1024, (400, 700), radius=9, seed=5)
    ious, windows = {}, {}
    for zoom in ("off", "auto"):
        predictor = ImagePredictor(micro, zoom=zoom)
        predictor.set_image(image)
        out = predictor.predict(points=[[700.5, 400.5]], labels=[1])
        ious[zoom] = (out.mask & mask).sum() / (out.mask | mask).sum()
        windows[zoom] = out.window
    assert windows["off"] is None
    window = Window(*windows["auto"])  # around the first mask and the click, sized as for its box
    assert window.shape == (256, 256) and window.x0 <= 700 < window.x1 and window.y0 <= 400 < window.y1
    assert ious["auto"] > ious["off"], ious
    # a large object: its window would not gain resolution, the whole image stays
    big_image, big = disk_image(512, (256, 256), radius=120, seed=6)
    predictor = ImagePredictor(micro, zoom="auto")
    predictor.set_image(big_image)
    assert predictor.predict(points=[[256.5, 256.5]], labels=[1]).window is None


def test_refining_a_mask_without_a_box_zooms_around_the_mask(micro):
    image, mask = disk_image(900, (300, 300), radius=8, seed=7)
    predictor = ImagePredictor(micro, zoom="auto")
    predictor.set_image(image)
    out = predictor.refine_mask(mask, points=[[300.5, 300.5]], labels=[1], box=None)
    assert out.window is not None and Window(*out.window).shape == (256, 256)
    assert (out.mask & mask).sum() / (out.mask | mask).sum() > 0.6
    off = ImagePredictor(micro, zoom="off")
    off.set_image(image)
    assert off.window_around_mask(mask) is None
    assert off.refine_mask(mask, points=[[300.5, 300.5]], labels=[1], box=None).window is None


def test_a_correction_keeps_its_window_while_the_mask_fits(micro):
    from napari_ruac.inference.correction import _kept_window

    image, mask = disk_image(900, (300, 300), radius=8, seed=9)
    predictor = ImagePredictor(micro, zoom="auto")
    predictor.set_image(image)
    first = predictor.predict(points=[[300.5, 300.5]], labels=[1])
    assert first.window is not None
    shifted = np.roll(first.mask, 9, axis=1)  # the mask moved a little: the rule alone would move the window
    clicks = [[300.5, 300.5], [312.5, 300.5]]
    assert predictor.window_around_mask(shifted, clicks).as_tuple() != first.window
    misses = predictor.cache.misses
    kept = predictor.refine_mask(shifted, points=clicks, labels=[1, 1], box=None, keep_window=first.window)
    assert kept.window == first.window and predictor.cache.misses == misses  # the decoder alone ran
    corrected = predictor.correct(first, points=clicks, labels=[1, 1])  # a Prediction brings its window along
    assert corrected.window == first.window
    # the rule's window is used when the mask leaves the kept one, or when the sizes differ
    far = np.roll(first.mask, 300, axis=0)
    rule = predictor.window_around_mask(far, None)
    assert _kept_window(rule, first.window, far, None, (900, 900)) == rule
    big = predictor.window_around_mask(np.pad(np.ones((150, 150), bool), ((200, 550), (200, 550))), None)
    assert big is not None and big.shape != Window(*first.window).shape
    assert _kept_window(big, first.window, first.mask, None, (900, 900)) == big
