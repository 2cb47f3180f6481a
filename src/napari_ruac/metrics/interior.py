"""Substantive errors: the error a reviewer must fix, not the one-pixel disagreement on an edge.

A pixel is in the *boundary band* of the ground truth when its Euclidean distance to the nearest
pixel of the other class is at most ``band`` px: ``band`` layers inside the object and ``band``
outside it (default 2, so a 4-px wide strip around the true edge; ``band=0`` excludes nothing).
The band is found per (Y, X) slice and on the ground truth only, never on the prediction, so
every method is judged on the same pixels. The image border is not a boundary. An empty or a
full target has no boundary: every pixel is interior.

Interior AUROC and interior Pearson are the plain metrics over the pixels outside the band; the
*substantive error* is the binary error outside the band (what review coverage measures).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ._inputs import binary, finite, needs_slices, same_shape, valid_mask
from .correlation import pearson
from .ranking import auroc

#: Pixels within this many px of the true boundary are left out (issue 13: "beyond a 2-px band").
DEFAULT_BAND = 2.0


def _check_band(band) -> float:
    try:
        value = float(band)
    except (TypeError, ValueError):
        raise ValueError(f"band must be a number of pixels >= 0, got {band!r}") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"band must be a finite number of pixels >= 0, got {band!r}")
    return value


def boundary_band(target, band: float = DEFAULT_BAND) -> np.ndarray:
    """Bool map of the pixels within ``band`` px (Euclidean) of the target's boundary, both sides."""
    target = binary(target, "target")
    needs_slices(target.shape, "boundary_band")
    band = _check_band(band)
    out = np.zeros(target.shape, dtype=bool)
    if band == 0:
        return out
    flat_target, flat_out = target.reshape(-1, *target.shape[-2:]), out.reshape(-1, *target.shape[-2:])
    for index, slice_ in enumerate(flat_target):
        if slice_.all() or not slice_.any():
            continue  # no boundary in this slice
        inside = ndimage.distance_transform_edt(slice_)  # distance of a foreground px to the nearest background px
        outside = ndimage.distance_transform_edt(~slice_)
        flat_out[index] = np.where(slice_, inside, outside) <= band
    return out


def interior_mask(target, band: float = DEFAULT_BAND, valid=None) -> np.ndarray:
    """The pixels the interior metrics judge: outside the boundary band (and inside ``valid``)."""
    target = binary(target, "target")
    interior = ~boundary_band(target, band)
    if valid is not None:
        interior &= valid_mask(valid, target.shape)
    return interior


def substantive_error(prediction, target, band: float = DEFAULT_BAND) -> np.ndarray:
    """Bool map of the misclassified pixels outside the true boundary band (missing parts, leaks)."""
    prediction, target = binary(prediction, "prediction"), binary(target, "target")
    same_shape(prediction=prediction, target=target)
    return (prediction != target) & ~boundary_band(target, band)


def interior_auroc(uncertainty, prediction, target, band: float = DEFAULT_BAND, valid=None) -> float:
    """AUROC of the uncertainty for the error ``prediction != target``, band pixels left out.

    nan with a MetricUndefinedWarning when the interior holds no error or no correct pixel
    (an all-correct prediction, or a band wider than the object with every error on its edge).
    """
    uncertainty = finite(uncertainty, "uncertainty")
    prediction, target = binary(prediction, "prediction"), binary(target, "target")
    same_shape(uncertainty=uncertainty, prediction=prediction, target=target)
    return auroc(uncertainty, prediction != target, interior_mask(target, band, valid))


def interior_pearson(uncertainty, probability, target, band: float = DEFAULT_BAND, valid=None) -> float:
    """Pearson ρ(U, |P - M|) over the pixels outside the band (nan + warning if either is constant there)."""
    uncertainty, probability = finite(uncertainty, "uncertainty"), finite(probability, "probability")
    target = binary(target, "target")
    same_shape(uncertainty=uncertainty, probability=probability, target=target)
    if probability.size and (probability.min() < 0 or probability.max() > 1):
        raise ValueError("probability must lie in [0, 1]; pass the sigmoid of the logits")
    soft_error = np.abs(probability.astype(np.float64) - target)
    return pearson(uncertainty, soft_error, interior_mask(target, band, valid))
