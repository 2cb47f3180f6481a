"""What segment-everything returns: labels, a per-pixel uncertainty and one row per object."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..metrics import object_score
from .candidates import Candidate
from .review import review_score
from ..uq import DEFAULT_METHOD


@dataclass
class ObjectRow:
    """One object. ``bbox``: (y0, x0, y1, x1) in 2D, (z0, y0, x0, z1, y1, x1) in 3D, end exclusive;
    ``centroid`` in the same axis order. ``uncertainty_score`` is what the review ranks by
    (``napari_ruac.metrics.object_score``: U summed over the mask dilated by 2 px and the uncertain
    parts attached to it, per mask pixel: the object score of the uncertainty study); ``review_score`` is what the
    review ranks by (``everything/review.py``: the uncertainty score combined with the object's checks,
    ``proposal_iou``, ``kept``, ``click_iou``; nan when unknown)."""

    id: int
    area: int  # pixels (2D) or voxels (3D)
    predicted_iou: float
    stability: float
    mean_uncertainty: float  # inside the mask
    max_uncertainty: float
    uncertainty_score: float
    bbox: tuple[int, ...]
    centroid: tuple[float, ...]
    prompt_box: list[float] = field(default_factory=list)  # the final box prompt [x0, y0, x1, y1]
    seed_slice: int | None = None  # 3D: the slice it was found on
    proposal_iou: float = float("nan")
    kept: float = float("nan")
    click_iou: float = float("nan")
    review_score: float = float("nan")  # computed from the others when not given

    def __post_init__(self) -> None:
        if self.review_score != self.review_score:
            self.review_score = review_score(self.uncertainty_score, dict(
                proposal_iou=self.proposal_iou, kept=self.kept, click_iou=self.click_iou))

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class EverythingResult:
    """Labels (int32, 0 = background, ids 1..N), uncertainty (float32, per-pixel max over the objects'
    own maps) and ``objects`` (one ObjectRow per id). ``complete`` is False after a cancel."""

    labels: np.ndarray
    uncertainty: np.ndarray
    objects: list[ObjectRow]
    complete: bool = True
    method: str = DEFAULT_METHOD
    settings: dict = field(default_factory=dict)
    decoded: int = 0  # prompts decoded
    candidates: int = 0  # candidates before overlap filtering

    @property
    def count(self) -> int:
        return len(self.objects)

    def ranked(self) -> list[ObjectRow]:
        """Objects most likely wrong first (highest review score, ``everything/review.py``)."""
        return sorted(self.objects, key=lambda r: -r.review_score)

    def table(self) -> list[dict]:
        return [row.as_dict() for row in self.objects]


def row_for(
    object_id: int, mask: np.ndarray, uncertainty: np.ndarray, offset: tuple[int, ...], **scores
) -> ObjectRow:
    """An ObjectRow from an object's mask and its own uncertainty map, cropped at ``offset``."""
    coords = np.nonzero(mask)
    inside = uncertainty[mask]
    low = [int(c.min() + o) for c, o in zip(coords, offset)]
    high = [int(c.max() + 1 + o) for c, o in zip(coords, offset)]
    return ObjectRow(
        id=int(object_id),
        area=int(mask.sum()),
        mean_uncertainty=float(inside.mean()),
        max_uncertainty=float(inside.max()),
        uncertainty_score=object_score(mask, uncertainty),
        bbox=tuple(low + high),
        centroid=tuple(float(c.mean() + o) for c, o in zip(coords, offset)),
        **scores,
    )


def object_rows(painted: list[tuple[Candidate, np.ndarray]], ndim: int = 2) -> list[ObjectRow]:
    """Rows for painted 2D candidates (ids 1..N in order)."""
    return [
        row_for(i, own, cand.uncertainty, cand.window[:2], predicted_iou=cand.predicted_iou,
                stability=cand.stability, prompt_box=list(cand.prompt_box), **cand.checks)
        for i, (cand, own) in enumerate(painted, start=1)
    ]


def result_from_labels(labels: np.ndarray, uncertainty: np.ndarray, margin: int = 4) -> EverythingResult:
    """Rows for an existing label image (painted or edited by hand) scored on ``uncertainty``;
    predicted IoU and stability are unknown there (nan)."""
    from scipy import ndimage

    labels = np.asarray(labels)
    uncertainty = np.asarray(uncertainty, np.float32)
    if labels.shape != uncertainty.shape:
        raise ValueError(f"labels {labels.shape} and uncertainty {uncertainty.shape} must have the same shape")
    rows = []
    for index, window in enumerate(ndimage.find_objects(labels.astype(np.int64, copy=False)), start=1):
        if window is None:
            continue
        grown = tuple(slice(max(0, w.start - margin), min(n, w.stop + margin)) for w, n in zip(window, labels.shape))
        rows.append(row_for(index, labels[grown] == index, uncertainty[grown], tuple(w.start for w in grown),
                            predicted_iou=float("nan"), stability=float("nan")))
    return EverythingResult(labels=labels, uncertainty=uncertainty, objects=rows, method="")
