"""Image-level metrics of an evaluation: what a reviewer of the whole image would see.

Each object is predicted on its own. The image-level view of one method combines them: the mask
is the union of the objects' masks, the uncertainty the pixel-wise maximum of their maps, and the
truth the union of the scored objects. On that image: the review regions exactly as the widget
lists them and the share of substantive error that the top-k hold
(``review.substantive_coverage``); over the image's objects: Spearman ρ(object score, 1 − IoU)
and the failed-object AUROC (``metrics.object_level``). ``ceiling_top10``: the share of that error in its
own 10 largest components (``metrics.error_component_ceiling``), the reference for the top-10 coverage.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..metrics import (
    DEFAULT_BAND,
    TOP_K,
    MetricUndefinedWarning,
    error_component_ceiling,
    failed_object_auroc,
    object_spearman,
    substantive_error,
    top_k_coverage,
)
from ..review import substantive_coverage
from .tables import COVERAGE_K, number



class ImageAccumulator:
    """Collects one method's object predictions on one image, then scores the image."""

    def __init__(self, shape: tuple[int, ...]):
        self.mask = np.zeros(shape, bool)
        self.uncertainty = np.zeros(shape, np.float32)
        self.truth = np.zeros(shape, bool)
        self.scores: list[float] = []
        self.ious: list[float] = []

    def add(self, mask: np.ndarray, uncertainty: np.ndarray, truth: np.ndarray, score: float, iou: float) -> None:
        self.mask |= np.asarray(mask, bool)
        np.maximum(self.uncertainty, np.asarray(uncertainty, np.float32), out=self.uncertainty)
        self.truth |= np.asarray(truth, bool)
        self.scores.append(float(score))
        self.ious.append(float(iou))

    def result(self, band: float = DEFAULT_BAND) -> tuple[dict, np.ndarray]:
        """(the image row's values (tables.IMAGE_COLUMNS), coverage fractions for k = 0 … COVERAGE_K); nan where undefined."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetricUndefinedWarning)
            regions, _, fractions = substantive_coverage(self.mask, self.uncertainty, self.truth, band)
            scores, ious = np.array(self.scores), np.array(self.ious)
            finite = np.isfinite(scores) & np.isfinite(ious)
            rho = object_spearman(scores[finite], ious[finite])
            failed = failed_object_auroc(scores[finite], ious[finite]) if finite.any() else float("nan")
            error = substantive_error(self.mask, self.truth, band)
            ceiling = error_component_ceiling(error, (10,))
        top = top_k_coverage(fractions, TOP_K)
        substantive_px = int(error.sum())
        row = {"objects": len(self.scores), "regions": len(regions), "substantive_error_px": substantive_px,
               "object_rho": rho, "failed_auroc": failed, **{f"coverage_top{k}": top[k] for k in TOP_K},
               "ceiling_top10": ceiling[10]}  # fmt: skip
        curve = fractions[np.minimum(np.arange(COVERAGE_K + 1), fractions.size - 1)]
        return row, curve


def pooled_object_metrics(rows: list[dict], methods: list[str]) -> dict[str, dict[str, float]]:
    """{method: {object_rho, failed_auroc, objects}} over every object of the rows (one dataset)."""
    out = {}
    for method in methods:
        pairs = np.array([(number(r.get("object_score")), number(r.get("iou"))) for r in rows if r["method"] == method])
        pairs = pairs[np.isfinite(pairs).all(axis=1)] if pairs.size else np.zeros((0, 2))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetricUndefinedWarning)
            rho = object_spearman(pairs[:, 0], pairs[:, 1])
            failed = failed_object_auroc(pairs[:, 0], pairs[:, 1]) if len(pairs) else float("nan")
        out[method] = {"object_rho": rho, "failed_auroc": failed, "objects": int(len(pairs))}
    return out
