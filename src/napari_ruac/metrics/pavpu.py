"""PAvPU (Mukhoti & Gal 2018): do uncertain patches coincide with inaccurate ones?

Non-overlapping patches (4x4 by default) over the last two axes, so a volume (Z, Y, X) is
judged slice by slice. A patch is accurate if its pixel accuracy >= ``accuracy_threshold``
and uncertain if its mean uncertainty >= u_T; PAvPU = (n_ac + n_iu) / N, with n_ac accurate
and certain patches, n_iu inaccurate and uncertain ones, N all patches. Edge patches that do
not fill a whole window count with the pixels they have; pixels outside ``valid`` are left
out and patches with no valid pixel are dropped.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._inputs import binary, needs_slices, same_shape, undefined, unit_interval, valid_mask

#: Our decision: u_T = 0.5, half the maximum of an uncertainty in [0, 1] (binary entropy in
#: bits >= 0.5 means p is within [0.11, 0.89]). The papers sweep u_T; see pavpu_curve.
DEFAULT_UNCERTAINTY_THRESHOLD = 0.5
DEFAULT_PATCH = 4


class PAvPUCurve(NamedTuple):
    """PAvPU at each threshold u_T, and its maximum over them."""

    thresholds: np.ndarray
    values: np.ndarray
    best_value: float
    best_threshold: float


def _patch_sizes(patch, ndim: int) -> tuple[int, ...]:
    """Window size per axis: an int is a square window over the last two axes."""
    sizes = (int(patch),) * 2 if np.isscalar(patch) else tuple(int(p) for p in patch)
    if not sizes or len(sizes) > ndim or min(sizes) < 1:
        raise ValueError(f"patch must be a positive int or up to {ndim} positive sizes, got {patch!r}")
    return sizes


def _patch_sums(array: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    """Sum of ``array`` over each non-overlapping window of the last len(sizes) axes."""
    for offset, size in enumerate(sizes):
        axis = array.ndim - len(sizes) + offset
        array = np.add.reduceat(array, np.arange(0, array.shape[axis], size), axis=axis)
    return array


def patch_statistics(prediction, target, uncertainty, patch=DEFAULT_PATCH, valid=None):
    """Per-patch (accuracy, mean uncertainty) as flat arrays, over patches with a valid pixel."""
    prediction, target = binary(prediction, "prediction"), binary(target, "target")
    uncertainty = unit_interval(uncertainty, "uncertainty")
    shape = same_shape(prediction=prediction, target=target, uncertainty=uncertainty)
    needs_slices(shape, "PAvPU")
    valid = valid_mask(valid, shape)
    sizes = _patch_sizes(patch, len(shape))
    if 0 in shape:
        return np.zeros(0), np.zeros(0)
    weight = np.ones(shape, np.float64) if valid is None else valid.astype(np.float64)
    counts = _patch_sums(weight, sizes).ravel()
    correct = _patch_sums((prediction == target) * weight, sizes).ravel()
    uncertainty_sum = _patch_sums(uncertainty * weight, sizes).ravel()
    keep = counts > 0
    return correct[keep] / counts[keep], uncertainty_sum[keep] / counts[keep]


def pavpu_curve(
    prediction,
    target,
    uncertainty,
    thresholds=None,
    patch=DEFAULT_PATCH,
    accuracy_threshold: float = 0.5,
    valid=None,
) -> PAvPUCurve:
    """PAvPU for each u_T in ``thresholds`` (default 0, 0.01, ..., 1), one sort for all of them.

    ``uncertainty`` must lie in [0, 1]; best_value/best_threshold: the maximum and its first u_T.
    """
    accuracy, mean_uncertainty = patch_statistics(prediction, target, uncertainty, patch, valid)
    if thresholds is None:
        grid = np.linspace(0.0, 1.0, 101)
    else:
        grid = np.atleast_1d(np.asarray(thresholds, np.float64))
    if accuracy.size == 0:
        undefined("PAvPU", "no patch with a valid pixel")
        values = np.full(grid.shape, np.nan)
        return PAvPUCurve(grid, values, float("nan"), float("nan"))
    accurate = accuracy >= accuracy_threshold
    accurate_u = np.sort(mean_uncertainty[accurate])
    inaccurate_u = np.sort(mean_uncertainty[~accurate])
    # uncertain = mean U >= u_T: count the patches strictly below u_T with a left search
    accurate_certain = np.searchsorted(accurate_u, grid, side="left")
    inaccurate_uncertain = inaccurate_u.size - np.searchsorted(inaccurate_u, grid, side="left")
    values = (accurate_certain + inaccurate_uncertain) / accuracy.size
    best = int(np.argmax(values))
    return PAvPUCurve(grid, values, float(values[best]), float(grid[best]))


def pavpu(
    prediction,
    target,
    uncertainty,
    patch=DEFAULT_PATCH,
    accuracy_threshold: float = 0.5,
    uncertainty_threshold: float = DEFAULT_UNCERTAINTY_THRESHOLD,
    valid=None,
) -> float:
    """PAvPU at one u_T (default 0.5): fraction of patches that are accurate-and-certain or
    inaccurate-and-uncertain; higher is better, 1 = uncertainty flags exactly the bad patches."""
    curve = pavpu_curve(prediction, target, uncertainty, [uncertainty_threshold], patch, accuracy_threshold, valid)
    return float(curve.values[0])
