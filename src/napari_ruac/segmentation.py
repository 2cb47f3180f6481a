"""File in, files out: segment one image or volume from prompts and write mask, uncertainty,
an overlay PNG and a JSON summary next to each other. The CLI and batch runs use this.

The work is a generator of progress events (``("encode"|"slice", done, total)``) ending with
the written ``SegmentationOutputs``; ``run_segmentation`` drives it to the end.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from .core.progress import Progress
from .inference import ImagePredictor, VolumePredictor
from .inference.embedding_cache import disk_cache
from .io.atomic import file_stem
from .inference.prompts import PromptError
from .inference.volume_result import SliceResult, VolumeAssembly
from .models.preprocess import check_not_constant
from .io import ImageData, atomic_path, check_output_folder, output_folder, output_path, overlay_png, read_image, write_image
from .models.ruac_model import RUACModel
from .uq import DEFAULT_METHOD


@dataclass
class SegmentationOutputs:
    """Where the results went, and a few numbers about them."""

    mask: Path
    uncertainty: Path
    overlay: Path
    summary: Path
    stats: dict = field(default_factory=dict)

    @property
    def tracking_stops(self) -> list[tuple[int, str]]:
        """(slice, reason) wherever projection tracking stopped (volumes; empty otherwise)."""
        return [(s["z"], s["stopped"]) for s in self.stats.get("slices", []) if s.get("stopped")]

    @property
    def empty_prompts(self) -> list[int | None]:
        """Prompted slices whose mask came out empty (``[None]`` for an empty 2D result)."""
        slices = self.stats.get("slices", [])
        return [s.get("z") for s in slices if s.get("area", 1) == 0 and s.get("prompted", "z" not in s)]

    @property
    def warnings(self) -> list[str]:
        """What the user should know about this result, one line each (empty masks)."""
        lines = []
        if self.stats.get("voxels", 1) == 0:
            lines.append("the mask is empty: the prompt found no object. Draw the box around the object, or click inside it.")
        else:
            lines += [
                f"the mask on prompted slice {z} is empty: the prompt found no object there; check the box/points."
                for z in self.empty_prompts
            ]
        return lines


def iter_segmentation(
    image: ImageData | str | os.PathLike,
    model: RUACModel,
    prompts: dict[int, dict] | dict,
    out_dir: str | os.PathLike | None = None,
    method: str = DEFAULT_METHOD,
    intensity=None,
    propagate: bool = True,
    overlay: bool = True,
    cache_dir: str | os.PathLike | None = None,
    log=None,
    **options,
) -> Iterator[Progress | SegmentationOutputs]:
    """Segment one object. For a 2D image ``prompts`` is ``dict(box=..., points=..., labels=...)``;
    for a volume it is ``{z: dict(...)}`` and the object is propagated through z (unless
    ``propagate=False``: then only the prompted slices are segmented). ``cache_dir``: reuse (and fill)
    the on-disk embeddings there (``napari-ruac embed``); ``log(message)`` hears about a stale cache."""
    folder = Path(out_dir) if out_dir is not None else None
    if folder is not None:
        check_output_folder(folder)  # before reading and computing: an unusable folder fails first
    data = image if isinstance(image, ImageData) else read_image(image)
    folder = folder if folder is not None else (data.path.parent if data.path else Path.cwd())
    if cache_dir is not None:
        options["cache"] = disk_cache(cache_dir, cache_name(data), model, data.array, intensity, data.is_volume, log)
    with output_folder(folder) as folder:  # a failed run leaves no empty folder behind
        yield from _segment(data, model, prompts, folder, method, intensity, propagate, overlay, options)


def _segment(data, model, prompts, folder, method, intensity, propagate, overlay, options):
    if data.is_volume:
        if not prompts or not all(isinstance(z, (int, np.integer)) for z in prompts):
            raise PromptError("for a volume give prompts per slice: {z: dict(box=[x0, y0, x1, y1])} (CLI: --slice Z).")
        predictor = VolumePredictor(model, method=method, intensity=intensity, **options)
        yield Progress("encode", 0, 1)
        if propagate:
            assembly = VolumeAssembly(data.spatial_shape)
            for item in predictor.iter_segment(data.array, prompts):
                assembly.add(item)
                yield Progress("slice", item.done, item.total)
        else:
            assembly = _prompted_slices_only(model, data, prompts, method, intensity, options)
        result = assembly.result()
        mask, probability, uncertainty, scores = result.mask, result.probability, result.uncertainty, result.slice_scores
    else:
        if prompts and all(isinstance(z, (int, np.integer)) for z in prompts):
            raise PromptError("this is a 2D image: give one prompt dict(box=...), without a slice number.")
        predictor = ImagePredictor(model, method=method, intensity=intensity, **options)
        yield Progress("encode", 0, 1)
        predictor.set_image(data.array)
        yield Progress("encode", 1, 1)
        prediction = predictor.predict(**prompts)
        mask, probability, uncertainty = prediction.mask, prediction.probability, prediction.uncertainty
        scores = [dict(iou=prediction.iou, area=prediction.area)]
    yield _write_outputs(data, folder, mask, uncertainty, probability, scores, method, model, overlay)


def cache_name(data: ImageData) -> str:
    """The name of an input's store in an embedding-cache folder: its file name without the suffix."""
    return "image" if data.path is None else file_stem(data.path)


def iter_embed(
    image: ImageData | str | os.PathLike, model: RUACModel, cache_dir: str | os.PathLike, intensity=None, log=None
) -> Iterator[Progress | Path]:
    """Encode every slice of an image or volume into ``cache_dir/<name>.zarr`` (slices already there are
    kept); yields ``Progress("encode", done, total)``, then the store's path. Later runs with the same
    ``cache_dir``, model and intensity window only decode."""
    data = image if isinstance(image, ImageData) else read_image(image)
    check_not_constant(data.array, data.path.name if data.path else "image")
    cache = disk_cache(cache_dir, cache_name(data), model, data.array, intensity, data.is_volume, log)
    for done, total in cache.disk.precompute():
        yield Progress("encode", done, total)
    yield cache.disk.store.path


def run_segmentation(*args, **kwargs) -> SegmentationOutputs:
    """``iter_segmentation`` run to the end (no progress reporting)."""
    result = None
    for event in iter_segmentation(*args, **kwargs):
        result = event
    return result


def _prompted_slices_only(model, data, prompts, method, intensity, options):
    predictor = ImagePredictor(model, method=method, intensity=intensity, **options)
    check_not_constant(data.array, str(data.path.name) if data.path else "volume")
    value_range = predictor.intensity.value_range(data.array)
    shape = data.spatial_shape
    assembly = VolumeAssembly(shape)
    for done, (z, prompt) in enumerate(sorted(prompts.items()), start=1):
        if not 0 <= z < shape[0]:
            raise PromptError(f"slice {z} is outside the volume's {shape[0]} slices.")
        predictor.set_image(data.array[z], value_range=value_range)
        assembly.add(SliceResult.from_prediction(z, 1, predictor.predict(**prompt), True, done, len(prompts)))
    return assembly


def overlay_slice(scores: list[dict]) -> int | None:
    """The slice the overlay shows: the first prompted one (what the user pointed at), never the
    slice where tracking grew the largest mask; None without slice scores."""
    prompted = sorted(s["z"] for s in scores if s.get("prompted") and "z" in s)
    return prompted[0] if prompted else None


def _write_outputs(data, folder, mask, uncertainty, probability, scores, method, model, overlay) -> SegmentationOutputs:
    like = data if data.path is not None else None
    if like is None:
        raise ValueError("the image has no file path: write results with napari_ruac.io.write_image yourself.")
    mask_path = write_image(output_path(data, "mask", "labels", folder), mask.astype(np.uint8), like=data)
    unc_path = write_image(output_path(data, "uncertainty", "float", folder), uncertainty, like=data, kind="float")
    stem = mask_path.name.split("_mask")[0]
    overlay_path = folder / f"{stem}_overlay.png"
    if overlay:
        z = overlay_slice(scores) if data.is_volume else None
        overlay_png(overlay_path, data, mask, uncertainty, z=z, z_note=None if z is None else "prompted",
                    title=f"{stem} — {method}")
    inside = uncertainty[mask] if mask.any() else np.zeros(1, np.float32)
    stats = dict(
        input=str(data.path),
        model=model.info.name,
        model_source=model.info.source,
        method=method,
        voxels=int(mask.sum()),
        mean_uncertainty=float(uncertainty.mean()),
        mean_uncertainty_in_mask=float(inside.mean()),
        max_uncertainty=float(uncertainty.max()),
        uncertain_fraction=float((uncertainty > 0.5).mean()),
        slices=scores,
    )
    summary_path = folder / f"{stem}_summary.json"
    with atomic_path(summary_path) as temporary:
        temporary.write_text(json.dumps(stats, indent=2))
    return SegmentationOutputs(mask_path, unc_path, overlay_path, summary_path, stats)
