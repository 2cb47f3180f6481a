"""Interior, object-level and review-coverage metrics (issue 13), each against a hand-computed case."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ruac.metrics import (
    MetricUndefinedWarning,
    auroc,
    boundary_band,
    failed_object_auroc,
    interior_auroc,
    interior_mask,
    interior_pearson,
    object_region,
    object_score,
    object_spearman,
    region_coverage_curve,
    substantive_error,
    top_k_coverage,
)
from napari_ruac.review import find_uncertain_regions, region_error_coverage, segmentation_error, substantive_coverage


# ---------------------------------------------------------------- the band around the true boundary
def test_band_of_a_square_counted_by_hand():
    target = np.zeros((7, 7), bool)
    target[2:5, 2:5] = True
    band = boundary_band(target, 1)
    expected = target.copy()
    expected[3, 3] = False  # the centre is 2 px from the background
    expected[1, 2:5] = expected[5, 2:5] = expected[2:5, 1] = expected[2:5, 5] = True  # 4-neighbours outside
    np.testing.assert_array_equal(band, expected)  # the outer corners are √2 away: not in a 1-px band
    assert band.sum() == 20
    assert boundary_band(target, 0).sum() == 0
    assert boundary_band(target, 2)[3, 3] and boundary_band(target, 2)[0, 2]


def test_band_ignores_the_image_border_and_empty_or_full_targets():
    target = np.zeros((6, 6), bool)
    target[:, :3] = True  # the object touches the border on three sides
    band = boundary_band(target, 1)
    assert band[:, 2].all() and band[:, 3].all() and band.sum() == 12
    assert not boundary_band(np.zeros((5, 5), bool)).any()
    assert not boundary_band(np.ones((5, 5), bool)).any()
    assert interior_mask(np.zeros((5, 5), bool)).all()


def test_band_works_per_slice_of_a_volume():
    target = np.zeros((2, 7, 7), bool)
    target[0, 2:5, 2:5] = True
    band = boundary_band(target, 1)
    assert band[0].sum() == 20 and not band[1].any()  # slice 1 is empty: no boundary across z


def test_band_must_be_a_non_negative_number():
    with pytest.raises(ValueError, match="band"):
        boundary_band(np.ones((3, 3), bool), -1)
    with pytest.raises(ValueError, match="band"):
        boundary_band(np.ones((3, 3), bool), "wide")


# ---------------------------------------------------------------- interior AUROC / Pearson
def _half_plane_case():
    target = np.zeros((10, 10), bool)
    target[:, :5] = True
    prediction = target.copy()
    prediction[:, 4] = False  # an edge error, inside the 1-px band
    prediction[0, 8] = True  # a leak beyond the band
    prediction[9, 0] = False  # a hole beyond the band
    uncertainty = np.zeros((10, 10), np.float32)
    uncertainty[:, 4:6] = 1.0
    uncertainty[0, 8], uncertainty[9, 0], uncertainty[5, 2] = 0.8, 0.3, 0.5
    return uncertainty, prediction, target


def test_interior_auroc_counted_by_hand():
    uncertainty, prediction, target = _half_plane_case()
    # interior: columns 0-3 and 6-9 (80 px); errors 0.8 and 0.3 against 78 correct (one at 0.5, 77 at 0)
    assert interior_auroc(uncertainty, prediction, target, band=1) == pytest.approx((78 + 77) / (2 * 78))
    # without the band the edge errors (U = 1) dominate and the score differs
    assert interior_auroc(uncertainty, prediction, target, band=0) == pytest.approx(auroc(uncertainty, prediction != target))
    expected_errors = np.zeros((10, 10), bool)
    expected_errors[0, 8] = expected_errors[9, 0] = True
    np.testing.assert_array_equal(substantive_error(prediction, target, band=1), expected_errors)


def test_interior_pearson_uses_only_interior_pixels():
    uncertainty, prediction, target = _half_plane_case()
    probability = np.where(prediction, 0.9, 0.1)
    inside = np.ones((10, 10), bool)
    inside[:, 4:6] = False
    soft_error = np.abs(probability - target)
    expected = np.corrcoef(uncertainty[inside], soft_error[inside])[0, 1]
    assert interior_pearson(uncertainty, probability, target, band=1) == pytest.approx(expected)


def test_interior_metrics_give_a_documented_nan_not_a_crash():
    target = np.zeros((20, 20), bool)
    target[8:11, 8:11] = True
    missed = np.zeros_like(target)
    missed[8:11, 8:11] = True
    missed[9, 9] = False  # the only error is within 2 px of the edge of a 3-px object
    uncertainty = np.random.default_rng(0).random((20, 20))
    with pytest.warns(MetricUndefinedWarning, match="AUROC"):  # band wider than the object: no interior error
        assert np.isnan(interior_auroc(uncertainty, missed, target, band=5))
    with pytest.warns(MetricUndefinedWarning):  # all-correct image
        assert np.isnan(interior_auroc(uncertainty, target, target))
    with pytest.warns(MetricUndefinedWarning):  # empty masks: nothing to find
        assert np.isnan(interior_auroc(uncertainty, np.zeros_like(target), np.zeros_like(target)))
    with pytest.warns(MetricUndefinedWarning):  # constant uncertainty
        assert np.isnan(interior_pearson(np.zeros((20, 20)), missed * 0.9, target))
    bad = uncertainty.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="nan"):
        interior_auroc(bad, missed, target)
    with pytest.raises(ValueError, match="shapes differ"):
        interior_auroc(uncertainty[:5], missed, target)


# ---------------------------------------------------------------- object level
def _object_case():
    prediction = np.zeros((10, 10), bool)
    prediction[5, 5] = True
    uncertainty = np.zeros((10, 10))
    uncertainty[5, 5] = 0.4
    uncertainty[5, 6:9] = 0.9  # an uncertain run attached to the mask's rim
    uncertainty[0, 0] = 1.0  # an uncertain spot elsewhere: not the object's
    return prediction, uncertainty


def test_object_region_and_score_by_hand():
    prediction, uncertainty = _object_case()
    region = object_region(prediction, uncertainty, radius=1)
    expected = np.zeros((10, 10), bool)
    expected[4:7, 5] = expected[5, 4:9] = True  # the plus-shaped 1-px dilation, then the attached run
    np.testing.assert_array_equal(region, expected)
    # per mask pixel (default): the region's sum over the mask's one pixel; per region: the region's mean
    assert object_score(prediction, uncertainty, radius=1) == pytest.approx(0.4 + 3 * 0.9)
    assert object_score(prediction, uncertainty, radius=1, per="region") == pytest.approx((0.4 + 3 * 0.9) / 7)
    grown = prediction.copy()
    grown[5, 4] = True  # a second mask pixel (U 0) halves the per-pixel score; the region gains (6, 4)
    assert object_score(grown, uncertainty, radius=1) == pytest.approx((0.4 + 3 * 0.9) / 2)
    with pytest.raises(ValueError, match="per must be one of"):
        object_score(prediction, uncertainty, per="image")


def test_object_score_of_an_empty_prediction():
    prediction, uncertainty = _object_case()
    empty = np.zeros_like(prediction)
    assert object_score(empty, uncertainty) == pytest.approx(3 * 0.9 + 1.0)  # every uncertain pixel, per 1 px
    assert object_score(empty, uncertainty, per="region") == pytest.approx((3 * 0.9 + 1.0) / 4)
    calm = np.full((10, 10), 0.1)
    assert object_score(empty, calm) == pytest.approx(0.1)  # nothing uncertain: the whole image's mean
    assert object_score(empty, calm, per="region") == pytest.approx(0.1)
    bad = uncertainty.copy()
    bad[2, 2] = np.nan
    with pytest.raises(ValueError, match="nan"):
        object_score(prediction, bad)


def test_object_spearman_and_failed_object_auroc_by_hand():
    scores = [0.1, 0.2, 0.3, 0.4]
    # 1 - IoU = 0.1, 0.2, 0.05, 0.9 -> ranks 2, 3, 1, 4 against 1, 2, 3, 4: Σd² = 6, ρ = 1 - 36/60
    assert object_spearman(scores, [0.9, 0.8, 0.95, 0.1]) == pytest.approx(0.4)
    # failed (IoU < 0.8): scores 0.2 and 0.4 against good 0.1 and 0.3 -> 3 of 4 pairs ordered
    assert failed_object_auroc(scores, [0.9, 0.5, 0.95, 0.1]) == pytest.approx(0.75)
    assert failed_object_auroc(scores, [0.9, 0.8, 0.95, 0.1]) == pytest.approx(1.0)  # IoU 0.8 is not a failure


def test_object_metrics_undefined_cases():
    with pytest.warns(MetricUndefinedWarning, match="3 objects"):
        assert np.isnan(object_spearman([0.1, 0.2], [0.5, 0.9]))
    with pytest.warns(MetricUndefinedWarning):
        assert np.isnan(object_spearman([0.1, 0.2, 0.3], [0.9, 0.9, 0.9]))
    with pytest.warns(MetricUndefinedWarning, match="failed"):  # all objects fine
        assert np.isnan(failed_object_auroc([0.1, 0.2, 0.3], [0.9, 0.95, 0.85]))
    with pytest.raises(ValueError, match="one value per object"):
        object_spearman([0.1, 0.2, 0.3], [0.9, 0.5])
    with pytest.raises(ValueError, match="nan"):
        object_spearman([0.1, np.nan, 0.3], [0.9, 0.5, 0.2])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        failed_object_auroc([0.1, 0.2], [1.5, 0.5])


# ---------------------------------------------------------------- review coverage
def test_region_coverage_curve_by_hand():
    components = np.array([[1, 1, 0, 2], [0, 3, 3, 2]])
    error = np.array([[1, 0, 1, 1], [0, 1, 1, 1]], bool)  # 6 error px: 1 in c1, 2 in c2, 2 in c3, 1 outside
    k, covered = region_coverage_curve(components, [2, 1, 3], error)
    assert k.tolist() == [0, 1, 2, 3]
    assert covered == pytest.approx([0, 2 / 6, 3 / 6, 5 / 6])
    assert top_k_coverage(covered, (1, 3, 10)) == pytest.approx({1: 2 / 6, 3: 5 / 6, 10: 5 / 6})
    with pytest.warns(MetricUndefinedWarning):  # an all-correct image: nothing to cover
        _, none = region_coverage_curve(components, [2, 1, 3], np.zeros((2, 4), bool))
    assert np.isnan(none).all()
    with pytest.raises(ValueError, match="component ids"):
        region_coverage_curve(components, [4], error)


def _review_case():
    truth = np.zeros((40, 40), np.uint8)
    truth[10:30, 10:30] = 1
    mask = truth.copy()
    mask[29, 10:30] = 0  # an edge error (in the band)
    mask[32:38, 10:20] = 1  # a leak 3 px away from the object: substantive
    uncertainty = np.zeros((40, 40), np.float32)
    uncertainty[32:35, 10:20] = 0.9  # half the leak is flagged (score 27)
    uncertainty[0:5, 35:40] = 0.6  # a correct uncertain blob (score 15)
    uncertainty[29, 10:30] = 0.7  # the edge error (score 14)
    return mask, uncertainty, truth


def test_substantive_coverage_uses_the_widget_regions_and_the_band():
    mask, uncertainty, truth = _review_case()
    regions, k, covered = substantive_coverage(mask, uncertainty, truth)
    assert [r.size for r in regions] == [30, 25, 20]  # ranked as the widget lists them
    assert [r.size for r in find_uncertain_regions(mask, uncertainty)] == [30, 25, 20]
    assert covered == pytest.approx([0, 0.5, 0.5, 0.5])  # 30 of the 60 leak px; the edge error is not counted
    _, _, everything = substantive_coverage(mask, uncertainty, truth, band=0)
    assert everything == pytest.approx([0, 30 / 80, 30 / 80, 50 / 80])
    # the widget's path (segmentation_error with the band + region_error_coverage) gives the same curve
    from napari_ruac.review import label_uncertain_components

    components = label_uncertain_components(uncertainty, 0.5, 10)
    _, widget = region_error_coverage(regions, components, segmentation_error(mask, truth, 2))
    assert widget == pytest.approx(covered)


def test_error_component_ceiling_by_hand():
    from napari_ruac.metrics import MetricUndefinedWarning, error_component_ceiling

    error = np.zeros((20, 20), bool)
    error[0:2, 0:5] = True  # 10 px
    error[10:16, 10:15] = True  # 30 px
    error[18, 18] = True  # 1 px
    error[5, 5] = error[6, 6] = True  # 2 px, one component (diagonal neighbours)
    total = 43
    out = error_component_ceiling(error, (1, 2, 10))
    assert out[1] == pytest.approx(30 / total) and out[2] == pytest.approx(40 / total) and out[10] == 1.0
    volume = np.zeros((3, 4, 4), bool)
    volume[0, 0, 0] = volume[1, 1, 1] = True  # touching across z (26-connectivity)
    volume[2, 3, 3] = True
    assert error_component_ceiling(volume, (1,))[1] == pytest.approx(2 / 3)
    with pytest.warns(MetricUndefinedWarning):
        assert np.isnan(error_component_ceiling(np.zeros((4, 4)), (10,))[10])
    with pytest.raises(ValueError):
        error_component_ceiling(np.array([[np.nan, 1.0]]))
