"""Mask overlap: IoU, Dice and Boundary IoU (Cheng et al. 2021, as UncertSAM reports it).

Counts are pooled over every pixel/voxel given (a volume is one 3D object). When both masks
are empty there is nothing to find and nothing was found: the score is 1.0 by our decision.
"""

from __future__ import annotations

import numpy as np

from ._inputs import binary, needs_slices, same_shape, valid_mask
from .spatial import boundary, boundary_width


def _masks(prediction, target, valid):
    prediction, target = binary(prediction, "prediction"), binary(target, "target")
    shape = same_shape(prediction=prediction, target=target)
    return prediction, target, valid_mask(valid, shape)


def _ratio(intersection: int, union: int) -> float:
    return 1.0 if union == 0 else intersection / union


def _counts(prediction: np.ndarray, target: np.ndarray, valid: np.ndarray | None) -> tuple[int, int, int]:
    """(|P ∩ G|, |P|, |G|) inside ``valid``."""
    if valid is not None:
        prediction, target = prediction & valid, target & valid
    intersection = int(np.count_nonzero(prediction & target))
    return intersection, int(np.count_nonzero(prediction)), int(np.count_nonzero(target))


def iou(prediction, target, valid=None) -> float:
    """Intersection over union |P ∩ G| / |P ∪ G| (Jaccard index)."""
    intersection, predicted, truth = _counts(*_masks(prediction, target, valid))
    return _ratio(intersection, predicted + truth - intersection)


def dice(prediction, target, valid=None) -> float:
    """Dice coefficient 2|P ∩ G| / (|P| + |G|) (= F1 of the foreground)."""
    intersection, predicted, truth = _counts(*_masks(prediction, target, valid))
    return _ratio(2 * intersection, predicted + truth)


def boundary_iou(prediction, target, d: int | None = None, valid=None) -> float:
    """Boundary IoU |G_b ∩ P_b| / |G_b ∪ P_b|, X_b = X minus its erosion by d px (square).

    d defaults to max(1, round(0.02 * slice diagonal)). Bands are found per (Y, X) slice, then
    counted over the whole volume; pixels on the image border belong to the band.
    """
    prediction, target, valid = _masks(prediction, target, valid)
    needs_slices(prediction.shape, "boundary_iou")
    width = boundary_width(prediction.shape) if d is None else int(d)
    intersection, predicted, truth = _counts(boundary(prediction, width), boundary(target, width), valid)
    return _ratio(intersection, predicted + truth - intersection)
