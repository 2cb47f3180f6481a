"""napari_ruac.metrics against independent references (sklearn, scipy, torchmetrics, brute force)
and small cases counted by hand."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from scipy import ndimage, stats
from sklearn.metrics import brier_score_loss, f1_score, jaccard_score, roc_auc_score
from torchmetrics.classification import BinaryCalibrationError, BinaryJaccardIndex, MulticlassCalibrationError

from napari_ruac.metrics import (
    EVALUATE_KEYS,
    MetricUndefinedWarning,
    aurc,
    auroc,
    binary_error,
    boundary,
    boundary_iou,
    boundary_width,
    brier,
    dice,
    ece,
    evaluate,
    excess_aurc,
    iou,
    oracle_aurc,
    pavpu,
    pavpu_curve,
    pearson,
    pearson_roi,
    predicted_mask,
    probabilistic_error,
    risk_coverage_curve,
    roi_mask,
    roi_radius,
    wilcoxon,
)


def random_case(shape=(48, 40), seed=0, ties=False):
    """A target blob, a noisy probability map that is partly wrong, and an uncertainty map."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    target = sum(g**2 for g in grids[-2:]) < 0.4
    probability = np.clip(0.8 * target + 0.1 + rng.normal(0, 0.3, shape), 0, 1)
    uncertainty = rng.random(shape)
    if ties:
        uncertainty = np.round(uncertainty * 5) / 5
    return probability, uncertainty, target


# ---------------------------------------------------------------- AUROC


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", [False, True])
def test_auroc_matches_sklearn(seed, ties):
    probability, uncertainty, target = random_case(seed=seed, ties=ties)
    error = binary_error(probability > 0.5, target)
    assert 0 < error.sum() < error.size
    expected = roc_auc_score(error.ravel(), uncertainty.ravel())
    assert auroc(uncertainty, error) == pytest.approx(expected, abs=1e-12)


def test_auroc_volume_valid_mask_and_torch_input():
    probability, uncertainty, target = random_case(shape=(4, 24, 24), seed=3, ties=True)
    error = binary_error(probability > 0.5, target)
    valid = np.random.default_rng(4).random(error.shape) < 0.7
    expected = roc_auc_score(error[valid], uncertainty[valid])
    assert auroc(uncertainty, error, valid=valid) == pytest.approx(expected, abs=1e-12)
    as_tensors = [torch.from_numpy(a) for a in (uncertainty, error, valid)]
    assert auroc(*as_tensors) == pytest.approx(expected, abs=1e-12)


def test_auroc_perfect_inverted_constant():
    error = np.zeros((8, 8), bool)
    error[2:4, 3:7] = True
    assert auroc(error.astype(float), error) == 1.0  # uncertainty exactly equal to error
    assert auroc(1.0 - error, error) == 0.0
    assert auroc(np.full(error.shape, 0.3), error) == 0.5  # constant: every pair tied


def test_auroc_undefined_without_errors_or_without_correct_pixels():
    uncertainty = np.random.default_rng(0).random((8, 8))
    with pytest.warns(MetricUndefinedWarning, match="AUROC"):
        assert math.isnan(auroc(uncertainty, np.zeros((8, 8), bool)))
    with pytest.warns(MetricUndefinedWarning, match="AUROC"):
        assert math.isnan(auroc(uncertainty, np.ones((8, 8), bool)))


# ---------------------------------------------------------------- risk-coverage / AURC


def naive_aurc(uncertainty, error):
    """Geifman's definition in a fixed order: mean over k of the error rate of the first k."""
    order = np.argsort(uncertainty.ravel(), kind="stable")
    ordered = error.ravel()[order].astype(float)
    return float(np.mean(np.cumsum(ordered) / np.arange(1, ordered.size + 1)))


def test_risk_coverage_counted_by_hand():
    uncertainty = np.array([[0.1, 0.2], [0.3, 0.4]])
    error = np.array([[0, 1], [0, 1]], bool)
    coverage, risk = risk_coverage_curve(uncertainty, error)
    np.testing.assert_allclose(coverage, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(risk, [0.0, 0.5, 1 / 3, 0.5])
    assert aurc(uncertainty, error) == pytest.approx((0 + 0.5 + 1 / 3 + 0.5) / 4)
    # oracle: the two correct pixels first -> risks 0, 0, 1/3, 1/2
    assert oracle_aurc(error) == pytest.approx((0 + 0 + 1 / 3 + 0.5) / 4)
    assert excess_aurc(uncertainty, error) == pytest.approx(0.5 / 4)


@pytest.mark.parametrize("seed", [0, 5])
def test_aurc_without_ties_matches_the_plain_definition(seed):
    probability, uncertainty, target = random_case(seed=seed)
    error = binary_error(probability > 0.5, target)
    assert aurc(uncertainty, error) == pytest.approx(naive_aurc(uncertainty, error), rel=1e-10)
    soft = probabilistic_error(probability, target)  # a real-valued loss also works
    assert aurc(uncertainty, soft) == pytest.approx(naive_aurc(uncertainty, soft), rel=1e-10)


def test_aurc_with_ties_is_the_mean_over_every_order_of_the_ties():
    uncertainty = np.array([0.2, 0.2, 0.2, 0.5, 0.5, 0.9, 0.1])
    error = np.array([1, 0, 1, 0, 1, 1, 0], bool)
    groups = [np.flatnonzero(uncertainty == value) for value in np.unique(uncertainty)]
    values = []
    for orders in itertools.product(*[itertools.permutations(g) for g in groups]):
        sequence = error[np.concatenate(orders)].astype(float)
        values.append(np.mean(np.cumsum(sequence) / np.arange(1, sequence.size + 1)))
    assert aurc(uncertainty, error) == pytest.approx(np.mean(values), rel=1e-12)
    # and does not depend on where the pixels sit
    permutation = np.random.default_rng(0).permutation(uncertainty.size)
    shuffled = aurc(uncertainty[permutation], error[permutation])
    assert shuffled == pytest.approx(aurc(uncertainty, error), rel=1e-12)


def test_risk_coverage_curve_matches_thresholding_brute_force():
    probability, uncertainty, target = random_case(seed=7, ties=True)
    error = binary_error(probability > 0.5, target)
    coverage, risk = risk_coverage_curve(uncertainty, error)
    thresholds = np.unique(uncertainty)
    assert coverage.shape == thresholds.shape
    for c, r, t in zip(coverage, risk, thresholds):
        kept = uncertainty <= t
        assert c == pytest.approx(kept.mean())
        assert r == pytest.approx(error[kept].mean())
    assert coverage[-1] == 1.0 and risk[-1] == pytest.approx(error.mean())


def test_aurc_oracle_perfect_and_all_wrong():
    _, _, target = random_case(seed=1)
    error = np.zeros(target.shape, bool)
    error[::7, ::3] = True
    n, m = error.size, int(error.sum())
    k = np.arange(1, n + 1)
    closed_form = np.mean(np.maximum(0, k - (n - m)) / k)  # errors ranked last
    assert oracle_aurc(error) == pytest.approx(closed_form, rel=1e-12)
    assert aurc(error.astype(float), error) == pytest.approx(closed_form, rel=1e-12)  # U == E
    assert excess_aurc(error.astype(float), error) == pytest.approx(0.0, abs=1e-12)
    uncertainty = np.random.default_rng(2).random(target.shape)
    assert excess_aurc(uncertainty, error) > 0.01
    assert aurc(uncertainty, np.zeros_like(error)) == 0.0  # perfect prediction
    assert aurc(uncertainty, np.ones_like(error)) == pytest.approx(1.0)  # all wrong
    assert aurc(np.full(error.shape, 0.5), error) == pytest.approx(error.mean())  # constant: random order


# ---------------------------------------------------------------- PAvPU


def brute_pavpu(prediction, target, uncertainty, threshold, patch=4, accuracy_threshold=0.5, valid=None):
    """PAvPU with explicit loops over the windows of each slice."""
    valid = np.ones(target.shape, bool) if valid is None else valid
    maps = (prediction, target, uncertainty, valid)
    prediction, target, uncertainty, valid = (a.reshape((-1,) + a.shape[-2:]) for a in maps)
    n_ac = n_iu = total = 0
    for z in range(target.shape[0]):
        for y in range(0, target.shape[1], patch):
            for x in range(0, target.shape[2], patch):
                window = (z, slice(y, y + patch), slice(x, x + patch))
                inside = valid[window]
                if not inside.any():
                    continue
                accurate = (prediction[window] == target[window])[inside].mean() >= accuracy_threshold
                uncertain = uncertainty[window][inside].mean() >= threshold
                total += 1
                n_ac += accurate and not uncertain
                n_iu += (not accurate) and uncertain
    return (n_ac + n_iu) / total


def test_pavpu_counted_by_hand_on_8x8():
    target = np.zeros((8, 8), bool)
    prediction = np.zeros((8, 8), bool)
    uncertainty = np.zeros((8, 8))
    # top-left: accurate, certain (n_ac)
    # top-right: exactly half wrong -> accurate (>= 0.5), mean U exactly 0.5 -> uncertain (n_au)
    prediction[0:2, 4:8] = True
    uncertainty[0:4, 4:8] = 0.5
    # bottom-left: 12 of 16 wrong -> inaccurate, mean U 0.75 -> uncertain (n_iu)
    prediction[4:7, 0:4] = True
    uncertainty[4:8, 0:4] = 0.75
    # bottom-right: all wrong, certain (n_ic)
    target[4:8, 4:8] = True
    assert pavpu(prediction, target, uncertainty) == 0.5  # (1 + 1) / 4
    assert pavpu(prediction, target, uncertainty, uncertainty_threshold=0.6) == 0.75  # top-right now certain
    assert pavpu(prediction, target, uncertainty, uncertainty_threshold=0.8) == 0.5
    assert pavpu(prediction, target, uncertainty, accuracy_threshold=0.6) == 0.75  # top-right now n_iu
    assert pavpu(prediction, target, uncertainty, patch=8) == 0.0  # one patch: 36/64 wrong, mean U 0.3125
    curve = pavpu_curve(prediction, target, uncertainty, thresholds=[0.0, 0.5, 0.6, 0.8])
    np.testing.assert_allclose(curve.values, [0.5, 0.5, 0.75, 0.5])  # u_T = 0: all uncertain
    assert curve.best_value == 0.75 and curve.best_threshold == 0.6


@pytest.mark.parametrize("shape", [(16, 24), (13, 18), (3, 10, 9)])
def test_pavpu_matches_brute_force(shape):
    probability, uncertainty, target = random_case(shape=shape, seed=sum(shape))
    prediction = probability > 0.5
    valid = np.random.default_rng(1).random(shape) < 0.8
    for threshold in (0.3, 0.5, 0.55):
        assert pavpu(prediction, target, uncertainty, uncertainty_threshold=threshold) == pytest.approx(
            brute_pavpu(prediction, target, uncertainty, threshold)
        )
        masked = pavpu(prediction, target, uncertainty, uncertainty_threshold=threshold, valid=valid)
        assert masked == pytest.approx(brute_pavpu(prediction, target, uncertainty, threshold, valid=valid))
    assert pavpu(prediction, target, uncertainty, patch=3) == pytest.approx(
        brute_pavpu(prediction, target, uncertainty, 0.5, patch=3)
    )


def test_pavpu_curve_sweeps_and_its_limits():
    probability, uncertainty, target = random_case(seed=9)
    prediction = probability > 0.5
    curve = pavpu_curve(prediction, target, uncertainty)
    assert curve.thresholds.shape == (101,)
    expected = [brute_pavpu(prediction, target, uncertainty, t) for t in curve.thresholds]
    np.testing.assert_allclose(curve.values, expected)
    assert curve.best_value == max(expected)
    # u_T = 0: every patch uncertain -> fraction inaccurate; above every mean: fraction accurate
    accurate_fraction = brute_pavpu(prediction, target, np.zeros_like(uncertainty), 0.5)
    assert curve.values[0] == pytest.approx(1 - accurate_fraction)
    assert pavpu_curve(prediction, target, uncertainty, [1.01]).values[0] == pytest.approx(accurate_fraction)


def test_pavpu_perfect_prediction_with_zero_uncertainty_is_one():
    _, _, target = random_case(seed=0)
    assert pavpu(target, target, np.zeros(target.shape)) == 1.0
    assert pavpu(~target, target, np.ones(target.shape)) == 1.0  # all wrong, all flagged
    assert pavpu(~target, target, np.zeros(target.shape)) == 0.0  # all wrong, none flagged


# ---------------------------------------------------------------- calibration


@pytest.mark.parametrize("bins", [10, 15])
@pytest.mark.parametrize("seed", [0, 1])
def test_ece_matches_torchmetrics(bins, seed):
    probability, _, target = random_case(seed=seed)
    probability = np.clip(probability, 0.0005, 0.9995)  # away from the extra bin torchmetrics gives 1.0
    p = torch.from_numpy(probability.ravel()).float()
    t = torch.from_numpy(target.ravel()).long()
    binary = BinaryCalibrationError(n_bins=bins, norm="l1")(p, t).item()
    assert ece(probability.astype(np.float32), target, bins=bins) == pytest.approx(binary, abs=1e-5)
    two_class = torch.stack([1 - p, p], dim=1)
    top_label = MulticlassCalibrationError(num_classes=2, n_bins=bins, norm="l1")(two_class, t).item()
    confidence_ece = ece(probability.astype(np.float32), target, bins=bins, mode="confidence")
    assert confidence_ece == pytest.approx(top_label, abs=1e-5)


def test_ece_by_hand():
    target = np.zeros((4, 4), bool)
    target[0, :] = True  # 25 % foreground
    assert ece(np.full((4, 4), 0.25), target) == pytest.approx(0.0)  # perfectly calibrated
    assert ece(np.full((4, 4), 0.9), np.ones((4, 4), bool)) == pytest.approx(0.1)
    assert ece(np.full((4, 4), 0.9), np.ones((4, 4), bool), mode="confidence") == pytest.approx(0.1)
    assert ece(np.where(target, 1.0, 0.0), target) == 0.0  # certain and right
    assert ece(np.where(target, 0.0, 1.0), target) == 1.0  # certain and wrong


def test_brier_matches_sklearn():
    probability, _, target = random_case(seed=4)
    assert brier(probability, target) == pytest.approx(brier_score_loss(target.ravel(), probability.ravel()))
    assert brier(target.astype(float), target) == 0.0
    assert brier(1.0 - target, target) == 1.0


# ---------------------------------------------------------------- Pearson and ROI


def test_pearson_matches_scipy_on_image_and_roi():
    probability, uncertainty, target = random_case(shape=(64, 64), seed=2)
    uncertainty = 0.5 * uncertainty + 0.5 * (np.abs(probability - target) > 0.4)  # partly aligned
    error = probabilistic_error(probability, target)
    np.testing.assert_allclose(error, np.abs(probability - target))
    assert pearson(uncertainty, error) == pytest.approx(stats.pearsonr(uncertainty.ravel(), error.ravel())[0])
    radius = math.ceil(0.02 * math.hypot(64, 64))
    roi = ndimage.binary_dilation(target, structure=np.ones((2 * radius + 1,) * 2))
    expected = stats.pearsonr(uncertainty[roi], error[roi])[0]
    assert pearson_roi(uncertainty, error, target) == pytest.approx(expected)


def test_roi_mask_by_hand_and_per_slice():
    target = np.zeros((100, 100), bool)
    target[50, 50] = True
    assert roi_radius(target.shape) == 3  # ceil(0.02 * 141.4)
    roi = roi_mask(target)
    assert roi.sum() == 49 and roi[47:54, 47:54].all()
    volume = np.zeros((3, 100, 100), bool)
    volume[1, 50, 50] = True
    roi = roi_mask(volume)
    assert roi[1].sum() == 49 and not roi[0].any() and not roi[2].any()  # no dilation across slices


def test_pearson_undefined_for_constant_maps_and_empty_roi():
    probability, uncertainty, target = random_case(seed=0)
    error = probabilistic_error(probability, target)
    with pytest.warns(MetricUndefinedWarning, match="constant"):
        assert math.isnan(pearson(np.full(error.shape, 0.2), error))
    with pytest.warns(MetricUndefinedWarning):
        assert math.isnan(pearson_roi(uncertainty, error, np.zeros(target.shape, bool)))


# ---------------------------------------------------------------- IoU, Dice, boundary IoU


@pytest.mark.parametrize("seed", [0, 1])
def test_iou_and_dice_match_sklearn_and_torchmetrics(seed):
    probability, _, target = random_case(seed=seed)
    prediction = probability > 0.5
    expected = jaccard_score(target.ravel(), prediction.ravel())
    assert iou(prediction, target) == pytest.approx(expected)
    tm = BinaryJaccardIndex()(torch.from_numpy(prediction).long(), torch.from_numpy(target).long()).item()
    assert iou(prediction, target) == pytest.approx(tm, abs=1e-6)
    assert dice(prediction, target) == pytest.approx(f1_score(target.ravel(), prediction.ravel()))


def test_overlap_edge_cases():
    _, _, target = random_case(seed=0)
    empty = np.zeros(target.shape, bool)
    for metric in (iou, dice, boundary_iou):
        assert metric(target, target) == 1.0
        assert metric(~target, target) == 0.0
        assert metric(empty, empty) == 1.0  # nothing to find, nothing found
        assert metric(target, empty) == 0.0


def reference_boundary(mask, d):
    """Boundary IoU's band: the mask minus d repeated 3x3 erosions, outside the image = background."""
    slices = mask.reshape((-1,) + mask.shape[-2:])
    eroded = [ndimage.binary_erosion(s, np.ones((3, 3)), iterations=d, border_value=0) for s in slices]
    return mask & ~np.stack(eroded).reshape(mask.shape)


def test_boundary_iou_counted_by_hand_on_8x8():
    target = np.zeros((8, 8), bool)
    target[2:6, 2:6] = True  # band: 16 - 4 = 12 px
    prediction = np.zeros((8, 8), bool)
    prediction[2:6, 2:7] = True  # band: 20 - 6 = 14 px
    assert boundary_width(target.shape) == 1  # max(1, round(0.02 * 11.3))
    assert boundary(target).sum() == 12 and boundary(prediction).sum() == 14
    # shared: rows 2 and 5 at columns 2..5 (8) and column 2 at rows 3, 4 (2) = 10; union 16
    assert boundary_iou(prediction, target) == pytest.approx(10 / 16)
    assert iou(prediction, target) == pytest.approx(16 / 20)


def test_boundary_touching_the_image_border_counts_as_boundary():
    full = np.ones((6, 6), bool)
    band = boundary(full, 1)
    assert band.sum() == 20 and not band[1:5, 1:5].any()


@pytest.mark.parametrize("d", [None, 2, 3])
def test_boundary_iou_matches_erosion_reference(d):
    probability, _, target = random_case(shape=(5, 40, 56), seed=3)
    prediction = ndimage.binary_opening(probability > 0.5, np.ones((1, 3, 3)))
    width = boundary_width(target.shape) if d is None else d
    assert width == (d or 1)
    for mask in (prediction, target):
        np.testing.assert_array_equal(boundary(mask, width), reference_boundary(mask, width))
    gb, pb = reference_boundary(target, width), reference_boundary(prediction, width)
    expected = (gb & pb).sum() / (gb | pb).sum()  # pooled over the slices
    assert boundary_iou(prediction, target, d=d) == pytest.approx(expected)
    # a 2D slice on its own uses that slice's diagonal: 0.02 * 69 -> d = 1
    assert boundary_iou(prediction[2], target[2]) == pytest.approx(
        (reference_boundary(target[2], 1) & reference_boundary(prediction[2], 1)).sum()
        / (reference_boundary(target[2], 1) | reference_boundary(prediction[2], 1)).sum()
    )


def test_boundary_width_scales_with_the_diagonal():
    assert boundary_width((1024, 1024)) == 29  # round(0.02 * 1448.2)
    assert boundary_width((10, 256, 256)) == 7  # per slice: round(7.24)


# ---------------------------------------------------------------- Wilcoxon


def test_wilcoxon_matches_scipy_and_reports_median_difference():
    rng = np.random.default_rng(0)
    a = rng.random(23)
    b = a - 0.05 + rng.normal(0, 0.05, 23)
    result = wilcoxon(a, b)
    reference = stats.wilcoxon(a, b)
    assert result.statistic == pytest.approx(reference.statistic)
    assert result.pvalue == pytest.approx(reference.pvalue)
    assert result.median_difference == pytest.approx(np.median(a - b))
    assert result.n == 23
    greater = wilcoxon(a, b, alternative="greater")
    assert greater.pvalue == pytest.approx(stats.wilcoxon(a, b, alternative="greater").pvalue)


def test_wilcoxon_all_equal_and_nan_pairs():
    a = np.array([0.7, 0.8, 0.9])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = wilcoxon(a, a.copy())
    assert result == (0.0, 1.0, 0.0, 3)
    b = np.array([0.5, np.nan, 0.6, 0.65, 0.2, 0.1])
    c = np.array([0.4, 0.3, 0.5, np.nan, 0.1, 0.05])
    keep = [0, 2, 4, 5]
    result = wilcoxon(b, c)
    assert result.n == 4 and result.pvalue == pytest.approx(stats.wilcoxon(b[keep], c[keep]).pvalue)
    with pytest.raises(ValueError, match="equal length"):
        wilcoxon([1, 2, 3], [1, 2])


# ---------------------------------------------------------------- evaluate


def test_evaluate_returns_every_metric_consistently():
    probability, uncertainty, target = random_case(shape=(64, 64), seed=11)
    results = evaluate(probability, uncertainty, target)
    assert tuple(results) == EVALUATE_KEYS
    assert all(isinstance(v, float) and math.isfinite(v) for v in results.values())
    prediction = predicted_mask(probability)
    np.testing.assert_array_equal(prediction, probability > 0.5)
    error = prediction != target
    soft = np.abs(probability - target)
    assert results["auroc"] == pytest.approx(roc_auc_score(error.ravel(), uncertainty.ravel()))
    assert results["pavpu"] == pytest.approx(brute_pavpu(prediction, target, uncertainty, 0.5))
    assert results["pavpu_max"] == pytest.approx(pavpu_curve(prediction, target, uncertainty).best_value)
    assert results["aurc"] == pytest.approx(naive_aurc(uncertainty, error))
    assert results["excess_aurc"] == pytest.approx(results["aurc"] - oracle_aurc(error))
    assert results["ece"] == pytest.approx(ece(probability, target))
    assert results["brier"] == pytest.approx(brier_score_loss(target.ravel(), probability.ravel()))
    assert results["pearson"] == pytest.approx(stats.pearsonr(uncertainty.ravel(), soft.ravel())[0])
    assert results["pearson_roi"] == pytest.approx(pearson_roi(uncertainty, soft, target))
    assert results["iou"] == pytest.approx(jaccard_score(target.ravel(), prediction.ravel()))
    assert results["dice"] == pytest.approx(dice(prediction, target))
    assert results["boundary_iou"] == pytest.approx(boundary_iou(prediction, target))
    assert results["accuracy"] == pytest.approx(1 - error.mean())
    assert results["mean_uncertainty"] == pytest.approx(uncertainty.mean())


def test_evaluate_with_given_prediction_valid_mask_volume_and_tensors():
    probability, uncertainty, target = random_case(shape=(3, 32, 32), seed=12)
    prediction = np.zeros(target.shape, bool)
    prediction[:, 8:24, 8:24] = True
    valid = np.ones(target.shape, bool)
    valid[:, :, :4] = False
    results = evaluate(
        *[torch.from_numpy(a) for a in (probability, uncertainty, target)], prediction, valid
    )
    error = prediction != target
    assert results["auroc"] == pytest.approx(roc_auc_score(error[valid], uncertainty[valid]))
    assert results["iou"] == pytest.approx(jaccard_score(target[valid], prediction[valid]))
    assert results["accuracy"] == pytest.approx(1 - error[valid].mean())


def test_evaluate_perfect_prediction_gives_nan_where_undefined_without_warnings():
    _, _, target = random_case(seed=0)
    probability = target.astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = evaluate(probability, np.zeros(target.shape), target)
    assert math.isnan(results["auroc"])  # no erroneous pixel to detect
    assert math.isnan(results["pearson"])  # constant maps
    assert results["iou"] == results["dice"] == results["boundary_iou"] == 1.0
    assert results["aurc"] == results["excess_aurc"] == results["ece"] == results["brier"] == 0.0
    assert results["pavpu"] == 1.0 and results["accuracy"] == 1.0


def test_evaluate_empty_target_and_all_wrong():
    probability, uncertainty, target = random_case(seed=1)
    empty = np.zeros(target.shape, bool)
    results = evaluate(probability, uncertainty, empty)
    assert results["iou"] == 0.0 and math.isnan(results["pearson_roi"])
    assert math.isfinite(results["auroc"])
    wrong = evaluate(1.0 - target, np.ones(target.shape), target)
    assert wrong["iou"] == 0.0 and wrong["accuracy"] == 0.0 and wrong["aurc"] == pytest.approx(1.0)
    assert wrong["brier"] == 1.0 and wrong["ece"] == 1.0 and wrong["pavpu"] == 1.0


def test_uncertainty_equal_to_error_is_the_ideal_ranking():
    probability, _, target = random_case(seed=5)
    error = binary_error(probability > 0.5, target)
    results = evaluate(probability, error.astype(float), target)
    assert results["auroc"] == 1.0
    assert results["aurc"] == pytest.approx(oracle_aurc(error))
    assert results["excess_aurc"] == pytest.approx(0.0)


# ---------------------------------------------------------------- bad input


def test_bad_input_gets_a_clear_error():
    probability, uncertainty, target = random_case(seed=0)
    with pytest.raises(ValueError, match="shapes differ"):
        evaluate(probability, uncertainty[:-1], target)
    with pytest.raises(ValueError, match=r"probability must lie in \[0, 1\]"):
        brier(probability * 3 - 1, target)
    with pytest.raises(ValueError, match="binary"):
        iou(probability > 0.5, target * 255)
    with pytest.raises(ValueError, match="nan"):
        auroc(np.where(target, np.nan, 0.2), target)
    with pytest.raises(ValueError, match="2D image or a volume"):
        boundary_iou(target.ravel(), target.ravel())
    with pytest.raises(ValueError, match="valid has shape"):
        auroc(uncertainty, target, valid=np.ones(3, bool))
    with pytest.raises(ValueError, match="mode"):
        ece(probability, target, mode="top")


# ---------------------------------------------------------------- on a real prediction


def test_evaluate_on_a_fitted_model_prediction(fitted, blob):
    from napari_ruac.core.boxes import tight_box

    from napari_ruac import ImagePredictor

    image, labels = blob
    target = labels == 1
    predictor = ImagePredictor(fitted, method="ruac")
    predictor.set_image(image)
    out = predictor.predict(box=tight_box(target))
    results = evaluate(out.probability, out.uncertainty, target, out.mask)
    assert tuple(results) == EVALUATE_KEYS
    assert results["iou"] > 0.7  # the fitted decoder finds the blob (0.90 when written)
    assert results["auroc"] > 0.8  # and its uncertainty sits where its errors are (0.996 when written)
