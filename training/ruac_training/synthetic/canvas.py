"""A label canvas that places objects behind or in front of earlier ones and keeps every label valid.

Valid means: each id is one 4-connected piece of at least ``min_size`` pixels, and an
occluded object keeps at least ``keep_fraction`` of the area it had when it was placed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


_CROSS = ndimage.generate_binary_structure(2, 1)


def _one_piece(mask: np.ndarray) -> bool:
    return ndimage.label(mask, _CROSS)[1] == 1


class Canvas:
    """Instance labels under construction; ``add`` refuses placements that would break a label."""

    def __init__(self, shape, min_size: int):
        self.labels = np.zeros(tuple(shape), np.int32)
        self.min_size = int(min_size)
        self.boxes: dict[int, tuple[slice, ...]] = {}
        self.areas: dict[int, int] = {}

    @property
    def count(self) -> int:
        return len(self.boxes)

    def add(self, box, mask: np.ndarray, in_front: bool = False, min_visible: float = 0.8,
            keep_fraction: float = 0.5) -> int | None:
        """Place ``mask`` (within ``box``) as the next id; returns the id, or None if refused.

        Behind: it fills only empty pixels and must keep ``min_visible`` of its area.
        In front: it covers what is there, unless a covered object would fall apart or
        shrink below ``keep_fraction`` of its area or ``min_size``.
        """
        region = self.labels[box]
        total = int(mask.sum())
        visible = mask if in_front else mask & (region == 0)
        count = int(visible.sum())
        if count < self.min_size or count < min_visible * total or not _one_piece(visible):
            return None
        if in_front:
            for other in np.unique(region[visible]):
                if other <= 0:  # background or a blocked (negative) area
                    continue
                other_box = self.boxes[other]
                remaining = self.labels[other_box] == other
                cover = np.zeros(self.labels.shape, bool)
                cover[box] = visible
                remaining &= ~cover[other_box]
                left = int(remaining.sum())
                if left < max(self.min_size, keep_fraction * self.areas[other]) or not _one_piece(remaining):
                    return None
        new_id = self.count + 1
        region[visible] = new_id
        self.boxes[new_id] = box
        self.areas[new_id] = count
        return new_id

    def occupied(self, point) -> bool:
        """True when ``point`` (row, col) lies on an object: a cheap early reject for placements behind."""
        row, col = int(point[0]), int(point[1])
        inside = 0 <= row < self.labels.shape[0] and 0 <= col < self.labels.shape[1]
        return inside and self.labels[row, col] != 0

    def mask_of(self, label_id: int) -> tuple[tuple[slice, ...], np.ndarray]:
        """The current visible mask of ``label_id`` within its bounding box."""
        box = self.boxes[label_id]
        return box, self.labels[box] == label_id
