"""Per-pixel error maps that the uncertainty metrics compare the uncertainty against.

Two kinds, as in the papers: the binary error ``prediction != target`` (RUAC's AUROC, AURC,
PAvPU) and the probabilistic error ``|P - M|`` (UncertSAM's Pearson correlation).
"""

from __future__ import annotations

import numpy as np

from ._inputs import binary, same_shape, unit_interval

#: P > 0.5 is foreground, the rule the predictors use (mask = logit > 0).
FOREGROUND_THRESHOLD = 0.5


def predicted_mask(probability) -> np.ndarray:
    """The binary prediction of a probability map: P > 0.5 (P = 0.5 is background)."""
    return unit_interval(probability, "probability") > FOREGROUND_THRESHOLD


def binary_error(prediction, target) -> np.ndarray:
    """Bool map of misclassified pixels, ``prediction != target``."""
    prediction, target = binary(prediction, "prediction"), binary(target, "target")
    same_shape(prediction=prediction, target=target)
    return prediction != target


def probabilistic_error(probability, target) -> np.ndarray:
    """Float map ``|P - M|`` in [0, 1]: how far the probability is from the ground truth."""
    probability, target = unit_interval(probability, "probability"), binary(target, "target")
    same_shape(probability=probability, target=target)
    return np.abs(probability.astype(np.float64) - target)
