"""Where a batch run's prompts come from: a JSON/CSV prompt file, a label file per volume, or one template.

Every source answers ``prompts_for(image) -> {object_id: {z: dict(box=..., points=..., labels=...)}}``
(z = 0 for a 2D image). Sources are small picklable objects so Dask workers can resolve prompts
next to the data (label files are read by the worker that segments the volume).

Prompt file schema (coordinates in pixels, x = column, y = row, z = slice index from 0):

JSON — a mapping from input file name (or its stem) to a list of prompts, or a list of prompts
each naming its ``file``::

    {"stack_a.tif": [{"object": 1, "slice": 12, "box": [30, 40, 60, 72]},
                     {"object": 2, "slice": 12, "points": [[100, 80]], "labels": [1]},
                     {"object": 2, "slice": 20, "box": [95, 70, 120, 95]}],
     "cells.png":   [{"box": [10, 10, 50, 50]}]}

CSV — a header and one prompt per row; ``points`` as ``x,y;x,y``, ``labels`` as ``1;0``::

    file,object,slice,x0,y0,x1,y1,points,labels
    stack_a.tif,1,12,30,40,60,72,,
    stack_a.tif,2,12,,,,,"100,80",1

``object`` defaults to 1; ``slice`` defaults to the middle slice of a volume and must be empty or
0 for a 2D image. Several prompts of one object on different slices all condition its tracking.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io import ImageData, format_of, read_image
from ..io.atomic import full_suffix

ObjectPrompts = dict  # {object_id: {z: {"box": [...], "points": [[x, y], ...], "labels": [...]}}}
CSV_COLUMNS = ("file", "object", "slice", "x0", "y0", "x1", "y1", "points", "labels")


class BatchPromptError(ValueError):
    """Prompts that cannot be used; the message names the file or record and the fix."""


def file_stem(path: str | os.PathLike) -> str:
    """``a.nii.gz`` → ``a``, ``b.ome.tif`` → ``b``: the name without its format suffix."""
    name = Path(path).name
    suffix = full_suffix(Path(name))
    return name[: len(name) - len(suffix)] if suffix else name


def middle_slice(image: ImageData) -> int:
    return image.spatial_shape[0] // 2 if image.is_volume else 0


def _slice_for(record_slice, image: ImageData, where: str) -> int:
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
        raise BatchPromptError(f"{where}: unknown keys {sorted(unknown)}; use file, object, slice, box, points, labels.")
    object_id = _integer(raw.get("object"), "object", where, 1)
    record = PromptRecord(object=1 if object_id is None else object_id, slice=_integer(raw.get("slice"), "slice", where, 0))
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


def _parse_csv_points(text: str, where: str) -> list[list[float]] | None:
    text = (text or "").strip()
    if not text:
        return None
    points = []
    for pair in text.split(";"):
        parts = pair.replace(",", " ").split()
        if len(parts) != 2:
            raise BatchPromptError(f"{where}: points must be 'x,y;x,y', got {text!r}.")
        try:
            points.append([float(parts[0]), float(parts[1])])
        except ValueError:
            raise BatchPromptError(f"{where}: points must be numbers 'x,y;x,y', got {text!r}.") from None
    return points


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if "file" not in header:
            raise BatchPromptError(f"{path}: the CSV needs a header with a 'file' column ({','.join(CSV_COLUMNS)}).")
        unknown = set(header) - set(CSV_COLUMNS)
        if unknown:
            raise BatchPromptError(f"{path}: unknown columns {sorted(unknown)}; use {','.join(CSV_COLUMNS)}.")
        raws = []
        for number, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            where = f"{path.name} line {number}"
            corners = [row.get(k, "") for k in ("x0", "y0", "x1", "y1")]
            if any(corners) and not all(corners):
                raise BatchPromptError(f"{where}: give all four of x0, y0, x1, y1 (or none).")
            labels = row.get("labels", "")
            raws.append(
                dict(
                    file=row["file"],
                    object=row.get("object") or None,
                    slice=row.get("slice") or None,
                    box=corners if all(corners) else None,
                    points=_parse_csv_points(row.get("points", ""), where),
                    labels=[int(v) for v in labels.split(";")] if labels else None,
                    _where=where,
                )
            )
        return raws


def _read_json(path: Path) -> list[dict]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise BatchPromptError(f"{path} is not valid JSON: {error}.") from None
    raws = []
    if isinstance(content, dict):
        for name, items in content.items():
            items = [items] if isinstance(items, dict) else items
            if not isinstance(items, list):
                raise BatchPromptError(f"{path}: the value for {name!r} must be a list of prompts.")
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    raise BatchPromptError(f"{path}: prompt {index} of {name!r} must be an object with box/points.")
                raws.append({**item, "file": name, "_where": f"{path.name} [{name!r}][{index}]"})
    elif isinstance(content, list):
        for index, item in enumerate(content):
            if not isinstance(item, dict) or "file" not in item:
                raise BatchPromptError(f"{path}: entry {index} must be an object with a 'file' key and box/points.")
            raws.append({**item, "_where": f"{path.name} [{index}]"})
    else:
        raise BatchPromptError(f"{path}: expected a mapping file → prompts or a list of prompts.")
    return raws


@dataclass
class PromptFile:
    """Prompts per input file from a JSON or CSV file (schema in the module docstring)."""

    path: Path
    records: dict[str, list[PromptRecord]] = field(default_factory=dict)
    digest: str = ""

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PromptFile":
        path = Path(path).expanduser()
        if not path.is_file():
            raise BatchPromptError(f"prompt file {path} does not exist; check the path (or use --from-labels / --box).")
        suffix = path.suffix.lower()
        if suffix not in (".json", ".csv"):
            raise BatchPromptError(f"prompt file {path} must be .json or .csv (schema: napari-ruac batch --help).")
        raws = _read_json(path) if suffix == ".json" else _read_csv(path)
        if not raws:
            raise BatchPromptError(f"prompt file {path} holds no prompts.")
        records: dict[str, list[PromptRecord]] = {}
        seen = set()
        for raw in raws:
            where = raw.pop("_where")
            name = str(raw.get("file") or "").strip()
            if not name:
                raise BatchPromptError(f"{where}: 'file' is empty; name the input file (e.g. stack_a.tif).")
            record = make_record(raw, where)
            key = (name, record.object, record.slice)
            if key in seen:
                raise BatchPromptError(
                    f"{where}: a second prompt for {name} object {record.object} on slice {record.slice}; "
                    "merge them into one (box and points may be given together)."
                )
            seen.add(key)
            records.setdefault(name, []).append(record)
        return cls(path, records, hashlib.sha256(path.read_bytes()).hexdigest())

    def _keys_for(self, input_path: Path) -> list[str]:
        """The prompt-file keys naming this input: its file name and/or its stem."""
        return [key for key in dict.fromkeys((input_path.name, file_stem(input_path))) if key in self.records]

    def check_inputs(self, inputs: Sequence[Path]) -> None:
        """Every file the prompt file names must be one of the inputs (a misspelt name is an error)."""
        names = {p.name for p in inputs} | {file_stem(p) for p in inputs}
        unmatched = sorted(k for k in self.records if k not in names)
        if unmatched:
            shown = ", ".join(sorted(p.name for p in inputs)[:10])
            raise BatchPromptError(
                f"{self.path} names files that are not among the inputs: {', '.join(unmatched)}. "
                f"Inputs: {shown}{' …' if len(inputs) > 10 else ''}. Fix the names (file name or stem)."
            )
        stems: dict[str, list[str]] = {}
        for p in inputs:
            stems.setdefault(file_stem(p), []).append(p.name)
        for key in self.records:
            if key in stems and len(stems[key]) > 1 and key not in {p.name for p in inputs}:
                raise BatchPromptError(
                    f"{self.path}: {key!r} matches several inputs ({', '.join(stems[key])}); use the full file name."
                )

    def prompts_for(self, image: ImageData) -> ObjectPrompts:
        keys = self._keys_for(image.path)
        if not keys:
            raise BatchPromptError(f"{self.path} has no prompts for {image.path.name}; add them or remove the file.")
        objects: ObjectPrompts = {}
        for key in keys:
            for record in self.records[key]:
                where = f"{self.path.name} ({key}, object {record.object})"
                z = _slice_for(record.slice, image, where)
                if z in objects.get(record.object, {}):
                    raise BatchPromptError(f"{where}: two prompts on slice {z}; merge them into one.")
                objects.setdefault(record.object, {})[z] = record.prompt()
        return objects

    def describe(self) -> dict:
        return {"source": "file", "sha256": self.digest}


def box_on_largest_slice(mask: np.ndarray) -> tuple[int, list[float]]:
    """(z, [x0, y0, x1, y1]) of a (Z, Y, X) or (Y, X) mask on the slice where it has most voxels."""
    if mask.ndim == 3:
        z = int(np.argmax(mask.reshape(mask.shape[0], -1).sum(axis=1)))
        plane = mask[z]
    else:
        z, plane = 0, mask
    ys, xs = np.nonzero(plane)
    return z, [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


@dataclass
class LabelPrompts:
    """One box per object on its largest slice, from a label file per input.

    The label file of ``a.tif`` is ``FOLDER/a.*`` or ``FOLDER/a_labels.*`` with FOLDER = ``folder``,
    or by default ``labels/`` beside the input, or ``a_labels.*`` beside the input itself.
    """

    folder: Path | None = None

    def __post_init__(self) -> None:
        if self.folder is not None:
            self.folder = Path(self.folder).expanduser().absolute()
            if not self.folder.is_dir():
                raise BatchPromptError(f"label folder {self.folder} does not exist.")

    def candidates(self, input_path: Path) -> list[Path]:
        stem = file_stem(input_path)
        folders = [Path(self.folder)] if self.folder is not None else [input_path.parent / "labels", input_path.parent]
        found = []
        for folder in folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.is_file() and format_of(path) and path != input_path:
                    if file_stem(path) == f"{stem}_labels" or (folder != input_path.parent and file_stem(path) == stem):
                        found.append(path)
        return found

    def label_file(self, input_path: Path) -> Path:
        found = self.candidates(Path(input_path))
        stem = file_stem(input_path)
        if not found:
            where = f"{self.folder}/{stem}.*" if self.folder is not None else f"labels/{stem}.* or {stem}_labels.*"
            raise BatchPromptError(f"no label file for {Path(input_path).name}: looked for {where}.")
        if len(found) > 1:
            raise BatchPromptError(
                f"several label files match {Path(input_path).name}: {', '.join(p.name for p in found)}; keep one."
            )
        return found[0]

    def prompts_for(self, image: ImageData) -> ObjectPrompts:
        path = self.label_file(image.path)
        labels = read_image(path).array
        if labels.shape != image.spatial_shape:
            raise BatchPromptError(
                f"label file {path.name} has shape {labels.shape} but {image.path.name} has spatial shape "
                f"{image.spatial_shape}; they must match voxel for voxel."
            )
        if not np.issubdtype(labels.dtype, np.integer) and not np.issubdtype(labels.dtype, np.bool_):
            if not np.array_equal(labels, np.round(labels)):
                raise BatchPromptError(f"label file {path.name} holds non-integer values; it must hold object ids.")
        labels = labels.astype(np.int64)
        ids = [int(i) for i in np.unique(labels) if i > 0]
        if not ids:
            raise BatchPromptError(f"label file {path.name} has no objects (all voxels are 0).")
        objects: ObjectPrompts = {}
        for object_id in ids:
            z, box = box_on_largest_slice(labels == object_id)
            objects[object_id] = {z: {"box": box}}
        return objects

    def describe(self) -> dict:
        return {"source": "labels", "folder": None if self.folder is None else str(self.folder)}


@dataclass
class TemplatePrompt:
    """The same prompt for every input: one object (id 1) on ``slice`` (default: the middle slice)."""

    box: list[float] | None = None
    points: list[list[float]] | None = None
    labels: list[int] | None = None
    slice: int | None = None

    def __post_init__(self) -> None:
        record = make_record(
            dict(box=self.box, points=self.points, labels=self.labels, slice=self.slice), "template prompt"
        )
        self.box, self.points, self.labels, self.slice = record.box, record.points, record.labels, record.slice
        self._record = record

    def prompts_for(self, image: ImageData) -> ObjectPrompts:
        z = _slice_for(self.slice, image, "template prompt")
        if image.is_volume and not 0 <= z < image.spatial_shape[0]:
            raise BatchPromptError(
                f"template slice {z} is outside {image.path.name}'s {image.spatial_shape[0]} slices."
            )
        return {1: {z: self._record.prompt()}}

    def describe(self) -> dict:
        return {"source": "template", "box": self.box, "points": self.points, "labels": self.labels, "slice": self.slice}


def prompt_source(source) -> "PromptFile | LabelPrompts | TemplatePrompt":
    """Accept a source object, a prompt-file path, or a dict for a template (``dict(box=..., slice=...)``)."""
    if isinstance(source, (PromptFile, LabelPrompts, TemplatePrompt)):
        return source
    if isinstance(source, (str, os.PathLike)):
        return PromptFile.load(source)
    if isinstance(source, dict):
        return TemplatePrompt(**source)
    raise BatchPromptError(
        "prompts must be a JSON/CSV path, LabelPrompts(folder), TemplatePrompt(box=..., slice=...) or a "
        f"dict(box=..., slice=...); got {type(source).__name__}."
    )
