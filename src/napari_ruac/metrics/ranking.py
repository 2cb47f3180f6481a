"""Does the uncertainty rank the wrong pixels first? AUROC and risk-coverage (AURC).

All are sort-based (O(N log N), no loop over pixels). Pixels with equal uncertainty are one
group: AUROC counts tied pairs as 1/2 (as sklearn's roc_auc_score), and the risk-coverage
curve/AURC treat a tie group as unordered (the expectation over every order inside it), so
the results never depend on pixel order.
"""

from __future__ import annotations

import numpy as np

from ._inputs import binary, finite, same_shape, select, undefined, valid_mask


def _flat_pair(uncertainty, error, valid, error_must_be_binary: bool):
    """Flat (uncertainty, error) over the valid pixels; error as bool when it is 0/1, else float64."""
    uncertainty = finite(uncertainty, "uncertainty")
    if error_must_be_binary:
        error = binary(error, "error")
    else:
        error = finite(error, "error")
        if error.size and error.min() < 0:
            raise ValueError("error must be >= 0 (a 0/1 error map or a loss such as |P - M|)")
    shape = same_shape(uncertainty=uncertainty, error=error)
    valid = valid_mask(valid, shape)
    uncertainty, error = select(uncertainty, valid), select(error, valid)
    if error.dtype != bool and ((error == 0) | (error == 1)).all():
        error = error == 1
    return uncertainty, error if error.dtype == bool else error.astype(np.float64)


def _tie_groups(uncertainty: np.ndarray, error: np.ndarray):
    """Groups of equal uncertainty in increasing order: (size, error sum) of each group.

    A binary error needs only two plain sorts and a search (much faster than an argsort);
    a real-valued loss is summed per group after an argsort.
    """
    if error.dtype == bool:
        sorted_uncertainty = np.sort(uncertainty)
        starts = np.flatnonzero(np.r_[True, sorted_uncertainty[1:] != sorted_uncertainty[:-1]])
        erroneous = np.sort(uncertainty[error])
        errors_up_to = np.searchsorted(erroneous, sorted_uncertainty[starts], side="right")
        error_sums = np.diff(np.r_[0, errors_up_to]).astype(np.float64)
    else:
        order = np.argsort(uncertainty, kind="stable")
        sorted_uncertainty = uncertainty[order]
        starts = np.flatnonzero(np.r_[True, sorted_uncertainty[1:] != sorted_uncertainty[:-1]])
        error_sums = np.add.reduceat(error[order], starts)
    sizes = np.diff(np.r_[starts, uncertainty.size])
    return sizes, error_sums


def auroc(uncertainty, error, valid=None) -> float:
    """AUROC of the uncertainty as a detector of erroneous pixels (binary ``error``); 0.5 = chance.

    Equals sklearn.metrics.roc_auc_score(error, uncertainty), ties included (Mann-Whitney U with
    average ranks). nan with a MetricUndefinedWarning when there is no error or no correct pixel.
    """
    uncertainty, error = _flat_pair(uncertainty, error, valid, error_must_be_binary=True)
    errors = float(np.count_nonzero(error))
    correct = error.size - errors
    if errors == 0 or correct == 0:
        counts = f"errors={errors:.0f}, correct={correct:.0f}"
        return undefined("AUROC", f"needs both erroneous and correct pixels ({counts})")
    sizes, error_sums = _tie_groups(uncertainty, error)
    starts = np.cumsum(sizes) - sizes
    average_rank = starts + (sizes + 1) / 2.0  # 1-based mean rank of each tie group
    rank_sum = float(np.dot(error_sums, average_rank))
    return (rank_sum - errors * (errors + 1) / 2.0) / (errors * correct)


def risk_coverage_curve(uncertainty, error, valid=None) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, risk): keep the pixels with uncertainty <= t, for every distinct value t.

    coverage = kept fraction, risk = mean error of the kept pixels; one point per distinct
    uncertainty (a tie group is kept or rejected whole). ``error`` may be binary or a loss >= 0.
    """
    uncertainty, error = _flat_pair(uncertainty, error, valid, error_must_be_binary=False)
    if error.size == 0:
        return np.zeros(0), np.zeros(0)
    sizes, error_sums = _tie_groups(uncertainty, error)
    kept = np.cumsum(sizes).astype(np.float64)
    return kept / error.size, np.cumsum(error_sums) / kept


def _aurc_flat(uncertainty: np.ndarray, error: np.ndarray) -> float:
    """(1/N) Σ_k risk(k) over the k least uncertain pixels, ties as unordered groups.

    In a group of n pixels after S others with B errors before it and mean error r, the j-th
    pixel's expected risk is (B + j r)/(S + j); its sum over j is (B - r S)(H(S+n) - H(S)) + r n
    with harmonic numbers H, so the cost is one term per group, not per pixel.
    """
    sizes, error_sums = _tie_groups(uncertainty, error)
    before = (np.cumsum(sizes) - sizes).astype(np.float64)
    errors_before = np.cumsum(error_sums) - error_sums
    mean_error = error_sums / sizes
    harmonic_numbers = np.r_[0.0, np.cumsum(1.0 / np.arange(1, error.size + 1, dtype=np.float64))]
    ends = np.cumsum(sizes)
    harmonic = harmonic_numbers[ends] - harmonic_numbers[ends - sizes]
    total = (errors_before - mean_error * before) * harmonic + mean_error * sizes
    return float(total.sum() / error.size)


def aurc(uncertainty, error, valid=None) -> float:
    """Area under the risk-coverage curve (lower is better), Geifman et al.'s per-pixel mean.

    AURC = (1/N) Σ_k risk(k), risk(k) = mean error of the k least uncertain pixels; with ties,
    the expected value over every order of the tied pixels. ``error``: binary or a loss >= 0.
    """
    uncertainty, error = _flat_pair(uncertainty, error, valid, error_must_be_binary=False)
    if error.size == 0:
        return undefined("AURC", "no valid pixel")
    return _aurc_flat(uncertainty, error)


def oracle_aurc(error, valid=None) -> float:
    """The lowest AURC any ranking can reach: the errors themselves as the uncertainty."""
    return aurc(error, error, valid)


def excess_aurc(uncertainty, error, valid=None) -> float:
    """E-AURC = AURC - oracle AURC (>= 0; 0 = the uncertainty ranks errors perfectly)."""
    uncertainty, error = _flat_pair(uncertainty, error, valid, error_must_be_binary=False)
    if error.size == 0:
        return undefined("E-AURC", "no valid pixel")
    return _aurc_flat(uncertainty, error) - _aurc_flat(error, error)
