"""Segment everything in a volume: every object of one or more seed slices (the 2D run), then each
propagated through z with the volume tracking (all objects together, each slice encoded once);
objects found from different seed slices that are the same 3D object are merged."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..inference import VolumePredictor
from ..inference.embedding_cache import EmbeddingCache
from ..models.ruac_model import RUACModel
from ..uq import DEFAULT_METHOD, one_pass_method
from .image import EverythingRun
from ..core.progress import Progress
from .result import EverythingResult, row_for
from .settings import EverythingError, EverythingSettings

MERGE_IOU = 0.5  # two tracked objects with a 3D mask IoU above this are one object


@dataclass
class _Track:
    """One object through the volume, kept as per-slice crops: z → (window, mask, uncertainty, iou)."""

    seed_slice: int
    stability: float
    prompt_box: list[float]
    slices: dict[int, tuple] = field(default_factory=dict)

    @property
    def voxels(self) -> int:
        return sum(int(m.sum()) for _, m, _, _ in self.slices.values())

    @property
    def predicted_iou(self) -> float:
        return float(np.mean([iou for *_, iou in self.slices.values()])) if self.slices else 0.0


#: where segment-everything looks for objects in a volume when no seed slice is given (CLI, batch, files)
DEFAULT_SEED_FRACTIONS = (0.25, 0.5, 0.75)


def default_seed_slices(num_slices: int) -> list[int]:
    """The slices at ¼, ½ and ¾ of the depth: objects that do not cross the middle slice are found too
    (bench_everything.py's 3D rows, demo nuclei stack: 6 objects found from the middle slice alone, 20 from these
    three; 3D F1 0.17 → 0.44)."""
    return sorted({int(f * (num_slices - 1)) for f in DEFAULT_SEED_FRACTIONS})


def check_seed_slices(seed_slices, num_slices: int) -> list[int]:
    if seed_slices is None or (not np.isscalar(seed_slices) and len(seed_slices) == 0):
        raise EverythingError(
            "a volume needs at least one seed slice to segment automatically: pass seed_slices=[z] "
            f"(0…{num_slices - 1}; CLI: --slice Z, napari: the current slice)."
        )
    slices = [int(seed_slices)] if np.isscalar(seed_slices) else [int(z) for z in seed_slices]
    bad = [z for z in slices if not 0 <= z < num_slices]
    if bad:
        raise EverythingError(f"seed slice(s) {bad} outside the volume's {num_slices} slices (0…{num_slices - 1}).")
    return sorted(set(slices))


class VolumeEverythingRun:
    """All objects of a volume (Z, Y, X) or (Z, Y, X, C), found on ``seed_slices`` and tracked through z.

    Iterate for progress (stop to cancel); ``result()`` assembles what is finished: after a cancel
    during propagation the labels hold the slices done so far.
    """

    def __init__(
        self,
        model: RUACModel,
        volume: np.ndarray,
        seed_slices,
        method: str = DEFAULT_METHOD,
        settings: EverythingSettings | dict | None = None,
        intensity=None,
        cache: EmbeddingCache | None = None,
        tracking: str = "auto",
        **options,
    ) -> None:
        self.method = one_pass_method(method, "segment-everything").name
        self.settings = EverythingSettings.parse(settings)
        self.cache = cache if cache is not None else EmbeddingCache()
        self.volume_predictor = VolumePredictor(model, method=self.method, intensity=intensity, cache=self.cache,
                                                tracking=tracking, **options)
        self.volume = self.volume_predictor._check_volume(volume)
        self.seed_slices = check_seed_slices(seed_slices, self.volume.shape[0])
        self.value_range = self.volume_predictor.intensity.value_range(self.volume)
        self.model, self.options, self.intensity = model, options, intensity
        self.tracks: dict[int, _Track] = {}
        self.decoded = 0
        self.candidates = 0
        self.complete = False

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.volume.shape[:3])

    def __iter__(self) -> Iterator[Progress]:
        margin = self.settings.margin
        for z in self.seed_slices:
            run = EverythingRun(self.model, self.volume[z], method=self.method, settings=self.settings,
                                intensity=self.intensity, cache=self.cache, value_range=self.value_range, **self.options)
            for event in run:
                yield Progress(event.stage, event.done, event.total, objects=len(self.tracks) + event.objects)
            found = run.result()
            self.decoded += found.decoded
            self.candidates += found.candidates
            for row in found.objects:
                y0, x0, y1, x1 = row.bbox
                box = row.prompt_box or [x0, y0, x1, y1]
                self.tracks[len(self.tracks) + 1] = _Track(seed_slice=z, stability=row.stability, prompt_box=list(box))
        if not self.tracks:
            self.complete = True
            return
        objects = {oid: {t.seed_slice: dict(box=t.prompt_box)} for oid, t in self.tracks.items()}
        height, width = self.shape[1:]
        for item in self.volume_predictor.iter_segment_objects(self.volume, objects, value_range=self.value_range):
            self.decoded += 1
            rows, cols = np.any(item.mask, 1), np.any(item.mask, 0)
            if rows.any():
                ys, xs = np.flatnonzero(rows), np.flatnonzero(cols)
                y0, x0 = max(0, ys[0] - margin), max(0, xs[0] - margin)
                y1, x1 = min(height, ys[-1] + 1 + margin), min(width, xs[-1] + 1 + margin)
                self.tracks[item.object_id].slices[item.z] = (
                    (y0, x0, y1, x1), item.mask[y0:y1, x0:x1].copy(),
                    item.uncertainty[y0:y1, x0:x1].astype(np.float32, copy=True), float(item.iou),
                )
            yield Progress("propagate", item.done, item.total, objects=len(self.tracks))
        self.complete = True

    # ---- result ------------------------------------------------------------------------
    def _merged(self) -> list[_Track]:
        """Tracks with duplicates (3D IoU > MERGE_IOU, from different seeds) removed: the better
        tracked one (higher mean predicted IoU) stays."""
        order = sorted((t for t in self.tracks.values() if t.slices), key=lambda t: -t.predicted_iou)
        kept: list[_Track] = []
        for track in order:
            if not any(_iou3d(track, k) > MERGE_IOU for k in kept):
                kept.append(track)
        return kept

    def result(self) -> EverythingResult:
        shape = self.shape
        labels = np.zeros(shape, np.int32)
        uncertainty = np.zeros(shape, np.float32)
        painted = []
        for track in self._merged():
            oid = len(painted) + 1
            own = {}
            for z, (window, mask, unc, _) in track.slices.items():
                y0, x0, y1, x1 = window
                region = labels[z, y0:y1, x0:x1]
                free = mask & (region == 0)
                if free.any():
                    region[free] = oid
                    np.maximum(uncertainty[z, y0:y1, x0:x1], unc, out=uncertainty[z, y0:y1, x0:x1])
                    own[z] = (window, free, unc)
            if sum(int(f.sum()) for _, f, _ in own.values()) < max(self.settings.min_area, 0.5 * track.voxels):
                for z, (window, free, _) in own.items():  # mostly inside earlier objects: undo
                    y0, x0, y1, x1 = window
                    labels[z, y0:y1, x0:x1][free] = 0
                continue
            painted.append((track, own))
        # the uncertainty of undone voxels may stay raised; it is a max over objects' maps, still valid
        rows = [_row(i, track, own) for i, (track, own) in enumerate(painted, start=1)]
        return EverythingResult(labels=labels, uncertainty=uncertainty, objects=rows, complete=self.complete,
                                method=self.method, settings=self.settings.as_dict(), decoded=self.decoded,
                                candidates=self.candidates)


def _iou3d(a: _Track, b: _Track) -> float:
    inter = 0
    for z in set(a.slices) & set(b.slices):
        (ay0, ax0, ay1, ax1), am, _, _ = a.slices[z]
        (by0, bx0, by1, bx1), bm, _, _ = b.slices[z]
        y0, x0, y1, x1 = max(ay0, by0), max(ax0, bx0), min(ay1, by1), min(ax1, bx1)
        if y0 < y1 and x0 < x1:
            inter += int((am[y0 - ay0:y1 - ay0, x0 - ax0:x1 - ax0] & bm[y0 - by0:y1 - by0, x0 - bx0:x1 - bx0]).sum())
    union = a.voxels + b.voxels - inter
    return inter / union if union else 0.0


def _row(object_id: int, track: _Track, own: dict):
    """An ObjectRow from per-slice crops: assembled into one 3D crop around the object."""
    zs = sorted(own)
    y0 = min(w[0] for w, _, _ in own.values())
    x0 = min(w[1] for w, _, _ in own.values())
    y1 = max(w[2] for w, _, _ in own.values())
    x1 = max(w[3] for w, _, _ in own.values())
    mask = np.zeros((zs[-1] - zs[0] + 1, y1 - y0, x1 - x0), bool)
    unc = np.zeros(mask.shape, np.float32)
    for z, ((wy0, wx0, wy1, wx1), free, u) in own.items():
        mask[z - zs[0], wy0 - y0:wy1 - y0, wx0 - x0:wx1 - x0] = free
        unc[z - zs[0], wy0 - y0:wy1 - y0, wx0 - x0:wx1 - x0] = u
    return row_for(object_id, mask, unc, (zs[0], y0, x0), predicted_iou=track.predicted_iou,
                   stability=track.stability, prompt_box=list(track.prompt_box), seed_slice=track.seed_slice)
