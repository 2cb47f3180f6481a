"""Mask overlap: IoU, Dice and Boundary IoU (Cheng et al. 2021, as UncertSAM reports it).

Counts are pooled over every pixel/voxel given (a volume is one 3D object). When both masks
are empty there is nothing to find and nothing was found: the score is 1.0 by our decision.
"""

from __future__ import annotations

import numpy as np

from ..core import overlap
from ._inputs import binary, needs_slices, same_shape, valid_mask
from .spatial import boundary, boundary_width


def _masks(prediction, target, valid):
    prediction, target = binary(prediction, "prediction"), binary(target, "target")
    shape = same_shape(prediction=prediction, target=target)
    return prediction, target, valid_mask(valid, shape)


def _within(prediction: np.ndarray, target: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    return (prediction, target) if valid is None else (prediction & valid, target & valid)


def _inside(prediction, target, valid) -> tuple[np.ndarray, np.ndarray]:
    return _within(*_masks(prediction, target, valid))


def iou(prediction, target, valid=None) -> float:
    """Intersection over union |P ∩ G| / |P ∪ G| (Jaccard index), checked inputs, inside ``valid``."""
    return overlap.iou(*_inside(prediction, target, valid))


def dice(prediction, target, valid=None) -> float:
    """Dice coefficient 2|P ∩ G| / (|P| + |G|) (= F1 of the foreground), checked inputs, inside ``valid``."""
    return overlap.dice(*_inside(prediction, target, valid))


def boundary_iou(prediction, target, d: int | None = None, valid=None) -> float:
    """Boundary IoU |G_b ∩ P_b| / |G_b ∪ P_b|, X_b = X minus its erosion by d px (square).

    d defaults to max(1, round(0.02 * slice diagonal)). Bands are found per (Y, X) slice, then
    counted over the whole volume; pixels on the image border belong to the band.
    """
    prediction, target, valid = _masks(prediction, target, valid)
    needs_slices(prediction.shape, "boundary_iou")
    width = boundary_width(prediction.shape) if d is None else int(d)
    return overlap.iou(*_within(boundary(prediction, width), boundary(target, width), valid))
