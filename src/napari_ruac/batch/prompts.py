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

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.boxes import box_on_largest_slice
from ..io import ImageData, format_of, read_image
from .prompt_file import CSV_COLUMNS, PromptFile
from .prompt_records import BatchPromptError, ObjectPrompts, PromptRecord, file_stem, make_record, slice_for

__all__ = [
    "CSV_COLUMNS", "BatchPromptError", "LabelPrompts", "ObjectPrompts", "PromptFile", "PromptRecord", "TemplatePrompt",
    "file_stem", "make_record", "prompt_source",
]


@dataclass
class LabelPrompts:
    """One box per object on its largest slice, from a label file per input.

    The label file of ``a.tif`` is ``FOLDER/a.*`` or ``FOLDER/a_labels.*`` with FOLDER = ``folder``,
    or by default ``labels/`` beside the input, or ``a_labels.*`` beside the input itself.
    """

    folder: Path | None = None
    refine: bool = False  # True: refine each object's mask on every slice it covers (mask prompt + box)

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
            mask = labels == object_id
            if self.refine:
                planes = mask if mask.ndim == 3 else mask[None]
                objects[object_id] = {
                    int(z): {"mask": plane, "box": box_on_largest_slice(plane)[1]}
                    for z, plane in enumerate(planes) if plane.any()
                }
            else:
                z, box = box_on_largest_slice(mask)
                objects[object_id] = {z: {"box": box}}
        return objects

    def describe(self) -> dict:
        folder = None if self.folder is None else str(self.folder)
        return {"source": "labels", "folder": folder, "refine": self.refine}


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
        z = slice_for(self.slice, image, "template prompt")
        if image.is_volume and not 0 <= z < image.spatial_shape[0]:
            raise BatchPromptError(
                f"template slice {z} is outside {image.path.name}'s {image.spatial_shape[0]} slices."
            )
        return {1: {z: self._record.prompt()}}

    def describe(self) -> dict:
        return dict(source="template", box=self.box, points=self.points, labels=self.labels, slice=self.slice)


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
