"""Per-object numbers for the batch report, gathered slice by slice (memory stays one slice per object).

Uncertainty statistics use the object's *neighbourhood* on each slice: its own predicted mask
dilated by ``margin`` pixels in-plane, so the uncertain rim just outside the mask counts too.

Review rule — a slice z is listed in ``review_slices`` for an object when
1. *uncertain*: the mean uncertainty of the object's neighbourhood on z is ≥ ``review_uncertainty``;
2. *abrupt*: its area changes between slice z-1 and z by more than ``area_ratio`` times
   (it appears, vanishes or jumps), the larger of the two areas being ≥ ``min_area`` pixels;
3. *lost*: z is a slice the object was prompted on and its mask there is empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class ReviewRule:
    """Thresholds of the statistics and of the review rule (see the module docstring)."""

    margin: int = 2
    uncertain_threshold: float = 0.5  # a voxel counts as uncertain at or above this
    review_uncertainty: float = 0.5
    area_ratio: float = 2.0
    min_area: int = 25


@dataclass
class SliceStats:
    z: int
    area: int
    neighbourhood: int
    uncertainty_sum: float
    uncertainty_max: float
    uncertain: int
    prompted: bool

    @property
    def mean_uncertainty(self) -> float:
        return self.uncertainty_sum / self.neighbourhood if self.neighbourhood else float("nan")


def neighbourhood(mask: np.ndarray, margin: int) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """(crop, region) with region = ``mask`` dilated by ``margin`` px inside the crop; None for an empty mask."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    height, width = mask.shape
    crop = (
        slice(max(int(ys.min()) - margin, 0), min(int(ys.max()) + margin + 1, height)),
        slice(max(int(xs.min()) - margin, 0), min(int(xs.max()) + margin + 1, width)),
    )
    region = mask[crop]
    if margin > 0:
        region = ndimage.binary_dilation(region, iterations=margin)
    return crop, region


@dataclass
class ObjectStats:
    """Accumulates one object's slices; ``summary`` gives its report numbers."""

    object_id: int
    rule: ReviewRule = field(default_factory=ReviewRule)
    slices: dict[int, SliceStats] = field(default_factory=dict)

    def add(self, z: int, mask: np.ndarray, uncertainty: np.ndarray, prompted: bool) -> None:
        found = neighbourhood(mask, self.rule.margin)
        if found is None:
            self.slices[z] = SliceStats(z, 0, 0, 0.0, 0.0, 0, prompted)
            return
        crop, region = found
        values = uncertainty[crop][region]
        self.slices[z] = SliceStats(
            z=z,
            area=int(mask.sum()),
            neighbourhood=int(values.size),
            uncertainty_sum=float(values.sum(dtype=np.float64)),
            uncertainty_max=float(values.max()),
            uncertain=int((values >= self.rule.uncertain_threshold).sum()),
            prompted=prompted,
        )

    def review_slices(self) -> list[int]:
        rule = self.rule
        ordered = [self.slices[z] for z in sorted(self.slices)]
        flagged = set()
        for index, item in enumerate(ordered):
            if item.neighbourhood and item.mean_uncertainty >= rule.review_uncertainty:
                flagged.add(item.z)
            if item.prompted and item.area == 0:
                flagged.add(item.z)
            if index > 0 and ordered[index - 1].z == item.z - 1:
                before = ordered[index - 1].area
                larger, smaller = max(before, item.area), min(before, item.area)
                if larger >= rule.min_area and larger > rule.area_ratio * smaller:
                    flagged.add(item.z)
        return sorted(flagged)

    def summary(self) -> dict:
        """mean/max uncertainty and uncertain fraction over the neighbourhood, slices, review slices."""
        count = sum(s.neighbourhood for s in self.slices.values())
        total = sum(s.uncertainty_sum for s in self.slices.values())
        return dict(
            mean_uncertainty=total / count if count else float("nan"),
            max_uncertainty=max(
                (s.uncertainty_max for s in self.slices.values() if s.neighbourhood), default=float("nan")
            ),
            uncertain_fraction=sum(s.uncertain for s in self.slices.values()) / count if count else float("nan"),
            slices_with_object=sum(1 for s in self.slices.values() if s.area > 0),
            prompt_slices=sorted(s.z for s in self.slices.values() if s.prompted),
            review_slices=self.review_slices(),
        )
