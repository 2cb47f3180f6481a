"""Boxes from masks and points into the model's frame: the one home of these small prompt facts.

Boxes are ``[x0, y0, x1, y1]`` in image pixels, x = column, y = row (SAM2's convention), with
``x1, y1`` one past the last pixel of the mask.
"""

from __future__ import annotations

import numpy as np


def tight_box(mask: np.ndarray) -> list[float]:
    """The tight box [x0, y0, x1, y1] of a non-empty 2D mask (x1, y1 one past the last pixel)."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        raise ValueError("the mask is empty: a box needs at least one foreground pixel")
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def grown_box(mask: np.ndarray, margin: float = 0.1, min_margin: int = 2) -> list[float] | None:
    """The box of ``mask`` grown by ``margin`` × its side (at least ``min_margin`` px), clipped; None if empty."""
    if not np.any(mask):
        return None
    h, w = mask.shape
    x0, y0, x1, y1 = tight_box(mask)
    mx = max(min_margin, margin * (x1 - x0))
    my = max(min_margin, margin * (y1 - y0))
    return [float(max(0, x0 - mx)), float(max(0, y0 - my)), float(min(w, x1 + mx)), float(min(h, y1 + my))]


def grown_box_in(region: np.ndarray, window: tuple[slice, slice], shape: tuple[int, int], margin: float = 0.1,
                 min_margin: int = 2) -> list[float] | None:
    """``grown_box`` of a mask given as its crop ``region`` at ``window`` (slices into an image of
    ``shape``): the same box without allocating an image-sized mask per object."""
    if not np.any(region):
        return None
    x0, y0, x1, y1 = tight_box(region)
    dx, dy = window[1].start or 0, window[0].start or 0
    h, w = shape[:2]
    mx = max(min_margin, margin * (x1 - x0))
    my = max(min_margin, margin * (y1 - y0))
    return [float(max(0, x0 + dx - mx)), float(max(0, y0 + dy - my)), float(min(w, x1 + dx + mx)),
            float(min(h, y1 + dy + my))]


def largest_slice(mask: np.ndarray) -> int:
    """Index of the z-slice of a (Z, Y, X) mask with the most foreground voxels (the first on a tie)."""
    return int(np.argmax(np.asarray(mask).reshape(mask.shape[0], -1).sum(axis=1)))


def box_on_largest_slice(mask: np.ndarray) -> tuple[int, list[float]]:
    """(z, [x0, y0, x1, y1]) of a (Z, Y, X) or (Y, X) mask on the slice where it has most voxels (z = 0 in 2D)."""
    if mask.ndim == 3:
        z = largest_slice(mask)
        return z, tight_box(mask[z])
    return 0, tight_box(mask)


def to_model_frame(xy: np.ndarray, image_hw: tuple[int, int], image_size: int) -> np.ndarray:
    """Scale x, y pairs from image pixels to the model's square of side ``image_size``; returns (N, 2)."""
    h, w = image_hw
    out = np.array(xy, dtype=np.float64).reshape(-1, 2)
    out[:, 0] *= image_size / w
    out[:, 1] *= image_size / h
    return out
