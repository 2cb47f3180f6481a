"""Every metric of one prediction in one call, with stable keys: what the evaluation runner,
the training validation and the napari review widget record."""

from __future__ import annotations

import warnings

import numpy as np

from ._inputs import MetricUndefinedWarning, binary, same_shape, select, unit_interval, valid_mask
from .calibration import brier, ece
from .correlation import pearson, pearson_roi
from .errors import predicted_mask
from .interior import DEFAULT_BAND, interior_auroc, interior_pearson
from .object_level import object_score
from .overlap import boundary_iou, dice, iou
from .pavpu import DEFAULT_PATCH, DEFAULT_UNCERTAINTY_THRESHOLD, pavpu_curve
from .ranking import auroc, aurc, excess_aurc

#: The u_T grid behind "pavpu_max".
PAVPU_GRID = np.linspace(0.0, 1.0, 101)

#: The keys of evaluate()'s dict, in order. Higher is better except aurc, excess_aurc, ece, brier.
EVALUATE_KEYS = (
    "auroc",  # uncertainty vs binary error (prediction != target)
    "interior_auroc",  # the same beyond `band` px of the true boundary (substantive errors)
    "interior_pearson",  # ρ(U, |P - M|) beyond the band
    "pavpu",  # at u_T = uncertainty_threshold (default 0.5), 4x4 patches
    "pavpu_max",  # best PAvPU over u_T in 0, 0.01, ..., 1
    "aurc",  # risk-coverage with binary error, lower is better
    "excess_aurc",  # aurc minus the oracle's
    "ece",  # 10 bins on P (UncertSAM / torchmetrics BinaryCalibrationError)
    "brier",
    "pearson",  # ρ(U, |P - M|) over the image
    "pearson_roi",  # ρ(U, |P - M|) inside the target dilated by ceil(0.02 diagonal)
    "iou",
    "dice",
    "boundary_iou",
    "accuracy",  # pixel accuracy of the prediction
    "mean_uncertainty",
    "object_score",  # U summed over the mask, its rim and attached uncertain parts, per mask pixel (object_level)
)


def evaluate(
    probability,
    uncertainty,
    target,
    prediction=None,
    valid=None,
    *,
    patch=DEFAULT_PATCH,
    uncertainty_threshold: float = DEFAULT_UNCERTAINTY_THRESHOLD,
    bins: int = 10,
    band: float = DEFAULT_BAND,
) -> dict[str, float]:
    """All metrics (EVALUATE_KEYS) for one image or volume; prediction defaults to P > 0.5.

    Undefined values (e.g. AUROC of a perfect prediction, Pearson of a constant map) are nan,
    without warnings: callers aggregate with nan-aware means. Works on 2D and (Z, Y, X).
    ``band``: the px around the true boundary the interior metrics leave out.
    """
    probability = unit_interval(probability, "probability")
    uncertainty = unit_interval(uncertainty, "uncertainty")
    target = binary(target, "target")
    prediction = predicted_mask(probability) if prediction is None else binary(prediction, "prediction")
    shape = same_shape(probability=probability, uncertainty=uncertainty, target=target, prediction=prediction)
    valid = valid_mask(valid, shape)
    error = prediction != target
    soft_error = np.abs(probability.astype(np.float64) - target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricUndefinedWarning)
        thresholds = np.r_[PAVPU_GRID, uncertainty_threshold]
        pavpu_values = pavpu_curve(prediction, target, uncertainty, thresholds, patch, valid=valid).values
        pixel_errors, pixel_uncertainty = select(error, valid), select(uncertainty, valid)
        if pixel_errors.size:
            accuracy = 1.0 - float(pixel_errors.mean())
            mean_uncertainty = float(pixel_uncertainty.mean(dtype=np.float64))
        else:
            accuracy = mean_uncertainty = float("nan")
        results = {
            "auroc": auroc(uncertainty, error, valid),
            "interior_auroc": interior_auroc(uncertainty, prediction, target, band, valid),
            "interior_pearson": interior_pearson(uncertainty, probability, target, band, valid),
            "pavpu": float(pavpu_values[-1]),
            "pavpu_max": float(np.max(pavpu_values[:-1])),
            "aurc": aurc(uncertainty, error, valid),
            "excess_aurc": excess_aurc(uncertainty, error, valid),
            "ece": ece(probability, target, bins, valid),
            "brier": brier(probability, target, valid),
            "pearson": pearson(uncertainty, soft_error, valid),
            "pearson_roi": pearson_roi(uncertainty, soft_error, target, valid),
            "iou": iou(prediction, target, valid),
            "dice": dice(prediction, target, valid),
            "boundary_iou": boundary_iou(prediction, target, None, valid),
            "accuracy": accuracy,
            "mean_uncertainty": mean_uncertainty,
            "object_score": object_score(prediction, uncertainty),
        }
    return {key: float(results[key]) for key in EVALUATE_KEYS}
