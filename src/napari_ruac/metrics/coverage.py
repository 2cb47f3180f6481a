"""Review efficiency: how much of the error do the first k regions a reviewer looks at hold?

The regions come ranked from the review code (``review.find_uncertain_regions``, which labels
them in a components map); here only the counting: the fraction of the error map's total inside
the union of the top-k components, for k = 0 … n. The evaluation uses the substantive error
(``interior.substantive_error``, the error beyond the true boundary band) as the error map; the
review widget does the same when a ground truth is given, through this one function.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from ._inputs import as_array, finite, same_shape, undefined

#: The k of the top-k coverages the evaluation reports.
TOP_K = (1, 3, 10)


def region_coverage_curve(components, ranked_ids: Sequence[int], error) -> tuple[np.ndarray, np.ndarray]:
    """(k, covered fraction) for k = 0 … len(ranked_ids): error inside the first k components / total.

    ``components``: integer map (0 = no region); ``ranked_ids``: component ids, most important
    first; ``error``: bool map or a loss >= 0. Without any error the fraction is undefined:
    nan for every k (with a MetricUndefinedWarning).
    """
    components = as_array(components, "components")
    if not np.issubdtype(components.dtype, np.integer):
        raise ValueError(f"components must be an integer label map, got dtype {components.dtype}")
    error = np.asarray(finite(error, "error"), np.float64)
    same_shape(components=components, error=error)
    if error.size and error.min() < 0:
        raise ValueError("error must be >= 0 (a 0/1 error map or a loss)")
    ids = np.asarray(list(ranked_ids), dtype=np.int64)
    count = int(components.max()) if components.size else 0
    if ids.size and (ids.min() < 1 or ids.max() > count):
        raise ValueError(f"ranked_ids must be component ids in 1..{count}, got {ids.min()}..{ids.max()}")
    k = np.arange(ids.size + 1)
    total = float(error.sum())
    if total == 0:
        undefined("region coverage", "the error map is empty (nothing to find)")
        return k, np.full(k.shape, np.nan)
    per_component = ndimage.sum_labels(error, components, np.arange(1, count + 1)) if count else np.zeros(0)
    covered = np.concatenate([[0.0], np.cumsum(per_component[ids - 1])]) if ids.size else np.zeros(1)
    return k, covered / total


def top_k_coverage(fractions, ks: Sequence[int] = TOP_K) -> dict[int, float]:
    """{k: covered fraction by the top k} from a curve's fractions; fewer regions than k = all of them."""
    fractions = np.asarray(fractions, np.float64)
    if fractions.ndim != 1 or fractions.size == 0:
        raise ValueError("fractions must be the 1D curve from region_coverage_curve (k = 0 … n)")
    out = {}
    for k in ks:
        if int(k) < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        out[int(k)] = float(fractions[min(int(k), fractions.size - 1)])
    return out


def error_component_ceiling(error, ks: Sequence[int] = TOP_K) -> dict[int, float]:
    """{k: the fraction of the error inside its own k largest connected components}: what k review regions
    shaped exactly like the errors would hold — the reference for ``top_k_coverage`` (regions that each
    held several errors could exceed it, so it is not a strict bound). When the error is scattered over
    many objects (a dense image), no k regions cover much of it. nan (with a MetricUndefinedWarning)
    without any error."""
    error = np.asarray(finite(error, "error"), np.float64) > 0
    if not error.any():
        undefined("error-component ceiling", "the error map is empty (nothing to find)")
        return {int(k): float("nan") for k in ks}
    labelled, count = ndimage.label(error, structure=np.ones((3,) * error.ndim, bool))
    sizes = np.sort(np.bincount(labelled.ravel())[1:])[::-1]
    covered = np.concatenate([[0.0], np.cumsum(sizes)]) / float(error.sum())
    return {int(k): float(covered[min(int(k), count)]) for k in ks}
