"""Segmentation and uncertainty metrics (numpy + scipy; no napari, no torch needed).

Which error each metric uses (METHOD.md): AUROC, AURC and PAvPU judge the uncertainty against
the binary error ``prediction != target`` (RUAC); Pearson against ``|P - M|`` (UncertSAM);
ECE and Brier judge the probability P; IoU, Dice and Boundary IoU the binary prediction
(P > 0.5 unless given). Maps are 2D images or volumes of any shape; spatial metrics (PAvPU,
ROI, boundary) work per (Y, X) slice. ``evaluate`` returns them all with stable keys.

Substantive errors (issue 13): ``interior`` leaves out a band of ``band`` px around the true
boundary (interior AUROC / Pearson, substantive error); ``object_level`` scores whole objects
(Spearman ρ(score, 1 − IoU), failed-object AUROC); ``coverage`` counts how much substantive error
the top-k review regions hold.
"""

from ._inputs import MetricUndefinedWarning
from .calibration import brier, ece
from .correlation import pearson, pearson_roi
from .coverage import TOP_K, error_component_ceiling, region_coverage_curve, top_k_coverage
from .errors import binary_error, predicted_mask, probabilistic_error
from .interior import DEFAULT_BAND, boundary_band, interior_auroc, interior_mask, interior_pearson, substantive_error
from .object_level import FAILED_IOU, failed_object_auroc, object_region, object_score, object_spearman
from .overlap import boundary_iou, dice, iou
from .pavpu import DEFAULT_UNCERTAINTY_THRESHOLD, PAvPUCurve, patch_statistics, pavpu, pavpu_curve
from .ranking import aurc, auroc, excess_aurc, oracle_aurc, risk_coverage_curve
from .significance import WilcoxonResult, wilcoxon
from .spatial import boundary, boundary_width, roi_mask, roi_radius
from .summary import EVALUATE_KEYS, evaluate

__all__ = [
    "DEFAULT_BAND",
    "FAILED_IOU",
    "TOP_K",
    "boundary_band",
    "failed_object_auroc",
    "interior_auroc",
    "interior_mask",
    "interior_pearson",
    "object_region",
    "object_score",
    "object_spearman",
    "region_coverage_curve",
    "substantive_error",
    "top_k_coverage",
    "error_component_ceiling",
    "DEFAULT_UNCERTAINTY_THRESHOLD",
    "EVALUATE_KEYS",
    "MetricUndefinedWarning",
    "PAvPUCurve",
    "WilcoxonResult",
    "aurc",
    "auroc",
    "binary_error",
    "boundary",
    "boundary_iou",
    "boundary_width",
    "brier",
    "dice",
    "ece",
    "evaluate",
    "excess_aurc",
    "iou",
    "oracle_aurc",
    "patch_statistics",
    "pavpu",
    "pavpu_curve",
    "pearson",
    "pearson_roi",
    "predicted_mask",
    "probabilistic_error",
    "risk_coverage_curve",
    "roi_mask",
    "roi_radius",
    "wilcoxon",
]
