"""Clips of generated z-stacks for ``train.mode: memory``: T consecutive slices (every ``stride``-th,
up or down the stack) in which up to ``max_objects`` objects are present on the first slice. The
first slice is the prompted one; the trainer tracks the others through SAM2's memory path.

A data entry ``{type: synthetic_volumes, n: 4000, seed: 50000, kinds: {nuclei: 1, ct: 1},
clips_per_volume: 4, shape: [24, 128, 128]}`` yields ``n`` clips; consecutive clips share one
rendered volume (the sampler keeps their order: the volumes themselves are drawn at random).
Everything an item holds is a function of (seed, epoch, index), so a resumed run sees the same clips.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from napari_ruac.core.intensity import Intensity, to_unit_rgb
from napari_ruac.models.preprocess import to_model_input

from .readers import DataError

CLIP_TYPE = "synthetic_volumes"
CT_WINDOW = (-160.0, 240.0)  # soft tissue (what the demo and bench_tracking use)


class ClipDataset(Dataset):
    """Training (or validation) clips; ``set_epoch`` draws new volumes for a new epoch (train only)."""

    shuffle = False  # consecutive items share a volume; the volumes are random already

    def __init__(self, entries: list[dict], image_size: int, frames: int, max_objects: int, min_area: int,
                 max_stride: int, seed: int, augment: bool) -> None:
        if frames < 2:
            raise DataError(f"memory.frames must be ≥ 2 (one prompted slice and at least one tracked), got {frames}.")
        self.parts = []
        for entry in entries:
            entry = dict(entry)
            kind = entry.pop("type", None)
            if kind != CLIP_TYPE:
                raise DataError(f"train.mode memory reads data entries of type {CLIP_TYPE!r} (generated z-stacks), got {kind!r}.")
            kinds = entry.pop("kinds", {"nuclei": 1.0, "ct": 1.0})
            part = dict(n=int(entry.pop("n", 1000)), seed=int(entry.pop("seed", 0)), kinds=dict(kinds),
                        per_volume=max(1, int(entry.pop("clips_per_volume", 4))), shape=entry.pop("shape", None))
            if entry:
                raise DataError(f"unknown keys {sorted(entry)} in a {CLIP_TYPE} entry; use n, seed, kinds, clips_per_volume, shape.")
            self.parts.append(part)
        self.image_size, self.frames, self.max_objects = int(image_size), int(frames), int(max_objects)
        self.min_area, self.max_stride, self.seed, self.augment = int(min_area), max(1, int(max_stride)), int(seed), augment
        self.epoch = 0
        self._cached: tuple | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch) if self.augment else 0

    def __len__(self) -> int:
        return sum(p["n"] for p in self.parts)

    def _locate(self, index: int) -> tuple[dict, int]:
        for part in self.parts:
            if index < part["n"]:
                return part, index
            index -= part["n"]
        raise IndexError(index)

    def _volume(self, part: dict, volume_index: int):
        from ..synthetic.volumes import generate_volume

        key = (part["seed"], self.epoch, volume_index)
        if self._cached is None or self._cached[0] != key:
            rng = np.random.default_rng(np.random.SeedSequence([part["seed"], self.epoch, volume_index, 11]))
            names = sorted(part["kinds"])
            weights = np.array([float(part["kinds"][k]) for k in names])
            kind = names[int(rng.choice(len(names), p=weights / weights.sum()))]
            volume_seed = int(rng.integers(0, 2**31 - 1))
            scene = generate_volume(kind, volume_seed, shape=part["shape"])
            self._cached = (key, scene)
        return self._cached[1]

    def __getitem__(self, index: int) -> dict:
        part, local = self._locate(int(index))
        scene = self._volume(part, local // part["per_volume"])
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, part["seed"], self.epoch, local, 13]))
        image, labels = scene.image, scene.labels
        if self.augment:  # one flip/transpose for the whole stack
            if rng.random() < 0.5:
                image, labels = image[:, :, ::-1], labels[:, :, ::-1]
            if rng.random() < 0.5:
                image, labels = image[:, ::-1], labels[:, ::-1]
            if rng.random() < 0.5:
                image, labels = image.transpose(0, 2, 1), labels.transpose(0, 2, 1)
        slices, ids = self._pick(labels, rng)
        if scene.kind == "ct" and (not self.augment or rng.random() < 0.7):
            value_range = CT_WINDOW
        else:  # what VolumePredictor does without an intensity setting
            value_range = Intensity.parse(None).value_range(image)
        size = self.image_size
        frames = torch.cat([to_model_input(to_unit_rgb(np.ascontiguousarray(image[z])[..., None], value_range), size)
                            for z in slices])
        masks = torch.zeros(self.max_objects, self.frames, size, size, dtype=torch.uint8)
        present = torch.zeros(self.max_objects, self.frames, dtype=torch.bool)
        valid = torch.zeros(self.max_objects, dtype=torch.bool)
        clip = torch.from_numpy(np.ascontiguousarray(labels[slices]).astype(np.int64))
        for row, object_id in enumerate(ids):
            full = (clip == object_id).float()[:, None]
            masks[row] = (F.interpolate(full, size=(size, size), mode="nearest")[:, 0] > 0).to(torch.uint8)
            present[row] = (full.flatten(1).sum(1) > 0) & (masks[row].flatten(1).sum(1) > 0)
            valid[row] = True
        return {"image": frames, "masks": masks, "present": present, "valid": valid}

    def _pick(self, labels: np.ndarray, rng: np.random.Generator) -> tuple[list[int], list[int]]:
        """(slices in tracking order, object ids present on the first slice); the first id is large there."""
        depth = labels.shape[0]
        areas = {int(i): (labels == i).sum(axis=(1, 2)) for i in np.unique(labels) if i}
        order = list(areas)
        rng.shuffle(order)
        for object_id in order:
            area = areas[object_id]
            candidates = np.nonzero(area >= max(self.min_area, 0.3 * area.max()))[0]
            if not len(candidates):
                continue
            z0 = int(rng.choice(candidates))
            stride = int(rng.integers(1, self.max_stride + 1))
            while stride > 1 and (self.frames - 1) * stride >= depth:
                stride -= 1
            directions = [d for d in (1, -1) if 0 <= z0 + d * (self.frames - 1) * stride < depth]
            if not directions:
                continue
            # mostly (3 in 4) towards the side where the object goes on longer: clips need tracked slices
            # that hold it; the other side teaches it to vanish
            reach = {d: int((area[[z0 + d * stride * k for k in range(self.frames)]] > 0).sum()) for d in directions}
            d = max(directions, key=lambda k: reach[k])
            if len(directions) == 2 and rng.random() < 0.25:
                d = -d
            slices = [z0 + d * stride * k for k in range(self.frames)]
            others = [i for i in order if i != object_id and areas[i][z0] >= self.min_area]
            return slices, [object_id, *others[: self.max_objects - 1]]
        raise DataError(f"a generated volume holds no object of ≥ {self.min_area} pixels on a slice with "
                        f"{self.frames} slices after it; lower data.min_area or memory.frames.")


def build_clip_datasets(data_cfg: dict, image_size: int, seed: int, memory: dict) -> tuple[ClipDataset, ClipDataset | None]:
    """The train and (optional) validation clip datasets of train.mode memory."""
    entries = data_cfg.get("train") or []
    entries = [entries] if isinstance(entries, dict) else entries
    if not entries:
        raise DataError(f"data.train lists no dataset: add a {{type: {CLIP_TYPE}, n: ..., seed: ...}} entry.")
    common = dict(image_size=image_size, frames=int(memory["frames"]), max_objects=int(data_cfg["max_objects"]),
                  min_area=int(data_cfg.get("min_area", 0)), max_stride=int(memory["max_stride"]), seed=seed)
    train = ClipDataset(entries, augment=True, **common)
    val_entries = data_cfg.get("val") or []
    val_entries = [val_entries] if isinstance(val_entries, dict) else val_entries
    val = ClipDataset(val_entries, augment=False, **dict(common, max_stride=1)) if val_entries else None
    return train, val
