"""File in, files out for segment-everything: the label image, the uncertainty map (the input's
format and geometry), a per-object CSV (scores, physical volume from the spacing, review status)
and a JSON summary. The CLI (``segment --all``) and ``batch --all`` use this; the napari review
reads and writes the same CSV (the ``status`` column survives a save and reload)."""

from __future__ import annotations

import csv
import io as _io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..batch.volume import physical_volume_unit
from ..io import ImageData, output_path, read_image, write_image
from ..io.atomic import atomic_path
from ..core.progress import Progress
from .result import EverythingResult
from ..uq import DEFAULT_METHOD

def atomic_write_text(path: Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text)


STATUSES = ("", "accepted", "fixed", "deleted")  # "" = not reviewed yet
AXES_2D, AXES_3D = ("y", "x"), ("z", "y", "x")


@dataclass
class EverythingOutputs:
    labels: Path
    uncertainty: Path
    objects: Path
    summary: Path
    result: EverythingResult | None = None
    stats: dict = field(default_factory=dict)


def objects_csv_path(labels_path: str | os.PathLike) -> Path:
    """``cells_labels.tif`` → ``cells_objects.csv`` beside it (any other name: ``<name>_objects.csv``)."""
    path = Path(labels_path)
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif", ".nii.gz", ".tiff", ".tif", ".nii", ".png", ".npy"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    else:
        name = path.stem
    if name.endswith("_labels"):
        name = name[: -len("_labels")]
    return path.with_name(f"{name}_objects.csv")


def object_table(result: EverythingResult, voxel_volume: float = 1.0, unit: str = "pixels",
                 statuses: dict[int, str] | None = None) -> list[dict]:
    """One dict per object, ranked most likely wrong first (``rank`` 1, review score), in CSV column order."""
    return rows_to_table(result.ranked(), result.labels.ndim, voxel_volume, unit, statuses)


def rows_to_table(objects, ndim: int, voxel_volume: float = 1.0, unit: str = "pixels",
                  statuses: dict[int, str] | None = None) -> list[dict]:
    """CSV-ready dicts for ObjectRows in the given order (``rank`` 1 first)."""
    statuses = statuses or {}
    axes = AXES_3D if ndim == 3 else AXES_2D
    rows = []
    for rank, row in enumerate(objects, start=1):
        n = len(axes)
        entry = dict(id=row.id, rank=rank, status=statuses.get(row.id, ""),
                     review_score=round(row.review_score, 6),
                     uncertainty_score=round(row.uncertainty_score, 6), area=row.area,
                     physical_volume=round(row.area * voxel_volume, 6), physical_unit=unit,
                     predicted_iou=round(row.predicted_iou, 6), stability=round(row.stability, 6),
                     mean_uncertainty=round(row.mean_uncertainty, 6), max_uncertainty=round(row.max_uncertainty, 6),
                     proposal_iou=round(row.proposal_iou, 6), kept=round(row.kept, 6), click_iou=round(row.click_iou, 6))
        entry.update({f"{a}0": row.bbox[i] for i, a in enumerate(axes)})
        entry.update({f"{a}1": row.bbox[n + i] for i, a in enumerate(axes)})
        entry.update({f"centroid_{a}": round(row.centroid[i], 3) for i, a in enumerate(axes)})
        if ndim == 3:
            entry["seed_slice"] = row.seed_slice
        rows.append(entry)
    return rows


def write_objects_csv(path: str | os.PathLike, rows: list[dict]) -> Path:
    """Write ``rows`` (``object_table``) atomically; the header is the first row's keys."""
    path = Path(path)
    buffer = _io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        buffer.write("id,rank,status,review_score,uncertainty_score,area,physical_volume,physical_unit\n")
    atomic_write_text(path, buffer.getvalue())
    return path


def read_objects_csv(path: str | os.PathLike) -> list[dict]:
    """Rows of an objects CSV with ``id``/``rank`` as int and scores as float; a clear error when it is not one."""
    path = Path(path)
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "status", "uncertainty_score"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path} is not an objects CSV (missing columns {sorted(missing)}); "
                             "write one with `napari-ruac segment IMAGE --all` or the review's Save.")
        rows = []
        for raw in reader:
            row = dict(raw)
            for key in ("id", "rank", "area"):
                if row.get(key) not in (None, ""):
                    row[key] = int(row[key])
            for key in ("review_score", "uncertainty_score", "predicted_iou", "stability", "mean_uncertainty",
                        "max_uncertainty", "proposal_iou", "kept", "click_iou"):
                if row.get(key) not in (None, ""):
                    row[key] = float(row[key])
            row.setdefault("review_score", row["uncertainty_score"])  # a CSV from before the review score
            if row["status"] not in STATUSES:
                raise ValueError(f"{path}: object {row['id']} has status {row['status']!r}; "
                                 f"use one of {', '.join(s or '(empty)' for s in STATUSES)}.")
            rows.append(row)
    return rows


def iter_everything_file(
    image: ImageData | str | os.PathLike,
    model,
    out_dir: str | os.PathLike | None = None,
    method: str = DEFAULT_METHOD,
    seed_slices=None,
    intensity=None,
    settings=None,
    **options,
) -> Iterator[Progress | EverythingOutputs]:
    """Segment everything in a file and write the outputs; progress events, then EverythingOutputs."""
    from . import make_run

    data = image if isinstance(image, ImageData) else read_image(image)
    if data.path is None:
        raise ValueError("the image has no file path: use segment_everything and write the arrays yourself.")
    folder = Path(out_dir) if out_dir is not None else data.path.parent
    folder.mkdir(parents=True, exist_ok=True)
    array = data.array
    if not data.is_volume and data.has_channels and array.shape[-1] not in (3, 4):
        array = array[..., 0]
    run = make_run(model, array, method=method, settings=settings, seed_slices=seed_slices if data.is_volume else None,
                   volume=data.is_volume, intensity=intensity, **options)
    yield from run
    result = run.result()
    yield write_everything(data, result, folder, model)


def write_everything(data: ImageData, result: EverythingResult, folder: Path, model=None) -> EverythingOutputs:
    """Labels, uncertainty, objects CSV and summary JSON of ``result`` beside each other in ``folder``."""
    labels_path = write_image(output_path(data, "labels", "labels", folder), result.labels, like=data)
    unc_path = write_image(output_path(data, "uncertainty", "float", folder), result.uncertainty, like=data, kind="float")
    voxel_volume, unit = physical_volume_unit(data)
    objects_path = write_objects_csv(objects_csv_path(labels_path), object_table(result, voxel_volume, unit))
    stats = dict(
        input=str(data.path), model=None if model is None else model.info.name, method=result.method,
        objects=result.count, complete=result.complete, decoded_prompts=result.decoded,
        candidates=result.candidates, physical_unit=unit, settings=result.settings,
        note="no objects found" if result.count == 0 else None,
    )
    summary_path = objects_path.with_name(objects_path.name.replace("_objects.csv", "_everything.json"))
    atomic_write_text(summary_path, json.dumps(stats, indent=2))
    return EverythingOutputs(labels_path, unc_path, objects_path, summary_path, result, stats)
