"""Datasets and DataLoaders from the config: sources, a deterministic train/val split, and a
sampler that shards across ranks and can start mid-epoch (exact resume)."""

from __future__ import annotations

import math
import signal

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from .dataset import ObjectDataset
from .readers import DataError
from .sources import Source, build_source


class ResumableSampler(Sampler[int]):
    """Indices of one epoch for one rank: a permutation seeded by (seed, epoch), padded to a
    multiple of the world size, every ``world``-th index from ``rank``; ``start`` skips the
    indices already consumed before a resume."""

    def __init__(self, size: int, rank: int = 0, world: int = 1, seed: int = 0, shuffle: bool = True) -> None:
        if size == 0:
            raise DataError("the dataset is empty: no image has an object larger than data.min_area.")
        self.size, self.rank, self.world, self.seed, self.shuffle = size, rank, world, seed, shuffle
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = int(epoch), int(start)

    def epoch_indices(self) -> list[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        total = math.ceil(self.size / self.world) * self.world
        order += order[: total - len(order)]
        return order[self.rank :: self.world]

    def __iter__(self):
        return iter(self.epoch_indices()[self.start :])

    def __len__(self) -> int:
        return math.ceil(self.size / self.world) - self.start


def _ignore_interrupts(worker_id: int) -> None:
    """Workers leave Ctrl-C to the main process, which finishes its step and saves a checkpoint."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _sources(entries, min_area: int) -> list[Source]:
    if isinstance(entries, dict):
        entries = [entries]
    return [build_source(entry, min_area) for entry in entries or []]


def split_items(sources: list[Source], val_fraction: float, seed: int) -> tuple[list, list]:
    """(train, val) lists of (source, item), split by group (file/volume/video) with a seeded
    permutation of the sorted group names: the same data gives the same split on every run."""
    groups: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for s, source in enumerate(sources):
        for i in range(len(source)):
            groups.setdefault((s, source.group(i)), []).append((s, i))
    keys = sorted(groups)
    order = np.random.default_rng(seed).permutation(len(keys))
    n_val = int(round(val_fraction * len(keys))) if val_fraction > 0 else 0
    if val_fraction > 0 and len(keys) > 1:
        n_val = min(max(n_val, 1), len(keys) - 1)
    val_keys = {keys[i] for i in order[:n_val]}
    train = [item for key in keys if key not in val_keys for item in groups[key]]
    val = [item for key in keys if key in val_keys for item in groups[key]]
    return train, val


def build_datasets(data_cfg: dict, image_size: int, seed: int) -> tuple[ObjectDataset, ObjectDataset | None]:
    """The train and (optional) validation datasets of ``data`` config section."""
    min_area = int(data_cfg.get("min_area", 0))
    train_sources = _sources(data_cfg.get("train"), min_area)
    if not train_sources:
        raise DataError("data.train lists no dataset: add at least one entry (see training/README.md).")
    val_sources = _sources(data_cfg.get("val"), min_area)
    common = dict(image_size=image_size, max_objects=data_cfg["max_objects"], seed=seed)
    flips = data_cfg.get("flip", {})
    augment = dict(flip_horizontal=flips.get("horizontal", 0.5), flip_vertical=flips.get("vertical", 0.0))
    if val_sources:
        train_items = [(s, i) for s, src in enumerate(train_sources) for i in range(len(src))]
        val_items = [(s, i) for s, src in enumerate(val_sources) for i in range(len(src))]
        val = ObjectDataset(val_sources, val_items, augment=False, **common)
    else:
        train_items, val_items = split_items(train_sources, float(data_cfg.get("val_fraction", 0.0)), int(data_cfg.get("split_seed", 0)))
        val = ObjectDataset(train_sources, val_items, augment=False, **common) if val_items else None
    train = ObjectDataset(train_sources, train_items, augment=True, **common, **augment)
    return train, val


def build_loader(
    dataset: ObjectDataset,
    batch_size: int,
    num_workers: int,
    pin_memory: bool,
    rank: int,
    world: int,
    seed: int,
    train: bool,
) -> tuple[DataLoader, ResumableSampler]:
    """A DataLoader over ``dataset`` with a ResumableSampler (train: shuffled, full batches only)."""
    # a dataset whose consecutive items share work (ClipDataset: one rendered volume) keeps its order
    sampler = ResumableSampler(len(dataset), rank, world, seed, shuffle=train and getattr(dataset, "shuffle", True))
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        drop_last=train,
        persistent_workers=False,  # the dataset's epoch travels to the workers with each new iterator
        worker_init_fn=_ignore_interrupts if num_workers > 0 else None,
    )
    return loader, sampler
