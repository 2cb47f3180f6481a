"""Overlap of two binary masks: IoU and Dice, the bare arithmetic (``metrics.overlap`` adds checks), and the
stability of a probability map's mask (the overlap of its masks at two thresholds).

``empty`` is the score when both masks are empty (nothing to find and nothing found): the
metrics report 1.0; tracking, which asks "did the mask continue?", passes 0.0.
"""

from __future__ import annotations

import numpy as np


def overlap_counts(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int]:
    """(|A ∩ B|, |A|, |B|) of two boolean arrays of the same shape."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    return int(np.count_nonzero(a & b)), int(np.count_nonzero(a)), int(np.count_nonzero(b))


def iou(a: np.ndarray, b: np.ndarray, empty: float = 1.0) -> float:
    """Intersection over union |A ∩ B| / |A ∪ B| (Jaccard index)."""
    both, size_a, size_b = overlap_counts(a, b)
    union = size_a + size_b - both
    return float(empty) if union == 0 else both / union


def dice(a: np.ndarray, b: np.ndarray, empty: float = 1.0) -> float:
    """Dice coefficient 2|A ∩ B| / (|A| + |B|) (= F1 of the foreground)."""
    both, size_a, size_b = overlap_counts(a, b)
    total = size_a + size_b
    return float(empty) if total == 0 else 2 * both / total


STABILITY_HIGH = float(1 / (1 + np.exp(-1.0)))
STABILITY_LOW = float(1 / (1 + np.exp(1.0)))


def stability_score(probability: np.ndarray) -> float:
    """|P > σ(1)| / |P > σ(−1)| (SAM's stability score: the IoU of the masks at logits +1 and −1): 1 when the
    mask does not move with the threshold; 0 for nothing."""
    loose = int((np.asarray(probability) > STABILITY_LOW).sum())
    return float((np.asarray(probability) > STABILITY_HIGH).sum() / loose) if loose else 0.0
