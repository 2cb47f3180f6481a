"""Image proposals of segment-everything (proposals/blobs.py) and the review score (everything/review.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from napari_ruac.proposals.blobs import assign_to_windows, blob_regions, blob_seeds, polarity
from napari_ruac.everything.files import object_table, read_objects_csv, write_objects_csv
from napari_ruac.everything.result import result_from_labels
from napari_ruac.everything.review import review_score


def _discs(centres, radius, shape=(160, 160), bright=True, seed=0):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    truth = np.zeros(shape, np.int32)
    for i, (cy, cx) in enumerate(centres, start=1):
        truth[((yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2) & (truth == 0)] = i
    rng = np.random.default_rng(seed)
    image = np.where(truth > 0, 160.0, 30.0) + rng.normal(0, 6, shape)
    if not bright:
        image = 255 - image
    return np.clip(image, 0, 255).astype(np.uint8), truth


def _best_iou(region: np.ndarray, truth: np.ndarray) -> float:
    ids, counts = np.unique(truth[region], return_counts=True)
    return max((n / (region.sum() + (truth == i).sum() - n) for i, n in zip(ids, counts) if i), default=0.0)


@pytest.mark.parametrize("bright", [True, False])
def test_touching_discs_get_one_region_each_whatever_the_polarity(bright):
    # two touching pairs and two lone discs: the distance transform sees four blobs, the LoG six
    centres = [(40, 40), (40, 72), (110, 40), (110, 72), (40, 125), (115, 125)]
    image, truth = _discs(centres, radius=16, bright=bright)
    regions = blob_regions(image)
    assert regions.max() == 6
    for index in range(1, 7):
        assert _best_iou(regions == index, truth) > 0.7


def test_polarity_follows_the_border_when_the_classes_are_even():
    high = np.zeros((100, 100), bool)
    high[10:90, 10:90] = True  # 64 %: the bright class is not clearly the smaller, but it avoids the border
    high[:, :25] = False  # 52 % bright: the border decides
    symmetric = np.random.default_rng(0).normal(100.0, 10.0, high.shape)  # a histogram without a clear tail
    assert polarity(symmetric, high)
    assert not polarity(symmetric, ~high)


def test_polarity_follows_a_clear_histogram_tail_first():
    # a small crowded crop (as StarDist's 3D stack): 45 % of it above the threshold, and the border full of
    # objects, so share and border would call the bright class the background; the bright tail says objects
    rng = np.random.default_rng(0)
    high = np.ones((60, 60), bool)
    high[5:55, 5:55] = rng.random((50, 50)) < 0.25
    assert abs(high.mean() - 0.5) < 0.1
    bright_tail = rng.gamma(2.0, 10.0, high.shape)  # skewness ≈ 1.4
    assert polarity(bright_tail, high)
    assert not polarity(-bright_tail, high)  # dark objects on a bright field: the tail is dark


def test_few_objects_are_not_split():
    # one large object with texture: no population to learn an object size from, so one region
    yy, xx = np.mgrid[:200, :200]
    inside = (yy - 100) ** 2 / 80**2 + (xx - 100) ** 2 / 60**2 <= 1
    rng = np.random.default_rng(1)
    image = np.where(inside, 150 + 40 * np.sin(xx / 5.0) * np.cos(yy / 7.0), 20) + rng.normal(0, 5, inside.shape)
    regions = blob_regions(image.astype(np.float32))
    assert regions.max() == 1 and _best_iou(regions == 1, inside.astype(np.int32)) > 0.9


def test_seeds_carry_boxes_that_hold_their_region_and_go_to_one_window_each():
    image, _ = _discs([(40, 40), (40, 120), (120, 80)], radius=14, shape=(160, 160))
    regions, seeds = blob_seeds(image)
    assert len(seeds) == 3
    for box, centre, index in seeds:
        ys, xs = np.nonzero(regions == index)
        assert box[0] <= xs.min() and box[1] <= ys.min() and box[2] >= xs.max() + 1 and box[3] >= ys.max() + 1
        assert box[0] <= centre[0] <= box[2] and box[1] <= centre[1] <= box[3]
    windows = [(0, 0, 100, 100), (0, 60, 100, 160), (0, 0, 160, 160)]
    assigned = assign_to_windows(seeds, windows)
    assert sorted(len(v) for v in assigned.values()) == [1, 1, 1]
    assert [s[2] for s in assigned[2]] == [next(s[2] for s in seeds if s[1][1] > 100)]  # only the whole image holds it
    # a seed no window touches is left out, not decoded in a window that cannot hold it
    assert sum(len(v) for v in assign_to_windows(seeds, [(0, 0, 60, 60)]).values()) == 1


def test_the_review_score_ranks_disagreeing_objects_first_and_falls_back_to_the_uncertainty():
    agree = review_score(0.1, dict(proposal_iou=0.95, kept=1.0, click_iou=0.9))
    leak = review_score(0.1, dict(proposal_iou=0.95, kept=0.5, click_iou=0.9))
    ambiguous = review_score(0.1, dict(proposal_iou=0.95, kept=1.0, click_iou=0.2))
    assert 0.0 < agree < leak < 1.0 and agree < ambiguous < 1.0
    assert review_score(0.3, dict(proposal_iou=0.95, kept=1.0, click_iou=0.9)) > agree  # more uncertain
    assert review_score(0.25, None) == 0.25 and review_score(0.25, dict(kept=1.0, proposal_iou=math.nan)) == 0.25


def test_the_objects_csv_keeps_the_review_score_and_reads_old_files(tmp_path):
    labels = np.zeros((40, 40), np.int32)
    labels[5:15, 5:15], labels[20:35, 20:30] = 1, 2
    uncertainty = np.zeros((40, 40), np.float32)
    uncertainty[18:37, 18:32] = 0.5
    result = result_from_labels(labels, uncertainty)
    rows = object_table(result)
    assert [r["id"] for r in rows] == [2, 1]  # hand-made labels: ranked by their uncertainty score
    assert all(r["review_score"] == r["uncertainty_score"] for r in rows)
    back = read_objects_csv(write_objects_csv(tmp_path / "a_objects.csv", rows))
    assert [r["review_score"] for r in back] == [r["review_score"] for r in rows]
    old = tmp_path / "old_objects.csv"
    old.write_text("id,rank,status,uncertainty_score,area\n1,1,accepted,0.3,100\n")
    assert read_objects_csv(old)[0]["review_score"] == 0.3


def test_specks_beside_a_few_large_objects_are_not_proposed():
    yy, xx = np.mgrid[:200, :200]
    large = ((yy - 60) ** 2 + (xx - 60) ** 2 <= 40**2) | ((yy - 140) ** 2 + (xx - 140) ** 2 <= 40**2)
    specks = np.zeros_like(large)
    for cy, cx in [(20, 150), (30, 180), (170, 30), (180, 60), (100, 180), (150, 20)]:
        specks |= (yy - cy) ** 2 + (xx - cx) ** 2 <= 3**2  # ~29 px each: under 2 % of a large disc
    rng = np.random.default_rng(3)
    image = np.where(large | specks, 170.0, 25.0) + rng.normal(0, 4, large.shape)
    regions = blob_regions(image.astype(np.float32))
    assert len(np.unique(regions)) - 1 == 2
    assert not regions[specks].any()


def test_a_bright_nucleus_is_proposed_without_its_glow():
    # dim nuclei set the global threshold; a bright (mitotic) one glows far beyond its edge
    centres = [(40, 40), (40, 120), (120, 40), (120, 120)]
    image, truth = _discs(centres, radius=14, shape=(160, 160))
    yy, xx = np.mgrid[:160, :160]
    bright = (yy - 80) ** 2 + (xx - 80) ** 2 <= 7**2
    glow = ndimage.gaussian_filter(bright.astype(float), 4) * 800
    image = image.astype(float) + glow
    image[bright] = 1000
    regions = blob_regions(image.astype(np.float32))
    region = regions == regions[80, 80]
    assert regions[80, 80] > 0 and region.sum() < 1.6 * bright.sum()  # one global threshold: 3.3×
    assert _best_iou(region, bright.astype(np.int32)) > 0.6
    for index in range(1, 5):
        assert _best_iou(regions == regions[tuple(np.array(centres[index - 1]))], truth) > 0.7


def test_regions_that_do_not_stand_out_of_their_surroundings_are_dropped():
    # a smooth illumination ramp and a disc with a real edge: both cut into regions as a global threshold would;
    # only the disc stands out of the ring just outside it
    from napari_ruac.proposals.blobs import noise_sigma, without_faint

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:120, :120]
    disc = (yy - 40) ** 2 + (xx - 40) ** 2 <= 12**2
    image = 30 + 0.8 * xx + np.where(disc, 60.0, 0.0) + rng.normal(0, 4, (120, 120))
    smoothed = ndimage.gaussian_filter(image, 1.0)
    regions = np.zeros((120, 120), np.int32)
    regions[disc] = 1
    regions[70:110, 80:110] = 2  # a patch of the bright end of the ramp
    noise = noise_sigma(image)
    assert 3 < noise < 5  # the added noise, not the ramp
    kept = without_faint(regions.copy(), smoothed, noise)
    assert (kept[disc] == 1).all() and not (kept == 2).any()


def test_an_unevenly_lit_scene_gets_far_fewer_false_proposals():
    # generated cells (tuning seed) on a background whose bright end crosses the global threshold: 115 of 118
    # proposals lay off the cells before the edge-contrast check
    from ruac_training.synthetic import generate_scene

    import napari_ruac.proposals.blobs as blobs

    scene = generate_scene("cells", 7260037, 512)

    def off_cells(regions):
        ids = [i for i in np.unique(regions) if i]
        return [i for i in ids if not (scene.labels[regions == i] > 0).any()]

    regions = blob_regions(scene.image)
    for cell in (i for i in np.unique(scene.labels) if i):
        assert _best_iou(regions == np.bincount(regions[scene.labels == cell]).argmax(), scene.labels == cell) > 0.5
    before = blobs.MIN_CONTRAST
    try:
        blobs.MIN_CONTRAST = 0.0
        unchecked = blob_regions(scene.image)
    finally:
        blobs.MIN_CONTRAST = before
    assert len(off_cells(regions)) < 0.3 * len(off_cells(unchecked))
