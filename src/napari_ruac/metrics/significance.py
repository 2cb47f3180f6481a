"""Is method A better than method B across datasets/images? Wilcoxon signed-rank test."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats

from ._inputs import as_array


class WilcoxonResult(NamedTuple):
    """The test's statistic and p-value, the median of a - b, and how many pairs were used."""

    statistic: float
    pvalue: float
    median_difference: float
    n: int


def wilcoxon(a, b, alternative: str = "two-sided", zero_method: str = "wilcox") -> WilcoxonResult:
    """Wilcoxon signed-rank test of paired values a[i] vs b[i] (scipy.stats.wilcoxon).

    Pairs with a nan/inf on either side are left out (an undefined per-image metric). If every
    pair is equal there is no evidence of a difference: statistic 0, p-value 1, median 0.
    """
    a = np.asarray(as_array(a, "a"), np.float64).ravel()
    b = np.asarray(as_array(b, "b"), np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"a and b must be paired values of equal length, got {a.size} and {b.size}")
    keep = np.isfinite(a) & np.isfinite(b)
    differences = a[keep] - b[keep]
    if differences.size == 0:
        raise ValueError("wilcoxon needs at least one pair of finite values, got none")
    median = float(np.median(differences))
    if not differences.any():
        return WilcoxonResult(0.0, 1.0, median, int(differences.size))
    result = stats.wilcoxon(differences, alternative=alternative, zero_method=zero_method)
    return WilcoxonResult(float(result.statistic), float(result.pvalue), median, int(differences.size))
