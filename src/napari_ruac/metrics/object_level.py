"""Object-level uncertainty: does the score of an object say whether its mask failed?

**Object region** R = D ∪ C, where D is the predicted mask dilated by ``radius`` px (Euclidean,
default 2) and C the connected components (full connectivity) of ``uncertainty >= threshold``
(default 0.5, the review widget's threshold) that touch D. So R holds the mask, its rim, and any
uncertain part attached to it, e.g. a missed lobe the model was unsure about, but not uncertain
spots elsewhere. An empty prediction has no D: R is then every pixel with ``uncertainty >= threshold``,
and if there is none, the whole image (the method is sure nothing is there, so its score stays low).

**Object score** (one number per predicted object), ``per="mask"`` (the default): the uncertainty
summed over R, divided by the mask's area (at least 1 px): the uncertain mass per object pixel, an
estimate of how much of the object may be wrong, which is what 1 − IoU measures. ``per="region"``:
the mean uncertainty over R (issue 13's first definition). Both rank the same pixels; they differ in
the denominator. A region-mean dilutes a large uncertain part (a missed lobe) by the very pixels
that make it large, and a mask-normalised sum does not. Measured with ruac-micro (box +2 px,
tuning scenes seeds 9100 shifted and 9101 plain, never the study's sets), Spearman ρ(score, 1 − IoU):
0.60 → 0.63 (plain) and 0.44 → 0.47 (shifted) for ``ruac``, 0.64 → 0.66 and 0.55 → 0.60 for
``ruac-hyp``; the dilation radius (1–3 px) and threshold (0.3–0.7) changed ρ by ≤ 0.01
(``benchmarks/bench_object_score.py``; benchmarks/RESULTS.md). The whole-image fallback of an empty, calm prediction is
a mean under both rules.

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


SCORE_PER = ("mask", "region")


def object_score(prediction, uncertainty, radius: float = DEFAULT_RADIUS, threshold: float = DEFAULT_THRESHOLD,
                 per: str = "mask") -> float:
    """The object's uncertainty score over :func:`object_region`: summed and divided by the mask's
    area (``per="mask"``) or averaged over the region (``per="region"``); see the module doc."""
    if per not in SCORE_PER:
        raise ValueError(f"per must be one of {SCORE_PER} (what the uncertainty is divided by), got {per!r}")
    uncertainty = finite(uncertainty, "uncertainty")
    if uncertainty.size == 0:
        raise ValueError("object_score needs a non-empty uncertainty map")
    region = object_region(prediction, uncertainty, radius, threshold)
    area = int(np.count_nonzero(prediction))
    if per == "region" or region.all() and not area:
        return float(uncertainty[region].mean(dtype=np.float64))
    return float(uncertainty[region].sum(dtype=np.float64) / max(area, 1))


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

