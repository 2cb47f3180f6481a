"""Calibration of the probability map: expected calibration error (ECE) and Brier score."""

from __future__ import annotations

import numpy as np

from ._inputs import binary, same_shape, select, undefined, unit_interval, valid_mask
from .errors import FOREGROUND_THRESHOLD


def _flat_probability_target(probability, target, valid):
    probability, target = unit_interval(probability, "probability"), binary(target, "target")
    shape = same_shape(probability=probability, target=target)
    valid = valid_mask(valid, shape)
    return select(probability, valid).astype(np.float64), select(target, valid)


def ece(probability, target, bins: int = 10, valid=None, mode: str = "probability") -> float:
    """Expected calibration error with ``bins`` equal-width bins over [0, 1] (L1, count-weighted).

    mode="probability" (default, UncertSAM's choice, = torchmetrics BinaryCalibrationError): bin
    P and compare each bin's mean P with its foreground frequency. mode="confidence" (Guo et al.,
    top-label): bin max(P, 1-P) and compare with the accuracy of the prediction P > 0.5.
    A value on a bin edge goes to the upper bin; 1.0 goes to the last bin.
    """
    if int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    probability, target = _flat_probability_target(probability, target, valid)
    if probability.size == 0:
        return undefined("ECE", "no valid pixel")
    if mode == "probability":
        confidence, outcome = probability, target.astype(np.float64)
    elif mode == "confidence":
        foreground = probability > FOREGROUND_THRESHOLD
        confidence = np.where(foreground, probability, 1.0 - probability)
        outcome = (foreground == target).astype(np.float64)
    else:
        raise ValueError(f"mode must be 'probability' or 'confidence', got {mode!r}")
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, int(bins) - 1)
    counts = np.bincount(index, minlength=int(bins))
    gap = np.bincount(index, confidence, int(bins)) - np.bincount(index, outcome, int(bins))
    # Σ_b (n_b / N) |mean conf_b - mean outcome_b| = Σ_b |Σ conf - Σ outcome| / N
    return float(np.abs(gap[counts > 0]).sum() / probability.size)


def brier(probability, target, valid=None) -> float:
    """Brier score: mean of (P - M)^2 over the pixels (lower is better; 0 = certain and right)."""
    probability, target = _flat_probability_target(probability, target, valid)
    if probability.size == 0:
        return undefined("Brier score", "no valid pixel")
    return float(np.mean((probability - target) ** 2))
