"""Segmentation and uncertainty metrics (numpy + scipy; no napari, no torch needed).

Which error each metric uses (METHOD.md): AUROC, AURC and PAvPU judge the uncertainty against
the binary error ``prediction != target`` (RUAC); Pearson against ``|P - M|`` (UncertSAM);
ECE and Brier judge the probability P; IoU, Dice and Boundary IoU the binary prediction
(P > 0.5 unless given). Maps are 2D images or volumes of any shape; spatial metrics (PAvPU,
ROI, boundary) work per (Y, X) slice. ``evaluate`` returns them all with stable keys.
"""

from ._inputs import MetricUndefinedWarning
from .calibration import brier, ece
from .correlation import pearson, pearson_roi
from .errors import binary_error, predicted_mask, probabilistic_error
from .overlap import boundary_iou, dice, iou
from .pavpu import DEFAULT_UNCERTAINTY_THRESHOLD, PAvPUCurve, patch_statistics, pavpu, pavpu_curve
from .ranking import aurc, auroc, excess_aurc, oracle_aurc, risk_coverage_curve
from .significance import WilcoxonResult, wilcoxon
from .spatial import boundary, boundary_width, roi_mask, roi_radius
from .summary import EVALUATE_KEYS, evaluate

__all__ = [
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
