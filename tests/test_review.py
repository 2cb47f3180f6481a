"""Region ranking for the review of uncertain regions (no GUI)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ruac.review import (
    ReviewError,
    estimated_error,
    find_uncertain_regions,
    label_uncertain_components,
    region_error_coverage,
    regions_from_csv,
    regions_to_csv,
    segmentation_error,
    set_status,
)


def _planted_volume():
    """A 3D uncertainty map with three boxes of known size and level, and a labels volume."""
    rng = np.random.default_rng(0)
    uncertainty = rng.uniform(0.0, 0.2, (12, 64, 64)).astype(np.float32)
    uncertainty[2:4, 5:15, 5:15] = 0.7  # 200 voxels × 0.7 = 140
    uncertainty[6:10, 30:40, 30:40] = 0.9  # 400 voxels × 0.9 = 360  → first
    uncertainty[9:11, 50:52, 50:52] = 1.0  # 8 voxels (below min_size 10)
    labels = np.zeros((12, 64, 64), np.int32)
    labels[5:11, 28:45, 28:45] = 3
    labels[2:4, 10:20, 10:20] = 7
    return uncertainty, labels


def test_planted_regions_ranked_by_integrated_uncertainty():
    uncertainty, labels = _planted_volume()
    regions = find_uncertain_regions(labels, uncertainty, threshold=0.5, min_size=10)
    assert [r.rank for r in regions] == [1, 2]
    first, second = regions
    assert first.size == 400 and second.size == 200
    assert first.mean_uncertainty == pytest.approx(0.9, abs=1e-6)
    assert first.score == pytest.approx(0.9 * 400, rel=1e-6)
    assert second.score == pytest.approx(0.7 * 200, rel=1e-6)
    assert first.bbox == ((6, 10), (30, 40), (30, 40))
    assert first.centroid == pytest.approx((7.5, 34.5, 34.5))
    assert first.slice in range(6, 10)
    assert first.label == 3  # fully inside object 3
    assert second.label == 7  # 25 of its 100 pixels per slice overlap object 7, the rest background


def test_small_regions_dropped_and_threshold_respected():
    uncertainty, labels = _planted_volume()
    with_small = find_uncertain_regions(labels, uncertainty, threshold=0.5, min_size=1)
    assert sorted(r.size for r in with_small) == [8, 200, 400]
    only_high = find_uncertain_regions(labels, uncertainty, threshold=0.8, min_size=1)
    assert sorted(r.size for r in only_high) == [8, 400]
    assert find_uncertain_regions(labels, uncertainty, threshold=1.01) == []


def test_spacing_scales_volume_and_score():
    uncertainty = np.zeros((6, 40, 40), np.float32)
    uncertainty[0, 0:10, 0:10] = 0.8  # 100 voxels in one slice
    uncertainty[2:5, 20:25, 20:25] = 0.6  # 75 voxels across 3 slices
    iso = find_uncertain_regions(None, uncertainty, threshold=0.5, min_size=1)
    thick = find_uncertain_regions(None, uncertainty, threshold=0.5, min_size=1, spacing=(5.0, 0.5, 0.5))
    assert [r.size for r in iso] == [r.size for r in thick] == [100, 75]
    assert iso[0].volume == 100 and thick[0].volume == pytest.approx(100 * 1.25)
    assert thick[0].score == pytest.approx(0.8 * 125) and thick[1].score == pytest.approx(0.6 * 75 * 1.25)


def test_components_connect_across_slices_and_match_scipy_count():
    uncertainty = np.zeros((4, 20, 20), np.float32)
    uncertainty[0, 2:5, 2:5] = 1
    uncertainty[1, 4:7, 4:7] = 1  # touches the first (diagonal overlap across z)
    uncertainty[3, 15:18, 15:18] = 1
    components = label_uncertain_components(uncertainty, 0.5, min_size=1)
    assert components.max() == 2
    regions = find_uncertain_regions(None, uncertainty, 0.5, 1, components=components)
    assert sorted(r.size for r in regions) == [9, 18]


def test_2d_regions_have_no_slice():
    uncertainty = np.zeros((30, 30), np.float32)
    uncertainty[5:10, 5:10] = 0.6
    (region,) = find_uncertain_regions(np.zeros((30, 30), bool), uncertainty, 0.5, 1)
    assert region.slice is None and region.label == 0 and region.size == 25


def test_error_coverage_with_true_error_and_proxy():
    uncertainty, labels = _planted_volume()
    components = label_uncertain_components(uncertainty, 0.5, min_size=10)
    regions = find_uncertain_regions(labels, uncertainty, 0.5, 10, components=components)
    truth = labels.copy()
    truth[6:10, 30:40, 30:40] = 0  # the mask is wrong exactly in the first region
    error = segmentation_error(labels, truth)
    k, covered = region_error_coverage(regions, components, error)
    assert k.tolist() == [0, 1, 2]
    assert covered.tolist() == pytest.approx([0.0, 1.0, 1.0])
    proxy = estimated_error(uncertainty)
    k, covered = region_error_coverage(regions, components, proxy)
    total = proxy.sum()
    assert covered[1] == pytest.approx(0.9 * 400 / total, rel=1e-4)
    assert covered[2] == pytest.approx((0.9 * 400 + 0.7 * 200) / total, rel=1e-4)
    assert np.all(np.diff(covered) >= 0)


def test_estimated_error_from_probability():
    probability = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    assert estimated_error(probability=probability).tolist() == pytest.approx([0, 0.5, 1, 0.5, 0])


def test_csv_round_trip_keeps_marks_and_thresholds(tmp_path):
    uncertainty, labels = _planted_volume()
    regions = find_uncertain_regions(labels, uncertainty, threshold=0.5, min_size=10, spacing=(2.0, 1.0, 1.0))
    set_status(regions[0], "corrected")
    set_status(regions[1], "reviewed")
    path = regions_to_csv(regions, tmp_path / "review.csv", threshold=0.5, min_size=10, extra={"mask": "cells"})
    back, settings = regions_from_csv(path)
    assert [r.status for r in back] == ["corrected", "reviewed"]
    assert [r.size for r in back] == [400, 200]
    assert back[0].bbox == regions[0].bbox
    assert back[0].volume == pytest.approx(800.0)
    assert float(settings["threshold"]) == 0.5 and int(settings["min_size"]) == 10 and settings["mask"] == "cells"
    with pytest.raises(ReviewError, match="status"):
        set_status(back[0], "done")


def test_bad_inputs_have_clear_errors():
    with pytest.raises(ReviewError, match="differs"):
        find_uncertain_regions(np.zeros((4, 4)), np.zeros((5, 5)))
    with pytest.raises(ReviewError, match="2D"):
        find_uncertain_regions(None, np.zeros((2, 3, 4, 5)))
    with pytest.raises(ReviewError, match="spacing"):
        find_uncertain_regions(None, np.ones((4, 4)), spacing=(1.0,))
