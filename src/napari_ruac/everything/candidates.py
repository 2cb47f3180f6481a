"""Candidate objects of an automatic segmentation, kept as crops (a 4096² image with thousands of
candidates must fit in memory), and the filters that turn them into non-overlapping labels:
stability, non-maximum suppression by mask overlap, and painting in rank order."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# SAM's stability score compares the mask at logit +1 and -1: P > σ(1) against P > σ(-1)


@dataclass
class Candidate:
    """One predicted object: maps cropped to ``window`` = (y0, x0, y1, x1) in image pixels."""

    window: tuple[int, int, int, int]
    mask: np.ndarray  # bool, the window's shape
    probability: np.ndarray  # float32
    uncertainty: np.ndarray  # float32
    predicted_iou: float
    stability: float
    prompt_box: list[float] = field(default_factory=list)  # the final prompt [x0, y0, x1, y1] (image px)
    point: tuple[float, float] | None = None  # the grid point (x, y) it came from
    checks: dict = field(default_factory=dict)  # agreement with other prompts (image.py), for the review score
    coarse: bool = False  # from the whole-image pass of a tiled run (only for objects too large for the tiles)

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """(y0, x0, y1, x1) of the mask itself, image pixels, end exclusive."""
        ys, xs = np.nonzero(self.mask)
        y0, x0 = self.window[:2]
        return (y0 + int(ys.min()), x0 + int(xs.min()), y0 + int(ys.max()) + 1, x0 + int(xs.max()) + 1)

    @property
    def rank_score(self) -> float:
        """Which of two overlapping candidates survives NMS (SAM ranks by predicted IoU; stability breaks ties)."""
        return self.predicted_iou * self.stability


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, x0, y1, x1) of a mask, end exclusive; None when empty."""
    rows, cols = np.any(mask, axis=1), np.any(mask, axis=0)
    if not rows.any():
        return None
    y = np.flatnonzero(rows)
    x = np.flatnonzero(cols)
    return int(y[0]), int(x[0]), int(y[-1]) + 1, int(x[-1]) + 1


def crop_candidate(
    mask: np.ndarray,
    probability: np.ndarray,
    uncertainty: np.ndarray,
    offset: tuple[int, int],
    margin: int,
    **scores,
) -> Candidate | None:
    """A Candidate from full-tile maps whose tile starts at ``offset`` (row, col) in the image;
    the crop is the mask's box grown by ``margin`` px (the uncertain band just outside). None if empty."""
    box = mask_box(mask)
    if box is None:
        return None
    h, w = mask.shape
    y0, x0 = max(0, box[0] - margin), max(0, box[1] - margin)
    y1, x1 = min(h, box[2] + margin), min(w, box[3] + margin)
    crop = (slice(y0, y1), slice(x0, x1))
    oy, ox = offset
    return Candidate(
        window=(oy + y0, ox + x0, oy + y1, ox + x1),
        mask=mask[crop].copy(),
        probability=probability[crop].astype(np.float32, copy=True),
        uncertainty=uncertainty[crop].astype(np.float32, copy=True),
        **scores,
    )


def _intersection(a: Candidate, b: Candidate) -> int:
    y0, x0 = max(a.window[0], b.window[0]), max(a.window[1], b.window[1])
    y1, x1 = min(a.window[2], b.window[2]), min(a.window[3], b.window[3])
    if y0 >= y1 or x0 >= x1:
        return 0
    sa = a.mask[y0 - a.window[0] : y1 - a.window[0], x0 - a.window[1] : x1 - a.window[1]]
    sb = b.mask[y0 - b.window[0] : y1 - b.window[0], x0 - b.window[1] : x1 - b.window[1]]
    return int(np.logical_and(sa, sb).sum())


def overlaps(a: Candidate, b: Candidate, iou_threshold: float, containment: float) -> bool:
    """Whether ``a`` and ``b`` are the same object: mask IoU above ``iou_threshold``, or one lies
    mostly (``containment`` of its area) inside the other (a part of an object, or two objects in one)."""
    inter = _intersection(a, b)
    if inter == 0:
        return False
    area_a, area_b = a.area, b.area
    return inter / (area_a + area_b - inter) > iou_threshold or inter / min(area_a, area_b) > containment


def non_maximum_suppression(
    candidates: list[Candidate], iou_threshold: float = 0.5, containment: float = 0.8
) -> list[Candidate]:
    """Greedy NMS by mask overlap: the best-ranked candidate of every overlapping group survives;
    candidates of a tiled run's coarse pass come after the tiles' (they fill in large objects only,
    never replace the objects the tiles saw at full resolution, e.g. by one mask over a cluster)."""
    order = sorted(candidates, key=lambda c: (c.coarse, -c.rank_score))
    kept: list[Candidate] = []
    for cand in order:
        if not any(overlaps(cand, k, iou_threshold, containment) for k in kept):
            kept.append(cand)
    return kept


def paint(
    candidates: list[Candidate], shape: tuple[int, int], min_area: int = 1, keep_fraction: float = 0.5
) -> tuple[np.ndarray, np.ndarray, list[tuple[Candidate, np.ndarray]]]:
    """Non-overlapping labels: candidates painted in order (the first wins a contested pixel).

    Returns (labels int32, uncertainty float32 = per-pixel max over the painted objects' maps,
    [(candidate, its final mask in its window)]); a candidate left with under ``keep_fraction`` of
    its area or ``min_area`` pixels is dropped. Ids are 1..N in the given order.
    """
    labels = np.zeros(shape, np.int32)
    uncertainty = np.zeros(shape, np.float32)
    painted: list[tuple[Candidate, np.ndarray]] = []
    for cand in candidates:
        y0, x0, y1, x1 = cand.window
        region = labels[y0:y1, x0:x1]
        own = cand.mask & (region == 0)
        area = int(own.sum())
        if area < max(min_area, keep_fraction * cand.area):
            continue
        region[own] = len(painted) + 1
        np.maximum(uncertainty[y0:y1, x0:x1], cand.uncertainty, out=uncertainty[y0:y1, x0:x1])
        painted.append((cand, own))
    return labels, uncertainty, painted
