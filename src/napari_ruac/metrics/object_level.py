"""Object-level uncertainty: does the score of an object say whether its mask failed?

**Object score** (one number per predicted object): the mean uncertainty over the object's
*region* R = D ∪ C, where D is the predicted mask dilated by ``radius`` px (Euclidean, default 2)
and C the connected components (full connectivity) of ``uncertainty >= threshold`` (default 0.5,
the review widget's threshold) that touch D. So R holds the mask, its rim, and any uncertain part
attached to it, e.g. a missed lobe the model was unsure about, but not uncertain spots elsewhere.
An empty prediction has no D: R is then every pixel with ``uncertainty >= threshold``, and if there
is none, the whole image (the method is sure nothing is there, so its score stays low).

Over a set of objects: Spearman ρ(score, 1 − IoU) (higher: the score orders the objects by how
badly they failed) and the AUROC of the score for detecting failed objects (IoU < 0.8).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage, stats

from ._inputs import binary, finite, same_shape, undefined
from .interior import _check_band
from .ranking import auroc

DEFAULT_RADIUS = 2.0
DEFAULT_THRESHOLD = 0.5  # = review.find_uncertain_regions' default threshold
FAILED_IOU = 0.8


def object_region(prediction, uncertainty, radius: float = DEFAULT_RADIUS, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Bool map of R = (mask dilated by ``radius``) ∪ (uncertain components touching it); see the module doc."""
    prediction, uncertainty = binary(prediction, "prediction"), finite(uncertainty, "uncertainty")
    same_shape(prediction=prediction, uncertainty=uncertainty)
    radius = _check_band(radius)
    uncertain = uncertainty >= threshold
    if not prediction.any():
        return uncertain.copy() if uncertain.any() else np.ones(prediction.shape, dtype=bool)
    near = ndimage.distance_transform_edt(~prediction) <= radius if radius > 0 else prediction.copy()
    components, count = ndimage.label(uncertain, structure=ndimage.generate_binary_structure(uncertain.ndim, uncertain.ndim))
    if count:
        touching = np.unique(components[near & uncertain])
        near |= np.isin(components, touching[touching > 0])
    return near


def object_score(prediction, uncertainty, radius: float = DEFAULT_RADIUS, threshold: float = DEFAULT_THRESHOLD) -> float:
    """The object's uncertainty score: mean uncertainty over :func:`object_region`."""
    uncertainty = finite(uncertainty, "uncertainty")
    if uncertainty.size == 0:
        raise ValueError("object_score needs a non-empty uncertainty map")
    region = object_region(prediction, uncertainty, radius, threshold)
    return float(uncertainty[region].mean(dtype=np.float64))


def _scores_and_ious(scores, ious) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(finite(scores, "scores"), np.float64).ravel()
    ious = np.asarray(finite(ious, "ious"), np.float64).ravel()
    if scores.shape != ious.shape:
        raise ValueError(f"scores and ious must pair one value per object, got {scores.size} and {ious.size}")
    if ious.size and (ious.min() < 0 or ious.max() > 1):
        raise ValueError(f"ious must lie in [0, 1], got values in [{ious.min():.4g}, {ious.max():.4g}]")
    return scores, ious


def object_spearman(scores, ious) -> float:
    """Spearman ρ(score, 1 − IoU) over objects; nan + warning with < 3 objects or a constant side."""
    scores, ious = _scores_and_ious(scores, ious)
    if scores.size < 3:
        return undefined("object Spearman ρ", f"needs at least 3 objects, got {scores.size}")
    if scores.min() == scores.max() or ious.min() == ious.max():
        return undefined("object Spearman ρ", "the scores or the IoUs are all equal")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(scores, 1.0 - ious).statistic)


def failed_object_auroc(scores, ious, failed_below: float = FAILED_IOU) -> float:
    """AUROC of the score as a detector of failed objects (IoU < ``failed_below``); nan + warning
    when every object failed or none did."""
    scores, ious = _scores_and_ious(scores, ious)
    failed = ious < float(failed_below)
    if scores.size == 0 or failed.all() or not failed.any():
        return undefined("failed-object AUROC", f"needs failed and good objects ({int(failed.sum())} of {scores.size} failed)")
    return auroc(scores, failed)

