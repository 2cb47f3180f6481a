"""Projection tracking (inference/volume_projection.py): the previous slice's box prompts the next
slice, forward then backward, and tracking stops where the object ends or a neighbour takes over."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ruac.inference.prediction import Prediction
from napari_ruac.core.boxes import grown_box
from napari_ruac.inference.volume_projection import TrackingRules, iter_projection, refusal, stop_reason


class ThresholdPredictor:
    """Stands in for ImagePredictor: the mask is the bright pixels inside the box."""

    def __init__(self):
        self.boxes = []

    def set_image(self, image, value_range=None):
        self.image = image[..., 0] if image.ndim == 3 else image

    def refine_mask(self, mask, box=None):
        self.mask_prompts = getattr(self, "mask_prompts", 0) + 1
        return self.predict(box=box)

    def predict(self, box=None, points=None, labels=None):
        self.boxes.append(box)
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        mask = np.zeros(self.image.shape, bool)
        mask[y0:y1, x0:x1] = self.image[y0:y1, x0:x1] > 0.5
        probability = mask.astype(np.float32)
        return Prediction(mask, probability, np.zeros_like(probability), 0.9, "fake")


def _volume():
    """A disc on slices 2–6 whose radius changes with z; on slices 7–9 a much larger disc in the same place."""
    z, y, x = np.mgrid[:10, :64, :64]
    radius = np.array([0, 0, 6, 9, 10, 9, 6, 20, 20, 20])[:, None, None]
    return ((y - 32) ** 2 + (x - 32) ** 2 <= radius**2).astype(np.float32)


def test_grown_box_adds_a_margin_and_clips():
    mask = np.zeros((20, 20), bool)
    mask[5:10, 0:4] = True
    assert grown_box(mask, margin=0.2) == [0.0, 3.0, 6.0, 12.0]
    assert grown_box(np.zeros((5, 5), bool)) is None


def test_tracks_forward_and_backward_and_stops_at_the_ends():
    volume = _volume()
    objects = {1: {4: dict(box=[20, 20, 44, 44])}}
    predictor = ThresholdPredictor()
    results = list(iter_projection(predictor, volume, objects, "both", (0.0, 1.0)))
    assert [r.z for r in results] == [4, 5, 6, 7, 8, 9, 3, 2, 1, 0]  # prompted, forward, backward
    assert (results[-1].done, results[-1].total) == (10, 10)
    by_z = {r.z: r for r in results}
    stops = {r.z: r.stopped for r in results if r.stopped}
    # patience 1: the first refused slice is skipped, the second ends the track; each says why
    assert sorted(stops) == [0, 1, 7, 8]
    assert stops[7].startswith("slice skipped: the mask spread to 2.6×")
    assert stops[8].startswith("tracking stopped: the mask spread to 2.6×")  # still from slice 6's mask
    assert stops[1] == "slice skipped: the mask vanished (1 px)"  # radius 0: one pixel
    assert stops[0].startswith("tracking stopped: the mask vanished")
    truth = volume > 0.5
    for z in (2, 3, 4, 5, 6):
        assert np.array_equal(by_z[z].mask, truth[z]), z
    for z in (0, 1, 7, 8, 9):  # refused or after the stop: empty, object absent
        assert not by_z[z].mask.any() and by_z[z].object_score == -1.0, z
    assert results[0].prompted is True and not any(r.prompted for r in results[1:])
    assert predictor.mask_prompts == 8  # every tracked slice (5–8, 3–0) also got the last accepted mask as its mask prompt


def test_patience_carries_the_object_over_one_bad_slice():
    volume = _volume()
    volume[5] = 0  # one dark slice in the middle of the object
    volume[5, 32, 32] = 1
    results = list(iter_projection(ThresholdPredictor(), volume, {1: {4: dict(box=[20, 20, 44, 44])}}, "forward", (0.0, 1.0)))
    by_z = {r.z: r for r in results}
    assert not by_z[5].mask.any() and by_z[5].stopped.startswith("slice skipped: the mask vanished")
    assert by_z[6].mask.sum() > 50  # picked up again from slice 4's mask
    strict = list(iter_projection(ThresholdPredictor(), volume, {1: {4: dict(box=[20, 20, 44, 44])}}, "forward",
                                  (0.0, 1.0), dict(patience=0, mask_prompt=False)))
    assert not {r.z: r for r in strict}[6].mask.any()


def test_the_new_rules_catch_slow_growth_box_shaped_masks_and_absent_objects():
    rules = TrackingRules()
    previous = np.zeros((40, 40), bool)
    previous[10:20, 10:20] = True  # 100 px
    grown = np.zeros_like(previous)
    grown[9:21, 9:21] = True  # 144 px: 1.44× the previous slice is fine, but 2.9× the prompted 50 px is not
    prediction = Prediction(grown, grown.astype(np.float32), np.zeros((40, 40), np.float32), 0.9, "fake")
    assert "grew to 2.9× the object's area on its prompted slice" in refusal(prediction, previous, 50, [0, 0, 40, 40], rules)
    assert refusal(prediction, previous, 150, [0, 0, 40, 40], rules) is None
    assert "fills 100% of its prompt box" in refusal(prediction, previous, 150, [9, 9, 21, 21], rules)
    prediction.extras["object_score"] = -3.0
    assert "sees no object here" in refusal(prediction, previous, 150, [0, 0, 40, 40], rules)


@pytest.mark.parametrize("bad", [dict(patience=-1), dict(max_fill=0), dict(handover_area=1.5), dict(handover_shift=-1), dict(min_contrast=1.0), dict(max_growth=0.9), dict(min_overlap=2),
                                 dict(nonsense=1), "strict"])
def test_nonsense_tracking_rules_are_named(bad):
    with pytest.raises(ValueError, match="tracking rule"):
        TrackingRules.parse(bad)


def test_a_second_prompt_restarts_tracking_and_direction_is_respected():
    volume = _volume()
    objects = {1: {2: dict(box=[20, 20, 44, 44]), 8: dict(box=[5, 5, 60, 60])}}
    results = list(iter_projection(ThresholdPredictor(), volume, objects, "forward", (0.0, 1.0)))
    by_z = {r.z: r for r in results}
    assert sorted(by_z) == list(range(2, 10))  # forward only: nothing below the first prompt
    assert by_z[9].mask.any() and by_z[9].mask.sum() == by_z[8].mask.sum()  # continues from the slice-8 prompt


def test_stop_reason_names_the_rule():
    previous = np.zeros((20, 20), bool)
    previous[5:15, 5:15] = True  # 100 px
    shifted = np.zeros_like(previous)
    shifted[12:20, 12:20] = True  # 64 px, IoU 9/155 with previous
    assert stop_reason(previous, previous, 4, 0.3, 1.5) is None
    assert stop_reason(np.zeros_like(previous), previous, 4, 0.3, 1.5) == "the mask vanished (0 px)"
    assert "spread to 4.0×" in stop_reason(np.ones_like(previous), previous, 4, 0.3, 1.5)
    assert stop_reason(shifted, previous, 4, 0.3, 1.5) == "the mask jumped (IoU 0.06 with the slice it came from)"


@pytest.mark.parametrize("tracking", ["projection", "memory"])
def test_volume_predictor_tracking_modes(tiny_model, tracking):
    from napari_ruac import VolumePredictor

    volume = (_volume() * 200).astype(np.uint8)
    predictor = VolumePredictor(tiny_model, method="sam2", tracking=tracking)
    assert predictor.tracking == tracking
    result = predictor.segment(volume, {4: dict(box=[20, 20, 44, 44])})
    assert result.complete and len(result.slice_scores) == 10
    assert all("stopped" in s for s in result.slice_scores)
    assert VolumePredictor(tiny_model).tracking == "memory"  # SAM2 checkpoints: their video memory
    with pytest.raises(ValueError, match="tracking"):
        VolumePredictor(tiny_model, tracking="optical-flow")


class MaskFollower(ThresholdPredictor):
    """A model led by its mask prompt: it returns the prompted mask whatever the slice shows."""

    def refine_mask(self, mask, box=None):
        return Prediction(mask.copy(), mask.astype(np.float32), np.zeros(mask.shape, np.float32), 0.9, "fake")


def test_the_fade_rule_stops_where_the_image_no_longer_shows_the_object():
    z, y, x = np.mgrid[:10, :64, :64]
    disc = (y - 32) ** 2 + (x - 32) ** 2 <= 8**2
    brightness = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.2, 0.05, 0.0])[:, None, None]
    volume = (0.1 + brightness * disc).astype(np.float32)  # background 0.1; the disc fades out of focus above z 6
    objects = {1: {4: dict(box=[22, 22, 43, 43])}}
    by_z = {r.z: r for r in iter_projection(MaskFollower(), volume, objects, "forward", (0.0, 1.1))}
    assert by_z[5].mask.any() and by_z[6].mask.any()  # 60 % of the prompted slice's contrast: still the object
    assert not by_z[7].mask.any() and by_z[7].stopped.startswith("slice skipped: the object faded (edge contrast 20%")
    assert by_z[8].stopped.startswith("tracking stopped: the object faded")
    assert not by_z[9].mask.any()
    off = {r.z: r for r in iter_projection(MaskFollower(), volume, objects, "forward", (0.0, 1.1), dict(min_contrast=0))}
    assert all(off[k].mask.any() for k in range(5, 10))  # without the rule the shape is drawn on into empty slices


def test_edge_contrast_is_inside_minus_a_ring_outside():
    from napari_ruac.core.intensity import edge_contrast

    image = np.ones((40, 40))
    mask = np.zeros((40, 40), bool)
    mask[15:25, 15:25] = True
    image[mask] = 3.0
    assert edge_contrast(image, mask) == pytest.approx(2.0)
    assert edge_contrast(-image, mask) == pytest.approx(-2.0)  # a dark object: negative
    assert edge_contrast(np.dstack([image, image]), mask) == pytest.approx(2.0)  # channels averaged
    assert np.isnan(edge_contrast(image, np.zeros_like(mask)))
    assert np.isnan(edge_contrast(image, np.ones_like(mask)))  # no ring left


def test_the_fade_rule_keeps_an_object_whose_surroundings_change():
    """A CT organ keeps its own intensity while its neighbours change through z: its edge contrast
    falls, but its inside did not dim, so it is not refused."""
    z, y, x = np.mgrid[:8, :64, :64]
    disc = (y - 32) ** 2 + (x - 32) ** 2 <= 8**2
    surroundings = np.array([0.1, 0.1, 0.1, 0.2, 0.35, 0.45, 0.5, 0.5])[:, None, None]
    volume = np.where(disc, 0.6, surroundings * np.ones((8, 64, 64))).astype(np.float32)
    by_z = {r.z: r for r in iter_projection(MaskFollower(), volume, {1: {1: dict(box=[22, 22, 43, 43])}},
                                            "forward", (0.0, 1.0))}
    assert all(by_z[k].mask.any() and not by_z[k].stopped for k in range(2, 8))


def test_faded_needs_a_weak_edge_and_a_dimmed_inside():
    from napari_ruac.inference.volume_projection import faded

    mask = np.zeros((40, 40), bool)
    mask[15:25, 15:25] = True
    reference = (1.0, 0.9)  # prompted slice: inside 1.0, ring 0.1

    def slice_with(inside, outside):
        image = np.full((40, 40), outside)
        image[mask] = inside
        return image

    assert faded(slice_with(0.15, 0.1), mask, reference, 0.3).startswith("the object faded (edge contrast 6%")
    assert faded(slice_with(0.6, 0.1), mask, reference, 0.3) is None  # dimmer but still a clear edge
    assert faded(slice_with(0.95, 0.9), mask, reference, 0.3) is None  # weak edge, inside kept: neighbours changed
    assert faded(slice_with(0.1, 0.8), mask, reference, 0.3) is None  # a reversed edge is not a fade
    assert faded(slice_with(0.15, 0.1), mask, reference, 0.0) is None  # the rule off
    assert faded(slice_with(0.15, 0.1), mask, (float("nan"), float("nan")), 0.3) is None  # no reference


def test_the_handover_rule_stops_a_track_sliding_onto_a_neighbour():
    # a disc (r 10) on slices 2–5; from slice 6 a smaller neighbour (r 6) begins above it, off-centre by 3 px, and
    # goes on to slice 9: its mask overlaps the disc's enough for the slice-to-slice rules, so without the handover
    # rule the track would carry on into the neighbour
    z, y, x = np.mgrid[:10, :64, :64]
    disc = ((y - 32) ** 2 + (x - 32) ** 2 <= 10**2) & (z >= 2) & (z <= 5)
    neighbour = ((y - 32) ** 2 + (x - 35) ** 2 <= 6**2) & (z >= 6)
    volume = (disc | neighbour).astype(np.float32)
    objects = {1: {4: dict(box=[20, 20, 44, 44])}}
    by_z = {r.z: r for r in iter_projection(ThresholdPredictor(), volume, objects, "forward", (0.0, 1.0))}
    assert by_z[5].mask.any()
    assert not by_z[6].mask.any() and by_z[6].stopped.startswith("slice skipped: the mask slid off (area 36% of")
    assert by_z[7].stopped.startswith("tracking stopped: the mask slid off")
    off = {r.z: r for r in iter_projection(ThresholdPredictor(), volume, objects, "forward", (0.0, 1.0),
                                           dict(handover_area=0.0))}
    assert all(off[k].mask.any() for k in (6, 7, 8, 9))  # without the rule: tracked on into the neighbour


def test_the_handover_rule_keeps_an_object_that_shrinks_in_place():
    from napari_ruac.inference.volume_projection import handed_over

    yy, xx = np.mgrid[:64, :64]
    previous = (yy - 32) ** 2 + (xx - 32) ** 2 <= 10**2
    centred = (yy - 32) ** 2 + (xx - 32) ** 2 <= 5**2  # an object's end: small, in place
    shifted = (yy - 32) ** 2 + (xx - 36) ** 2 <= 5**2
    assert handed_over(centred, previous, int(previous.sum()), 0.4, 0.1) is None
    assert "slid off" in handed_over(shifted, previous, int(previous.sum()), 0.4, 0.1)
    assert handed_over(shifted, previous, int(shifted.sum()), 0.4, 0.1) is None  # not small against the largest
    assert handed_over(shifted, previous, int(previous.sum()), 0.0, 0.1) is None  # rule off
