"""Spatial masks for the metrics: the ROI around an object and a mask's boundary band.

Both work per (Y, X) slice (the last two axes) with a square structuring element, as the
UncertSAM code (square dilation kernel) and the Boundary IoU reference (3x3 erosion repeated
d times, image border counted as background) do. Separable 1D min/max filters: O(N) in d.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ._inputs import binary, needs_slices, slice_diagonal

#: Widths relative to the slice diagonal, from UncertSAM (ROI) and Boundary IoU (band).
ROI_RATIO = 0.02
BOUNDARY_RATIO = 0.02


def roi_radius(shape: tuple[int, ...], ratio: float = ROI_RATIO) -> int:
    """ceil(ratio * slice diagonal): the ROI dilation radius in pixels."""
    return math.ceil(ratio * slice_diagonal(shape))


def boundary_width(shape: tuple[int, ...], ratio: float = BOUNDARY_RATIO) -> int:
    """max(1, round(ratio * slice diagonal)): the boundary band width d in pixels."""
    return max(1, int(round(ratio * slice_diagonal(shape))))


def _square_filter(mask: np.ndarray, radius: int, erode: bool) -> np.ndarray:
    """Dilate/erode each (Y, X) slice by a (2r+1)^2 square; outside the image is background."""
    if radius <= 0:
        return mask.copy()
    filter1d = ndimage.minimum_filter1d if erode else ndimage.maximum_filter1d
    out = mask.view(np.uint8)
    for axis in (-2, -1):
        out = filter1d(out, 2 * radius + 1, axis=axis, mode="constant", cval=0)
    return out.astype(bool)


def roi_mask(target, ratio: float = ROI_RATIO) -> np.ndarray:
    """The target dilated by ceil(ratio * diagonal) px (square): where Pearson-in-ROI looks."""
    target = binary(target, "target")
    needs_slices(target.shape, "roi_mask")
    return _square_filter(target, roi_radius(target.shape, ratio), erode=False)


def boundary(mask, width: int | None = None) -> np.ndarray:
    """The band of ``mask`` within ``width`` px of its outside: mask minus its square erosion.

    Default width = max(1, round(0.02 * diagonal)). Pixels at the image border count as
    boundary, so a mask cut by the border has a band there too (as Boundary IoU does).
    """
    mask = binary(mask, "mask")
    needs_slices(mask.shape, "boundary")
    width = boundary_width(mask.shape) if width is None else int(width)
    if width < 1:
        raise ValueError(f"boundary width must be >= 1 pixel, got {width}")
    return mask & ~_square_filter(mask, width, erode=True)
