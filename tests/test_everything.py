"""Segment everything (issue 16): every object of a generated scene whose objects are known, with
labels that do not overlap, one consistent row per object, a cancel that leaves a consistent
result, the embedding cache reused by a second run, tiles, and clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ruac.everything import (
    EverythingError,
    EverythingRun,
    EverythingSettings,
    iter_segment_everything,
    make_run,
    segment_everything,
    tile_windows,
)
from napari_ruac.inference import ImagePredictor
from napari_ruac.models import load_model

from fixture_models import blob_scene

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def micro():
    return load_model("ruac-micro", device="cpu")


def _matched(labels: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> tuple[int, int, int]:
    """(true positives, predicted objects, true objects) at IoU > threshold (one-to-one by construction)."""
    tp = 0
    predicted = [i for i in np.unique(labels) if i]
    for pid in predicted:
        mask = labels == pid
        ids, counts = np.unique(truth[mask], return_counts=True)
        ious = [n / (mask.sum() + (truth == i).sum() - n) for i, n in zip(ids, counts) if i]
        tp += bool(ious) and max(ious) > threshold
    return tp, len(predicted), len([i for i in np.unique(truth) if i])


def _check_consistent(result) -> None:
    """Ids 1..N, one row per id, the row's area/bbox/scores agree with the label image."""
    ids = [i for i in np.unique(result.labels) if i]
    assert ids == [row.id for row in result.objects] == list(range(1, result.count + 1))
    for row in result.objects:
        mask = result.labels == row.id
        assert row.area == mask.sum()
        ys, xs = np.nonzero(mask)
        assert row.bbox == (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1)
        assert 0.0 <= row.mean_uncertainty <= row.max_uncertainty <= 1.0
        assert 0.0 <= row.uncertainty_score < np.inf  # uncertain mass per mask pixel: may pass 1 for a small mask
        assert row.max_uncertainty <= result.uncertainty[mask].max() + 1e-6  # the map is the max over objects
    assert result.uncertainty.shape == result.labels.shape and result.uncertainty.dtype == np.float32


def test_finds_the_known_objects_of_a_generated_scene(micro):
    image, truth = blob_scene(seed=3, size=192, count=5)
    result = segment_everything(micro, image)
    tp, predicted, true = _matched(result.labels, truth)
    assert true == 5 and tp >= 4 and predicted <= 6, (tp, predicted, true)
    assert result.complete and result.method == "ruac-hyp"  # uq.DEFAULT_METHOD
    _check_consistent(result)
    ranked = result.ranked()
    assert [r.review_score for r in ranked] == sorted((r.review_score for r in ranked), reverse=True)
    for row in ranked:  # every object here comes from an image proposal: its three checks are known
        assert 0.0 <= row.proposal_iou <= 1.0 and 0.0 <= row.kept <= 1.0 and 0.0 <= row.click_iou <= 1.0
        assert 0.0 < row.review_score < 1.0


def test_objects_in_a_tiled_large_image_are_found_once(micro):
    # four blob scenes side by side: objects near tile borders must not come out twice
    tiles = [blob_scene(seed=s, size=192, count=4) for s in (5, 6, 7, 8)]
    image = np.block([[tiles[0][0], tiles[1][0]], [tiles[2][0], tiles[3][0]]])
    truth = np.block([[tiles[0][1], tiles[1][1] + 10], [tiles[2][1] + 20, tiles[3][1] + 30]]) * (
        np.block([[tiles[0][1], tiles[1][1]], [tiles[2][1], tiles[3][1]]]) > 0
    )
    run = EverythingRun(micro, image, settings=dict(tile_size=192, tile_overlap=64, points_per_side=4))
    assert len(run.passes()) > 4  # tiles + the coarse pass
    for _ in run:
        pass
    result = run.result()
    tp, predicted, true = _matched(result.labels, truth)
    assert true == 16 and tp >= 13 and predicted - tp <= 3, (tp, predicted, true)
    _check_consistent(result)


def test_a_constant_image_has_no_objects_and_says_so(micro):
    result = segment_everything(micro, np.full((96, 128), 7, np.uint8))
    assert result.complete and result.count == 0 and result.objects == []
    assert not result.labels.any() and result.labels.shape == (96, 128)


def test_cancel_leaves_a_consistent_result(micro):
    image, _ = blob_scene(seed=3, size=192, count=5)
    run = EverythingRun(micro, image, settings=dict(batch_size=2))
    for event in run:
        if event.stage == "decode" and event.objects >= 2:
            break
    partial = run.result()
    assert not partial.complete and 1 <= partial.count
    _check_consistent(partial)


def test_second_run_with_other_grid_settings_reuses_the_embedding(micro):
    image, _ = blob_scene(seed=4, size=192, count=3)
    predictor = ImagePredictor(micro)
    first = segment_everything(micro, image, predictor=predictor, points_per_side=4)
    misses = predictor.cache.misses
    second = segment_everything(micro, image, predictor=predictor, points_per_side=12)
    assert predictor.cache.misses == misses and predictor.cache.hits >= 1  # decoder only
    assert second.decoded > 0 and first.count >= 1


def test_progress_events_come_before_the_result(micro):
    image, _ = blob_scene(seed=4, size=192, count=3)
    events = list(iter_segment_everything(micro, image, points_per_side=4))
    assert events[-1].count >= 1
    assert all(e.stage in ("encode", "decode") for e in events[:-1])
    assert events[-2].done == events[-2].total


def test_bad_input_gets_clear_errors(micro):
    image, _ = blob_scene(seed=4, size=96, count=1)
    for density in (0, -3):
        with pytest.raises(EverythingError, match="grid density points_per_side must be a positive"):
            segment_everything(micro, image, points_per_side=density)
    for method in ("tta", "prompt"):
        with pytest.raises(ValueError, match="single images only; for segment-everything use a one-pass method"):
            segment_everything(micro, image, method=method)
    with pytest.raises(EverythingError, match="unknown segment-everything settings"):
        EverythingSettings.parse(points=4)
    with pytest.raises(EverythingError, match="tile_overlap"):
        EverythingRun(micro, np.zeros((600, 600), np.uint8), settings=dict(tile_size=64, tile_overlap=64)).passes()


def test_tile_windows_cover_the_image_with_the_overlap():
    windows = tile_windows((512, 700), 256, 64)
    covered = np.zeros((512, 700), int)
    for y0, x0, y1, x1 in windows:
        assert y1 - y0 == 256 and x1 - x0 == 256
        covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1
    xs = sorted({w[1] for w in windows})
    assert all(b - a <= 256 - 64 for a, b in zip(xs, xs[1:]))
    assert tile_windows((100, 100), 256, 64) == [(0, 0, 100, 100)]


def test_the_score_is_the_study_object_score_of_the_objects_own_map(micro):
    from napari_ruac.everything.result import row_for
    from napari_ruac.metrics import object_score

    mask = np.zeros((20, 20), bool)
    mask[8:12, 8:12] = True
    uncertainty = np.zeros((20, 20), np.float32)
    uncertainty[6, 9] = 0.4  # in the 2-px rim: counted
    uncertainty[0, 0] = 0.4  # far away: not counted
    row = row_for(3, mask, uncertainty, (100, 50), predicted_iou=0.9, stability=0.95)
    assert row.uncertainty_score == pytest.approx(object_score(mask, uncertainty)) and row.uncertainty_score > 0
    assert row.bbox == (108, 58, 112, 62) and row.area == 16 and row.centroid == (109.5, 59.5)


@pytest.fixture(scope="module")
def stack():
    from napari_ruac.samples.nuclei import nuclei_stack

    return nuclei_stack(seed=3, shape=(8, 96, 96))


def _check_consistent_3d(result) -> None:
    ids = [i for i in np.unique(result.labels) if i]
    assert ids == [row.id for row in result.objects]
    for row in result.objects:
        mask = result.labels == row.id
        assert row.area == mask.sum() and len(row.bbox) == 6 and all(type(v) is int for v in row.bbox)
        zs, ys, xs = np.nonzero(mask)
        assert row.bbox == (zs.min(), ys.min(), xs.min(), zs.max() + 1, ys.max() + 1, xs.max() + 1)
        assert row.seed_slice is not None


def test_volume_objects_from_a_seed_slice_are_tracked_through_z(micro, stack):
    result = segment_everything(micro, stack.image, seed_slices=[4])
    assert result.complete and result.count >= 3 and result.labels.shape == stack.image.shape
    _check_consistent_3d(result)
    assert any(row.bbox[3] - row.bbox[0] > 1 for row in result.objects)  # propagated beyond the seed slice
    # every object was found on the seed slice
    assert all(row.seed_slice == 4 and (result.labels[4] == row.id).any() for row in result.objects)


def test_objects_found_from_two_seed_slices_are_merged(micro, stack):
    one = segment_everything(micro, stack.image, seed_slices=[4]).count
    other = segment_everything(micro, stack.image, seed_slices=[5]).count
    both = segment_everything(micro, stack.image, seed_slices=[4, 5])
    _check_consistent_3d(both)
    assert max(one, other) - 2 <= both.count < one + other  # the same nuclei seen from both slices: merged


def test_volume_cancel_during_propagation_is_consistent(micro, stack):
    run = make_run(micro, stack.image, seed_slices=[4])
    for event in run:
        if event.stage == "propagate" and event.done >= 3:
            break
    partial = run.result()
    assert not partial.complete and partial.count >= 1
    _check_consistent_3d(partial)


def test_volume_seed_slices_must_lie_in_the_volume(micro, stack):
    with pytest.raises(EverythingError, match="needs at least one seed slice.*seed_slices=\\[z\\]"):
        segment_everything(micro, stack.image[..., None], seed_slices=[])
    with pytest.raises(EverythingError, match="outside the volume's 8 slices"):
        segment_everything(micro, stack.image, seed_slices=[8])
    with pytest.raises(ValueError, match="single images only; for segment-everything"):
        segment_everything(micro, stack.image, seed_slices=[4], method="tta")
    with pytest.raises(EverythingError, match="volume_mode must be one of slices, track"):
        segment_everything(micro, stack.image, volume_mode="tracks")
    with pytest.raises(EverythingError, match="min_slices must be ≥ 1"):
        segment_everything(micro, stack.image, min_slices=0)


def test_link_slices_joins_overlapping_objects_and_drops_one_slice_ones():
    from napari_ruac.everything.volume_slices import link_slices

    slices = np.zeros((4, 20, 20), np.int32)  # each slice numbers its own objects
    for z, sid in enumerate((5, 2, 5)):  # object A on slices 0–2 under a different id per slice
        slices[z, 2:8, 2:8] = sid
    for z, sid in enumerate((1, 1, 7, 1)):  # object B on every slice, drifting 1 px per slice
        slices[z, 12:18, 12 + z:18 + z] = sid
    slices[3, 0:3, 9:11] = 4  # a one-slice speck: dropped
    labels, members = link_slices(slices, min_iou=0.4, min_slices=2)
    assert np.unique(labels).tolist() == [0, 1, 2]  # ids in order of first appearance: B (id 1 on slice 0), A
    assert members[1] == [(0, 1), (1, 1), (2, 7), (3, 1)]  # 5 × 6 / 7 × 6: IoU 0.71 each step, linked
    assert members[2] == [(0, 5), (1, 2), (2, 5)]
    assert not labels[3, 0:3, 9:11].any() and (labels[:3, 2:8, 2:8] == 2).all()
    # a jump larger than min_iou allows starts a new object
    jumped = slices.copy()
    jumped[2][jumped[2] == 7] = 0
    jumped[2, 12:18, 17:20] = 7  # IoU 1/6 with slice 1's
    _, members = link_slices(jumped, min_iou=0.4, min_slices=1)
    assert len(members) == 4 and [(2, 7)] in [m[:1] for m in members.values()]
    # min_slices larger than the depth keeps every object of a thin volume
    _, thin = link_slices(slices[:1], min_slices=2)
    assert len(thin) == 2


def test_volume_without_seed_slices_segments_every_slice_and_links_them(micro, stack):
    from napari_ruac.everything import SliceStackRun

    run = make_run(micro, stack.image)
    assert isinstance(run, SliceStackRun)
    events = list(run)
    stages = [event.stage for event in events]
    assert stages[-1] == "slices" and sum(s == "slices" for s in stages) == stack.image.shape[0]
    done = [event.done for event in events]  # counted in slices: a progress bar only moves forward
    assert done == sorted(done) and {event.total for event in events} == {stack.image.shape[0]}
    result = run.result()
    assert result.complete
    _check_consistent_3d(result)
    tp, predicted, true = _matched(result.labels, stack.labels)
    assert tp >= 0.5 * true and predicted <= 1.5 * true, (tp, predicted, true)
    for row in result.objects:
        areas = (result.labels == row.id).sum(axis=(1, 2))
        assert areas[row.seed_slice] == areas.max() and (areas > 0).sum() >= 2  # min_slices 2
        assert 0.0 <= row.predicted_iou <= 1.0 and 0.0 < row.review_score < 1.0  # checks averaged over slices
    # tracking from a seed slice stays available
    assert not isinstance(make_run(micro, stack.image, volume_mode="track"), SliceStackRun)
    assert not isinstance(make_run(micro, stack.image, seed_slices=[4]), SliceStackRun)


def test_slice_stack_cancel_links_the_finished_slices(micro, stack):
    run = make_run(micro, stack.image)
    for event in run:
        if event.stage == "slices" and event.done == 4:
            break
    partial = run.result()
    assert not partial.complete and partial.count >= 1
    _check_consistent_3d(partial)
    assert not partial.labels[4:].any() and partial.labels[:4].any()
    for _ in run:  # iterating again goes on from the first unfinished slice
        pass
    resumed, fresh = run.result(), segment_everything(micro, stack.image)
    assert resumed.complete and np.array_equal(resumed.labels, fresh.labels)
    assert np.array_equal(resumed.uncertainty, fresh.uncertainty) and not partial.labels[4:].any()


def test_objects_larger_than_the_tile_overlap_are_found_whole(micro):
    # 400² image (tiled automatically at 256 px, 64 px overlap) with discs 56–112 px across: the tiles
    # would cut every one of them, so the run segments the whole image in one pass instead
    image, truth = blob_scene(seed=2, size=400, count=3)
    run = EverythingRun(micro, image, settings=dict(points_per_side=4))
    assert len(run.passes()) > 1
    assert run._objects_are_large()
    for _ in run:
        pass
    tp, predicted, true = _matched(run.result().labels, truth)
    assert true == 3 and tp >= 2 and predicted <= 4, (tp, predicted, true)


def test_objects_no_tile_holds_whole_without_a_coarse_pass_do_not_crash(micro):
    # tiles of 200 px with 32 px overlap and no coarse pass: large irregular cells lie whole in no tile, so a
    # proposal goes to the tile holding most of it, and its centre click fell outside that tile (PromptError)
    from ruac_training.synthetic import generate_scene

    image = generate_scene("cells", 7260002, 512).image
    run = EverythingRun(micro, image, settings=dict(tile_size=200, tile_overlap=32, coarse=False))
    assert all(not coarse for _, coarse in run.passes())
    for _ in run:
        pass
    result = run.result()
    assert result.complete and result.labels.shape == image.shape[:2]
    assert len(result.objects) == len(set(np.unique(result.labels)) - {0})


def test_the_model_seed_and_grid_path_still_finds_the_objects(micro):
    # without image proposals: the model's own foreground seeds, then a grid of clicks fills in
    image, truth = blob_scene(seed=3, size=192, count=5)
    result = segment_everything(micro, image, blobs=False, seeds=True, grid=True, points_per_side=4)
    tp, predicted, true = _matched(result.labels, truth)
    assert tp >= 3 and predicted <= 8, (tp, predicted, true)
    _check_consistent(result)
    assert all(row.review_score == row.uncertainty_score for row in result.objects)  # no checks on this path


def test_proposals_too_large_for_the_tiles_get_windows_of_their_own(micro):
    # 1024² tiled at 256 px: a proposal no tile holds whole used to go to the coarse whole-image pass
    # (1024² shrunk 4× to the model's 256 px, image-sized outputs); now it gets its own window around
    # it, placed before the coarse pass; one as large as the image stays in the coarse pass
    run = EverythingRun(micro, np.zeros((1024, 1024), np.uint8))
    passes = run.passes()
    assert passes[-1] == ((0, 0, 1024, 1024), True)
    large = ([300, 320, 460, 480], [380, 400], 7)  # 160 px: more than any tile's overlap holds
    huge = ([10, 10, 1000, 1000], [505, 505], 8)
    small = ([40, 40, 70, 70], [55, 55], 1)
    coarse = len(passes) - 1
    new_passes, blobs, only_own = run._own_windows(passes, {0: [small], coarse: [large, huge]})
    assert new_passes[:coarse] == passes[:coarse] and new_passes[-1] == passes[-1]
    assert len(new_passes) == len(passes) + 1 and only_own == {coarse}
    (top, left, bottom, right), is_coarse = new_passes[coarse]
    assert not is_coarse and bottom - top == right - left == 320  # twice the box's side (≥ one tile)
    assert left <= 300 and 460 <= right and top <= 320 and 480 <= bottom  # the box whole inside
    assert blobs[coarse] == [large] and blobs[0] == [small] and blobs[len(new_passes) - 1] == [huge]
    assert run._own_windows(passes, {0: [small]}) == (passes, {0: [small]}, set())  # nothing to move
    inside = ([320, 340, 440, 470], [380, 405], 9)  # another large proposal whose box that window holds: one encode
    grouped, blobs, only_own = run._own_windows(passes, {coarse: [large, inside]})
    assert len(grouped) == len(passes) + 1 and blobs[coarse] == [large, inside] and only_own == {coarse}


def test_the_decoding_batch_shrinks_with_the_window(micro, monkeypatch):
    import napari_ruac.everything.image as everything_image

    run = EverythingRun(micro, np.zeros((64, 64), np.uint8))
    assert run._batch((0, 0, 256, 256)) == run.settings.batch_size == 64
    assert run._batch((0, 0, 4096, 4096)) == 2  # 64 outputs of 4096² would be ~10 GB
    monkeypatch.setattr(everything_image, "BATCH_PIXELS", 10)
    assert run._batch((0, 0, 4096, 4096)) == 1


def test_a_large_image_keeps_its_tiles_even_with_large_objects(micro, monkeypatch):
    # beyond twice the tile, shrinking the whole image to the model's size loses the objects: the
    # tiles stay (large proposals get windows of their own); at most twice the tile, large objects
    # still get one whole-image pass
    big = EverythingRun(micro, np.zeros((1024, 1024), np.uint8))
    monkeypatch.setattr(EverythingRun, "_objects_are_large", lambda self: True)
    assert not big._whole_image_is_better()
    assert EverythingRun(micro, np.zeros((400, 400), np.uint8))._whole_image_is_better()
    assert EverythingRun(micro, np.zeros((1024, 1024), np.uint8), settings=dict(blobs=False))._whole_image_is_better()
