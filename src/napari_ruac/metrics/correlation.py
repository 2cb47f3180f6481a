"""Linear alignment of uncertainty and error: Pearson ρ(U, E), over the image and in the ROI.

UncertSAM's measure, with E = |P - M| (probabilistic_error); the ROI is the target dilated by
ceil(0.02 * diagonal) px, so the large, trivially certain background does not dominate.
"""

from __future__ import annotations

import numpy as np

from ._inputs import binary, finite, same_shape, select, undefined, valid_mask
from .spatial import ROI_RATIO, roi_mask


def pearson(uncertainty, error, valid=None) -> float:
    """Pearson correlation of the two maps over the (valid) pixels; nan + warning if one is constant."""
    uncertainty, error = finite(uncertainty, "uncertainty"), finite(error, "error")
    shape = same_shape(uncertainty=uncertainty, error=error)
    valid = valid_mask(valid, shape)
    x = select(uncertainty, valid).astype(np.float64)
    y = select(error, valid).astype(np.float64)
    if x.size < 2:
        return undefined("Pearson correlation", f"needs at least 2 pixels, got {x.size}")
    if x.min() == x.max() or y.min() == y.max():  # exact test: a centred constant is not exactly 0
        return undefined("Pearson correlation", "uncertainty or error is constant")
    x = x - x.mean()
    y = y - y.mean()
    norm = np.sqrt(np.dot(x, x) * np.dot(y, y))
    return float(np.clip(np.dot(x, y) / norm, -1.0, 1.0))


def pearson_roi(uncertainty, error, target, valid=None, ratio: float = ROI_RATIO) -> float:
    """Pearson correlation inside roi_mask(target) (and ``valid``); nan + warning if target is empty."""
    uncertainty, error = finite(uncertainty, "uncertainty"), finite(error, "error")
    target = binary(target, "target")
    shape = same_shape(uncertainty=uncertainty, error=error, target=target)
    roi = roi_mask(target, ratio)
    if valid is not None:
        roi &= valid_mask(valid, shape)
    return pearson(uncertainty, error, roi)
