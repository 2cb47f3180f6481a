"""Segment everything in a volume slice by slice: every slice segmented as a 2D image (the same run as an
image), then the objects of neighbouring slices linked through z by their overlap (Hungarian matching on
mask IoU). This is the default for volumes; tracking from seed slices (volume.py) is the other mode.

Why the default (``benchmarks/bench_everything.py``'s 3D rows; the choice made on generated tuning stacks,
seeds 7300001–08, never on the benchmark's stacks): tracking a mask from a seed slice runs on through
neighbouring objects above and below it in a crowded stack, and misses every object that does not cross a
seed slice. Segmenting each slice finds each object where it is; linking needs only that an object overlaps
itself on the next slice. On the tuning stacks 3D F1@0.5 rose from 0.38 (tracking from ¼, ½, ¾) to 0.62, for
about the same time (each slice encoded once either way). ``link_iou`` 0.3–0.5 and ``min_slices`` 2–3 all gave
0.60–0.63; the defaults sit in the middle.

What it cannot do: an object missed on one slice is cut in two there (linking across a gap lowered F1 on
the tuning stacks), and an object that is one slice thick is dropped (``min_slices``; set it to 1 for stacks
with very few slices).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..core.progress import Progress
from ..inference.embedding_cache import EmbeddingCache
from ..inference import VolumePredictor
from ..models.ruac_model import RUACModel
from ..uq import DEFAULT_METHOD, one_pass_method
from .image import EverythingRun
from .result import EverythingResult, ObjectRow, row_for
from .review import CHECKS
from .settings import EverythingSettings


def overlap_ious(previous: np.ndarray, current: np.ndarray) -> tuple[list[int], list[int], np.ndarray]:
    """(previous ids, current ids, IoU matrix [current × previous]) of two label images' objects."""
    prev_ids = [int(i) for i in np.unique(previous) if i]
    cur_ids = [int(i) for i in np.unique(current) if i]
    matrix = np.zeros((len(cur_ids), len(prev_ids)))
    if not prev_ids or not cur_ids:
        return prev_ids, cur_ids, matrix
    both = (previous > 0) & (current > 0)
    pairs, counts = np.unique(np.stack([current[both], previous[both]]), axis=1, return_counts=True)
    cur_area = {i: int(n) for i, n in zip(*np.unique(current[current > 0], return_counts=True))}
    prev_area = {i: int(n) for i, n in zip(*np.unique(previous[previous > 0], return_counts=True))}
    row = {i: k for k, i in enumerate(cur_ids)}
    col = {i: k for k, i in enumerate(prev_ids)}
    for (c, p), n in zip(pairs.T, counts):
        matrix[row[int(c)], col[int(p)]] = n / (cur_area[c] + prev_area[p] - n)
    return prev_ids, cur_ids, matrix


class SliceLinker:
    """Links per-slice labels into 3D objects one slice at a time (z = 0, 1, …), so a run can say how many
    objects it has found so far and a cancelled run still links the slices it finished.

    An object on slice z joins the object it overlaps most on slice z − 1 (one-to-one, Hungarian on IoU)
    when their IoU is ≥ ``min_iou``; otherwise it starts a new object.
    """

    def __init__(self, shape: tuple[int, int, int], min_iou: float = 0.4) -> None:
        self.linked = np.zeros(shape, np.int32)
        self.members: dict[int, list[tuple[int, int]]] = {}  # 3D id → [(z, per-slice id), …]
        self.min_iou = min_iou
        self.slices = 0

    def add(self, labels: np.ndarray) -> None:
        z = self.slices
        previous = self.linked[z - 1] if z else np.zeros(labels.shape, np.int32)
        prev_ids, cur_ids, matrix = overlap_ious(previous, labels)
        joined = {}
        if matrix.size:
            rows, cols = linear_sum_assignment(-matrix)
            joined = {cur_ids[r]: prev_ids[c] for r, c in zip(rows, cols) if matrix[r, c] >= self.min_iou}
        lookup = np.zeros(int(labels.max(initial=0)) + 1, np.int32)  # per-slice id → 3D id, written in one pass
        for sid in cur_ids:
            oid = joined.get(sid)
            if oid is None:
                oid = len(self.members) + 1
                self.members[oid] = []
            self.members[oid].append((z, sid))
            lookup[sid] = oid
        self.linked[z] = lookup[labels]
        self.slices += 1

    def count(self, min_slices: int = 1) -> int:
        return sum(len(m) >= min_slices for m in self.members.values())

    def finish(self, min_slices: int = 2) -> tuple[np.ndarray, dict]:
        """The 3D labels (ids 1..N in order of first appearance) without the objects on fewer than
        ``min_slices`` slices (at most the volume's depth), and ``members``: 3D id → [(z, per-slice id), …]."""
        least = min(min_slices, self.linked.shape[0])
        keep = [oid for oid, m in self.members.items() if len(m) >= least]
        remap = np.zeros(len(self.members) + 1, np.int32)
        remap[keep] = np.arange(1, len(keep) + 1)
        return remap[self.linked], {int(remap[oid]): self.members[oid] for oid in keep}


def link_slices(slices: np.ndarray, min_iou: float = 0.4, min_slices: int = 2) -> tuple[np.ndarray, dict]:
    """Link per-slice labels (Z, Y, X; each slice's ids its own) into 3D objects (``SliceLinker``)."""
    linker = SliceLinker(slices.shape, min_iou)
    for labels in slices:
        linker.add(labels)
    return linker.finish(min_slices)


class SliceStackRun:
    """All objects of a volume (Z, Y, X) or (Z, Y, X, C), each slice segmented in 2D and the objects linked
    through z. Iterate for progress (stop to cancel); ``result()`` links the slices finished so far."""

    def __init__(
        self,
        model: RUACModel,
        volume: np.ndarray,
        method: str = DEFAULT_METHOD,
        settings: EverythingSettings | dict | None = None,
        intensity=None,
        cache: EmbeddingCache | None = None,
        **options,
    ) -> None:
        self.method = one_pass_method(method, "segment-everything").name
        self.settings = EverythingSettings.parse(settings)
        self.cache = cache if cache is not None else EmbeddingCache()
        checker = VolumePredictor(model, method=self.method, intensity=intensity, cache=self.cache)
        self.volume = checker._check_volume(volume)
        self.value_range = checker.intensity.value_range(self.volume)
        self.model, self.options, self.intensity = model, options, intensity
        self.rows: list[list[ObjectRow]] = []  # each finished slice's 2D rows, in z order (its labels: the linker's)
        self.uncertainty = np.zeros(self.shape, np.float32)
        self.decoded = self.candidates = 0
        self.linker = SliceLinker(self.shape, self.settings.link_iou)
        self.complete = False

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.volume.shape[:3])

    def __iter__(self) -> Iterator[Progress]:
        depth = self.shape[0]
        for z in range(len(self.rows), depth):
            run = EverythingRun(self.model, self.volume[z], method=self.method, settings=self.settings,
                                intensity=self.intensity, cache=self.cache, value_range=self.value_range, **self.options)
            so_far = self.linker.count(min(self.settings.min_slices, depth))
            for event in run:
                # counted in slices, so a progress bar moves steadily; the stage says where inside the slice it is
                yield Progress(f"slice {z + 1}/{depth}: {event.stage}", z, depth, objects=so_far)
            found = run.result()
            self.uncertainty[z] = found.uncertainty
            self.decoded += found.decoded
            self.candidates += found.candidates
            self.linker.add(found.labels)
            self.rows.append(found.objects)
            yield Progress("slices", z + 1, depth, objects=self.linker.count(min(self.settings.min_slices, depth)))
        self.complete = True

    def result(self) -> EverythingResult:
        # a cancelled run may be iterated again to go on: its result gets a copy the run will not write into
        uncertainty = self.uncertainty if self.complete else self.uncertainty.copy()
        s = self.settings
        labels, members = self.linker.finish(s.min_slices)
        rows = [self._row(oid, labels, uncertainty, members[oid]) for oid in sorted(members)]
        return EverythingResult(labels=labels, uncertainty=uncertainty, objects=rows, complete=self.complete,
                                method=self.method, settings=s.as_dict(),
                                decoded=self.decoded, candidates=self.candidates)

    def _row(self, oid: int, labels: np.ndarray, uncertainty: np.ndarray, parts: list[tuple[int, int]]) -> ObjectRow:
        """One 3D object's row: scored on its mask in the volume; the 2D rows' predicted IoU, stability and review
        checks averaged over its slices, weighted by area; ``seed_slice``: the slice where it is largest."""
        slice_rows = [(z, self.rows[z][sid - 1]) for z, sid in parts]
        weights = np.array([r.area for _, r in slice_rows], float)

        def mean(name: str) -> float:
            values = np.array([getattr(r, name) for _, r in slice_rows], float)
            ok = np.isfinite(values)
            return float(np.average(values[ok], weights=weights[ok])) if ok.any() else float("nan")

        zs = [z for z, _ in parts]
        margin = self.settings.margin
        z0, z1 = min(zs), max(zs) + 1
        ys = [r.bbox[0] for _, r in slice_rows] + [r.bbox[2] for _, r in slice_rows]
        xs = [r.bbox[1] for _, r in slice_rows] + [r.bbox[3] for _, r in slice_rows]
        y0, x0 = max(0, min(ys) - margin), max(0, min(xs) - margin)
        y1, x1 = min(labels.shape[1], max(ys) + margin), min(labels.shape[2], max(xs) + margin)
        crop = (slice(z0, z1), slice(y0, y1), slice(x0, x1))
        largest = slice_rows[int(np.argmax(weights))][0]
        return row_for(oid, labels[crop] == oid, uncertainty[crop], (z0, y0, x0),
                       predicted_iou=mean("predicted_iou"), stability=mean("stability"), seed_slice=largest,
                       **{name: mean(name) for name in CHECKS})
