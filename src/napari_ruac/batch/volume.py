"""One input of a batch: read it, resolve its prompts, segment every object, write outputs, mark it done.

``iter_volume`` is a generator of slice ``Progress`` (core.progress) ending with a ``VolumeOutcome``;
it never raises for a bad input (the outcome says ``failed`` with the message). Outputs are
written atomically, then the "done" marker holding the report rows: a volume is either finished
with all its files or has no marker (and is redone by the next run).
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import numpy as np

from ..core.progress import Progress
from ..inference import ImagePredictor, VolumePredictor
from ..inference.embedding_cache import disk_cache
from ..inference.volume_result import SliceResult, VolumeAssembly
from ..io import ImageData, output_path, read_image, write_image
from ..io.atomic import file_stem
from .prompts import ObjectPrompts
from .state import failure_path, write_marker
from .stats import ObjectStats, ReviewRule
from ..uq import DEFAULT_METHOD

_CLEAR_ERRORS = (ValueError, KeyError, OSError)


@dataclass
class BatchSettings:
    """Everything a worker needs besides the model (picklable)."""

    out_dir: Path
    prompts: object  # a source from .prompts (PromptFile, LabelPrompts, TemplatePrompt)
    method: str = DEFAULT_METHOD
    intensity: object = None
    options: dict = field(default_factory=dict)
    rule: ReviewRule = field(default_factory=ReviewRule)
    cache_dir: Path | None = None  # on-disk embeddings, one store per input (napari-ruac embed)
    read_options: dict = field(default_factory=dict)  # read_image keywords: timepoint, channel, channel_axis


@dataclass
class VolumeOutcome:
    """What became of one input: ``status`` 'ok' (rows, outputs) or 'failed' (error)."""

    volume: str
    status: str
    rows: list[dict] = field(default_factory=list)
    mask: str | None = None
    uncertainty: str | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class _Assembly(VolumeAssembly):
    """The one volume assembler, plus the batch report's statistics per object."""

    def __init__(self, shape, object_ids, rule: ReviewRule):
        super().__init__(shape)
        self.stats = {oid: ObjectStats(oid, rule) for oid in object_ids}

    def add(self, item: SliceResult) -> None:
        super().add(item)
        self.stats[item.object_id].add(item.z, item.mask, item.uncertainty, item.prompted)


def _segment_volume(data: ImageData, objects: ObjectPrompts, model, settings: BatchSettings):
    if _has_masks(objects):
        return (yield from _refine_volume(data, objects, model, settings))
    predictor = VolumePredictor(model, method=settings.method, intensity=settings.intensity, **settings.options)
    assembly = _Assembly(data.spatial_shape, objects, settings.rule)
    for item in predictor.iter_segment_objects(data.array, objects):
        assembly.add(item)
        yield Progress("slice", item.done, item.total, item=data.path.name)
    return assembly


def _segment_image(data: ImageData, objects: ObjectPrompts, model, settings: BatchSettings):
    predictor = ImagePredictor(model, method=settings.method, intensity=settings.intensity, **settings.options)
    predictor.set_image(data.array)
    assembly = _Assembly(data.spatial_shape, objects, settings.rule)
    for done, (object_id, per_slice) in enumerate(objects.items(), start=1):
        prompt = per_slice[0]
        prediction = predictor.refine_mask(**prompt) if "mask" in prompt else predictor.predict(**prompt)
        assembly.add(SliceResult.from_prediction(0, object_id, prediction, True, done, len(objects)))
        yield Progress("slice", done, len(objects), item=data.path.name)
    return assembly


def _has_masks(objects: ObjectPrompts) -> bool:
    return any("mask" in prompt for per_slice in objects.values() for prompt in per_slice.values())


def _refine_volume(data: ImageData, objects: ObjectPrompts, model, settings: BatchSettings):
    """Existing masks (``--from-labels --refine``): every slice an object covers is refined on its
    own (mask prompt + box), with the volume's intensity range; nothing is propagated."""
    predictor = ImagePredictor(model, method=settings.method, intensity=settings.intensity, **settings.options)
    value_range = predictor.intensity.value_range(data.array)
    assembly = _Assembly(data.spatial_shape, objects, settings.rule)
    steps = sorted({(z, oid) for oid, per_slice in objects.items() for z in per_slice})
    current = None
    for done, (z, object_id) in enumerate(steps, start=1):
        if z != current:
            predictor.set_image(data.array[z], value_range=value_range)
            current = z
        prediction = predictor.refine_mask(**objects[object_id][z])
        assembly.add(SliceResult.from_prediction(z, object_id, prediction, True, done, len(steps)))
        yield Progress("slice", done, len(steps), item=data.path.name)
    return assembly


UNKNOWN_UNIT = "units unknown (spacing applied)"


def physical_volume_unit(data: ImageData) -> tuple[float, str]:
    """(volume of one voxel, its unit): 'mm^3' when the file names a unit; 'voxels' / 'pixels' (volume 1)
    when it has neither unit nor spacing; 'units unknown (spacing applied)' for a spacing without a unit
    (never a unit the file does not state)."""
    voxel_volume = float(np.prod(data.spacing))
    if data.unit:
        return voxel_volume, f"{data.unit}^{data.ndim_spatial}"
    if all(s == 1.0 for s in data.spacing):
        return 1.0, "voxels" if data.is_volume else "pixels"
    return voxel_volume, UNKNOWN_UNIT


def _rows(name: str, data: ImageData, assembly: _Assembly, mask_name: str, uncertainty_name: str, seconds: float):
    voxel_volume, unit = physical_volume_unit(data)
    counts = np.bincount(assembly.labels.ravel(), minlength=max(assembly.stats) + 1)
    rows = []
    for object_id, stats in assembly.stats.items():
        summary = stats.summary()
        rows.append(
            dict(
                volume=name,
                status="ok",
                object=object_id,
                prompt_slices=summary["prompt_slices"],
                slices_with_object=summary["slices_with_object"],
                voxels=int(counts[object_id]),
                physical_volume=float(counts[object_id]) * voxel_volume,
                physical_unit=unit,
                mean_uncertainty=summary["mean_uncertainty"],
                max_uncertainty=summary["max_uncertainty"],
                uncertain_fraction=summary["uncertain_fraction"],
                review_slices=summary["review_slices"],
                mask=mask_name,
                uncertainty=uncertainty_name,
                seconds=round(seconds, 2),
            )
        )
    return rows


def _message(error: BaseException) -> str:
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return text if isinstance(error, _CLEAR_ERRORS) else f"{type(error).__name__}: {text}"


def iter_volume(path: str | os.PathLike, model, settings: BatchSettings) -> Iterator[Progress | VolumeOutcome]:
    """Segment one input file; yields ``Progress('slice', …, item=file name)`` per slice and object, then the ``VolumeOutcome``."""
    path = Path(path)
    out_dir = Path(settings.out_dir)
    started = time.perf_counter()
    try:
        data = read_image(path, **settings.read_options)
        objects = settings.prompts.prompts_for(data)
        if not objects:
            raise ValueError(f"no prompts for {path.name}.")
        if settings.cache_dir is not None:
            cache = disk_cache(settings.cache_dir, file_stem(path), model, data.array, settings.intensity, data.is_volume)
            settings = replace(settings, options={**settings.options, "cache": cache})
        segment = _segment_volume if data.is_volume else _segment_image
        assembly = yield from segment(data, objects, model, settings)
        mask_path = write_image(output_path(data, "mask", "labels", out_dir), assembly.labels, like=data)
        uncertainty_path = write_image(
            output_path(data, "uncertainty", "float", out_dir), assembly.uncertainty, like=data, kind="float"
        )
        seconds = time.perf_counter() - started
        rows = _rows(path.name, data, assembly, mask_path.name, uncertainty_path.name, seconds)
        write_marker(
            out_dir,
            path.name,
            dict(volume=path.name, mask=mask_path.name, uncertainty=uncertainty_path.name, seconds=seconds, rows=rows),
        )
        outcome = VolumeOutcome(path.name, "ok", rows, mask_path.name, uncertainty_path.name, seconds=seconds)
    except Exception as error:  # one bad input must not stop the batch; KeyboardInterrupt still does
        seconds = time.perf_counter() - started
        log = failure_path(out_dir, path.name)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("".join(traceback.format_exception(error)))
        outcome = VolumeOutcome(path.name, "failed", error=_message(error), seconds=seconds)
    yield outcome


def process_volume(path: str | os.PathLike, model, settings: BatchSettings) -> VolumeOutcome:
    """``iter_volume`` run to the end (used by Dask workers)."""
    outcome = None
    for event in iter_volume(path, model, settings):
        outcome = event
    return outcome
