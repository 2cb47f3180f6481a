"""The next-click suggestion (uq/suggest.py): a missed lobe gets a positive click inside it, a leak
a negative click inside it; earlier clicks, the image border and the edge band are respected; bad
input is a clear error; the predictors (2D and a volume slice) expose the same rule."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_ruac.uq.suggest import ClickSuggestion, SuggestionError, suggest_clicks

SIZE = 128
KINDS = ("outside the box", "a part without a click", "a box side the mask does not reach",
         "a protrusion of the mask", "a concavity or hole of the mask", "uncertain, outside the mask", "uncertain, inside the mask", "most uncertain")


def _disk(cy, cx, r, size=SIZE):
    rows, cols = np.ogrid[:size, :size]
    return (rows - cy) ** 2 + (cols - cx) ** 2 <= r**2


def _entropy(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return (-(p * np.log2(p) + (1 - p) * np.log2(1 - p))).astype(np.float32)


def _maps(regions: list, blur: float = 1.5):
    """A probability map painted region by region (later regions win), smoothed like an upsampled
    decoder output, with its entropy as the uncertainty."""
    p = np.full((SIZE, SIZE), 0.02, np.float32)
    for region, value in regions:
        p[region] = value
    p = ndimage.gaussian_filter(p, blur)
    return p, _entropy(p), p >= 0.5


BODY = _disk(64, 50, 22)
LOBE = _disk(64, 82, 13) & ~BODY  # the part the mask misses


def test_missing_lobe_gets_a_positive_click_inside_the_lobe():
    p, u, mask = _maps([(BODY, 0.97), (LOBE, 0.35)])
    assert mask[LOBE].mean() < 0.1  # the prediction misses the lobe (blur spills a rim of the body)
    best = suggest_clicks(p, u, mask)[0]
    assert best.positive and best.label == 1 and best.sign == "positive"
    assert LOBE[int(best.y), int(best.x)]
    # the most interior pixel of the lobe's uncertain region: well away from the lobe's edge
    depth = ndimage.distance_transform_edt(LOBE)
    assert depth[int(best.y), int(best.x)] >= 4


def test_leak_gets_a_negative_click_inside_the_leak():
    leak = _disk(64, 90, 13) & ~BODY
    p, u, mask = _maps([(BODY, 0.97), (leak, 0.65)])
    assert mask[leak].mean() > 0.75  # the prediction includes the leak
    best = suggest_clicks(p, u, mask)[0]
    assert not best.positive and best.label == 0
    assert leak[int(best.y), int(best.x)]


def test_ranking_by_score_and_n_suggestions():
    small_leak = _disk(16, 50, 8)
    p, u, mask = _maps(
        [(BODY, 0.97), (LOBE, 0.4), (small_leak, 0.6)]
    )
    ranked = suggest_clicks(p, u, mask, n=5, edge_width=3)
    assert 2 <= len(ranked) <= 5
    assert [s.score for s in ranked] == sorted((s.score for s in ranked), reverse=True)
    assert ranked[0].positive and LOBE[int(ranked[0].y), int(ranked[0].x)]  # the lobe has the most mass
    # the small uncertain blob inside the mask is among them, as a leak
    assert any(not s.positive and small_leak[int(s.y), int(s.x)] for s in ranked)
    assert suggest_clicks(p, u, mask, n=1, edge_width=3) == ranked[:1]


def test_a_confident_sharp_mask_has_no_suggestion_and_the_edge_band_is_ignored():
    p, u, mask = _maps([(BODY, 0.99)])
    # smoothing leaves an uncertain ring along the edge: that is not an error
    assert (u > 0.5).sum() > 50
    assert suggest_clicks(p, u, mask, edge_width=3) == []


def test_never_an_earlier_click_and_never_outside_the_image():
    p, u, mask = _maps([(BODY, 0.97), (LOBE, 0.35)])
    first = suggest_clicks(p, u, mask)[0]
    again = suggest_clicks(p, u, mask, points=[[first.x, first.y]], exclude_radius=5)[0]
    assert np.hypot(again.x - first.x, again.y - first.y) > 5
    # a missed part running off the image: the point stays inside
    edge_lobe = _disk(64, 127, 14)
    body = _disk(64, 100, 16)
    p, u, mask = _maps([(body, 0.97), (edge_lobe & ~body, 0.4)])
    for s in suggest_clicks(p, u, mask, n=5):
        assert 0 <= s.x < SIZE and 0 <= s.y < SIZE


def test_uncertain_patch_apart_from_the_mask_is_not_a_missed_part():
    """An uncertain patch separated from the mask by confident background (a neighbour) is not
    a missed part: at most the fallback points at it with the model's own answer (negative); the
    same patch touching the mask is a missed part (positive)."""
    apart = _disk(64, 85, 9)  # the body's edge is at column 62: 14 px of background between
    p, u, mask = _maps([(_disk(64, 50, 12), 0.97), (apart, 0.35)])
    found = suggest_clicks(p, u, mask, n=5, edge_width=3)
    assert not any(s.positive for s in found)
    assert all(s.reason == "most uncertain" for s in found)
    touching = _disk(64, 70, 9)
    p, u, mask = _maps([(_disk(64, 50, 12), 0.97), (touching & ~_disk(64, 50, 12), 0.35)])
    best = suggest_clicks(p, u, mask, n=5, edge_width=3)[0]
    assert best.positive and touching[int(best.y), int(best.x)]
    assert best.reason == "uncertain, outside the mask"
    # outside the object's extent (margin 0: the mask's bounding box) it is no missed part
    narrow = suggest_clicks(p, u, mask, n=5, edge_width=3, margin=0.0)
    assert not any(s.reason == "uncertain, outside the mask" for s in narrow)
    # a box prompt reaching there widens the extent
    wide = suggest_clicks(p, u, mask, n=5, edge_width=3, margin=0.0, box=[30, 40, 90, 90])
    assert any(s.positive and touching[int(s.y), int(s.x)] for s in wide)


def test_flip_keeps_the_point():
    s = ClickSuggestion(3.0, 4.0, True, 1.0, 10, "a protrusion of the mask")
    assert s.flipped() == ClickSuggestion(3.0, 4.0, False, 1.0, 10, "a protrusion of the mask")


# ---- the sign rule --------------------------------------------------------------------------------
def test_mask_outside_the_box_is_a_leak_and_an_unreached_box_side_a_missed_part():
    """A tight box holds the whole object: mask beyond it is a leak (negative), even where the model is
    confident; a box side the mask stops short of means a missed part (positive), in the strip between."""
    body = _disk(64, 60, 20)
    spill = _disk(64, 95, 10) & ~body  # confident mask running right, past the box's right side (x 84)
    p, u, mask = _maps([(body, 0.99), (spill, 0.99)])
    box = [40, 44, 84, 85]
    best = suggest_clicks(p, u, mask, box=box, edge_width=2)[0]
    assert not best.positive and best.reason == "outside the box"
    assert best.x > 84 + 2 and spill[int(best.y), int(best.x)]
    # the same object, but the mask stops 14 px short of the box's bottom side (row 98)
    top = _disk(64, 60, 20)
    p, u, mask = _maps([(top, 0.99), (_disk(92, 60, 6), 0.3)])
    box = [40, 44, 81, 99]
    ranked = suggest_clicks(p, u, mask, box=box, n=3, edge_width=2)
    side = [s for s in ranked if s.reason == "a box side the mask does not reach"]
    assert side and side[0].positive and 85 <= side[0].y < 99 and 40 <= side[0].x < 81
    assert _disk(92, 60, 6)[int(side[0].y), int(side[0].x)]  # where the probability is highest in the strip


def test_a_part_without_a_click_is_a_leak_and_the_clicked_part_is_kept():
    """Without a box, a part of the mask that holds no positive click (a neighbour joined through a
    neck) is suggested as a negative click in that part; the clicked part never is."""
    clicked, neighbour = _disk(64, 40, 16), _disk(64, 86, 16)
    neck = np.zeros((SIZE, SIZE), bool)
    neck[61:68, 50:76] = True
    p, u, mask = _maps([(clicked | neck | neighbour, 0.99)], blur=0.7)
    best = suggest_clicks(p, u, mask, points=[[40.5, 64.5]], labels=[1], edge_width=1)[0]
    assert not best.positive and neighbour[int(best.y), int(best.x)]
    assert best.reason in ("a part without a click", "a protrusion of the mask")
    # a click in the neighbour instead: the suggestion moves to the other part
    other = suggest_clicks(p, u, mask, points=[[86.5, 64.5]], labels=[1], edge_width=1)[0]
    assert not other.positive and clicked[int(other.y), int(other.x)]
    # a negative click does not keep a part
    both = suggest_clicks(p, u, mask, points=[[40.5, 64.5], [86.5, 64.5]], labels=[1, 0], edge_width=1)
    assert all(not clicked[int(s.y), int(s.x)] or s.positive for s in both)


def test_shape_candidates_take_the_model_answer_where_confident_and_the_reading_where_uncertain():
    """A confident protrusion gets the model's own answer (positive: the truth agrees with a confident
    model more often than not); the same protrusion made uncertain reads as a leak (negative)."""
    arm = np.zeros((SIZE, SIZE), bool)
    arm[58:71, 60:110] = True
    p, u, mask = _maps([(BODY | arm, 0.99)], blur=0.7)
    confident = suggest_clicks(p, u, mask, edge_width=1)[0]
    assert confident.reason == "a protrusion of the mask" and confident.positive
    assert arm[int(confident.y), int(confident.x)] and not BODY[int(confident.y), int(confident.x)]
    p, u, mask = _maps([(BODY, 0.99), (arm & ~BODY, 0.62)], blur=0.7)
    uncertain = suggest_clicks(p, u, mask, edge_width=1)[0]
    assert arm[int(uncertain.y), int(uncertain.x)] and not uncertain.positive


def test_labels_must_match_points():
    p, u, mask = _maps([(BODY, 0.97), (LOBE, 0.35)])
    with pytest.raises(SuggestionError, match="one label per point"):
        suggest_clicks(p, u, mask, points=[[10, 10], [20, 20]], labels=[1])


def test_bad_input_is_a_clear_error():
    p, u, mask = _maps([(BODY, 0.97)])
    with pytest.raises(SuggestionError, match="empty"):
        suggest_clicks(np.zeros((8, 8)), np.zeros((8, 8)))
    with pytest.raises(SuggestionError, match="empty"):
        suggest_clicks(np.zeros((0, 0)), np.zeros((0, 0)))
    with pytest.raises(SuggestionError, match="one shape"):
        suggest_clicks(p, u[:10])
    with pytest.raises(SuggestionError, match="mask has shape"):
        suggest_clicks(p, u, mask[:10])
    with pytest.raises(SuggestionError, match="at least 1"):
        suggest_clicks(p, u, mask, n=0)


# ---- through the predictors -----------------------------------------------------------------
def test_image_predictor_suggest_click_with_ruac_micro():
    """On a generated scene, a click's result gets ranked suggestions inside the image, away from the
    earlier click, each with a kind of the documented rule; the uncertain kinds sign by the side of the mask."""
    from ruac_training.synthetic import generate_scene

    from napari_ruac.inference import ImagePredictor
    from napari_ruac.models import load_model

    scene = generate_scene("cells", 515151, 256)
    predictor = ImagePredictor(load_model("ruac-micro", device="cpu"))
    predictor.set_image(scene.image)
    ids, areas = np.unique(scene.labels[scene.labels > 0], return_counts=True)
    truth = scene.labels == ids[np.argmax(areas)]
    ys, xs = np.nonzero(truth)
    cx, cy = float(np.median(xs)), float(np.median(ys))
    out = predictor.predict(points=[[cx, cy]], labels=[1], multimask=False)
    suggestions = predictor.suggest_click(out, n=3, points=[[cx, cy]], labels=[1])
    assert 1 <= len(suggestions) <= 3
    assert [s.score for s in suggestions] == sorted((s.score for s in suggestions), reverse=True)
    for s in suggestions:
        assert 0 <= s.x < 256 and 0 <= s.y < 256
        assert np.hypot(s.x - cx, s.y - cy) > 3
        assert s.reason in KINDS
        if s.reason.startswith("uncertain"):
            assert out.mask[int(s.y), int(s.x)] != s.positive


def test_volume_slice_suggestion_and_absent_object_id():
    from napari_ruac.inference import VolumeResult
    from napari_ruac.inference.volume_predictor import VolumePredictor
    from napari_ruac.models import load_model

    p, u, mask = _maps([(BODY, 0.97), (LOBE, 0.35)])
    labels = np.zeros((3, SIZE, SIZE), np.int32)
    labels[1][mask] = 4
    result = VolumeResult(
        mask=labels > 0,
        labels=labels,
        probability=np.stack([np.zeros_like(p), p, np.zeros_like(p)]),
        uncertainty=np.stack([np.zeros_like(u), u, np.zeros_like(u)]),
    )
    predictor = VolumePredictor(load_model("ruac-micro", device="cpu"), tracking="projection")
    best = predictor.suggest_click(result, z=1, object_id=4)[0]
    assert best.positive and LOBE[int(best.y), int(best.x)]
    with pytest.raises(SuggestionError, match="object id 7 is not in the result"):
        predictor.suggest_click(result, z=1, object_id=7)
    with pytest.raises(SuggestionError, match="outside"):
        predictor.suggest_click(result, z=5)
    with pytest.raises(SuggestionError, match="empty"):
        predictor.suggest_click(result, z=0, object_id=4)
