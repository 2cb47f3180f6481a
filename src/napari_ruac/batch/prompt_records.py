"""One prompt record of a batch (object, slice, box, points) and the checks every prompt source shares."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..io import ImageData
from ..io.atomic import file_stem  # noqa: F401  (re-exported: batch.prompts uses it)

ObjectPrompts = dict  # {object_id: {z: {"box": [...], "points": [[x, y], ...], "labels": [...]}}}


class BatchPromptError(ValueError):
    """Prompts that cannot be used; the message names the file or record and the fix."""


def middle_slice(image: ImageData) -> int:
    return image.spatial_shape[0] // 2 if image.is_volume else 0


def slice_for(record_slice, image: ImageData, where: str) -> int:
    if image.is_volume:
        return middle_slice(image) if record_slice is None else int(record_slice)
    if record_slice not in (None, 0):
        raise BatchPromptError(f"{where}: {image.path.name} is a 2D image; leave 'slice' empty (got {record_slice}).")
    return 0


@dataclass
class PromptRecord:
    """One prompt of one object on one slice (slice None = the middle slice of a volume)."""

    object: int
    slice: int | None
    box: list[float] | None = None
    points: list[list[float]] | None = None
    labels: list[int] | None = None

    def prompt(self) -> dict:
        out = {}
        if self.box is not None:
            out["box"] = list(self.box)
        if self.points is not None:
            out["points"] = [list(p) for p in self.points]
            out["labels"] = list(self.labels) if self.labels is not None else [1] * len(self.points)
        return out


def _integer(value, name: str, where: str, minimum: int) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BatchPromptError(f"{where}: {name} must be a whole number, got {value!r}.") from None
    if not math.isfinite(number) or number != int(number) or number < minimum:
        raise BatchPromptError(f"{where}: {name} must be a whole number ≥ {minimum}, got {value!r}.")
    return int(number)


def make_record(raw: dict, where: str) -> PromptRecord:
    """Check one prompt dict (keys object, slice, box, points, labels) and convert it."""
    unknown = set(raw) - {"file", "object", "slice", "box", "points", "labels"}
    if unknown:
        keys = "file, object, slice, box, points, labels"
        raise BatchPromptError(f"{where}: unknown keys {sorted(unknown)}; use {keys}.")
    object_id = _integer(raw.get("object"), "object", where, 1)
    slice_index = _integer(raw.get("slice"), "slice", where, 0)
    record = PromptRecord(object=1 if object_id is None else object_id, slice=slice_index)
    box, points, labels = raw.get("box"), raw.get("points"), raw.get("labels")
    if box is not None:
        values = np.asarray(box, dtype=object).reshape(-1)
        try:
            record.box = [float(v) for v in values]
        except (TypeError, ValueError):
            raise BatchPromptError(f"{where}: box must be 4 numbers [x0, y0, x1, y1], got {box!r}.") from None
        if len(record.box) != 4:
            raise BatchPromptError(f"{where}: box must be 4 numbers [x0, y0, x1, y1], got {box!r}.")
    if points is not None:
        try:
            array = np.asarray(points, dtype=float).reshape(-1, 2)
        except (TypeError, ValueError):
            raise BatchPromptError(f"{where}: points must be [[x, y], ...], got {points!r}.") from None
        record.points = array.tolist()
        if labels is not None:
            record.labels = [int(v) for v in np.asarray(labels).reshape(-1)]
            if len(record.labels) != len(record.points):
                raise BatchPromptError(f"{where}: {len(record.points)} points but {len(record.labels)} labels.")
    elif labels is not None:
        raise BatchPromptError(f"{where}: 'labels' given without 'points'.")
    if record.box is None and record.points is None:
        raise BatchPromptError(f"{where}: give a box [x0, y0, x1, y1] and/or points [[x, y], ...].")
    return record
