"""Where training images come from: one class per on-disk layout, each yielding (image, objects).

Every source lists its items at construction (cheap: slice sources read the label volumes
once to find slices with foreground) and loads one item on demand in a loader worker.
``group`` names the file/volume/video an item comes from, so a train/val split never puts
slices of one volume on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_ruac.core.intensity import ct_range

from .intensity import to_unit, value_range
from .objects import extract_objects
from .readers import IMAGE_SUFFIXES, NIFTI_SUFFIXES, DataError, list_files, paired_files, read_array, read_volume


@dataclass
class RawSample:
    """One training image in [0, 1] (H×W×3 float32) and its object masks (K×H×W bool)."""

    image: np.ndarray
    objects: np.ndarray
    name: str


def checked_unit(image: np.ndarray, low_high: tuple[float, float], name: str) -> np.ndarray:
    """``to_unit`` after checking that ``image`` is one finite 2D image (H×W or H×W×C)."""
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] > 4):
        raise DataError(f"{name} has shape {image.shape}; a 2D image must be H×W or H×W×C (C ≤ 4). "
                        "For z-stacks use a 'tiff_stack' or 'nifti' dataset entry.")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise DataError(f"{name} contains NaN or infinite values; replace them (np.nan_to_num) before training.")
    return to_unit(image, low_high)


class Source:
    """Base class: ``len``, ``name(i)``, ``group(i)`` and ``load(i)``."""

    def __init__(self, min_area: int = 0) -> None:
        self.min_area = int(min_area)
        self.items: list = []

    def __len__(self) -> int:
        return len(self.items)

    def name(self, index: int) -> str:
        raise NotImplementedError

    def group(self, index: int) -> str:
        return self.name(index)

    def load(self, index: int) -> RawSample:
        raise NotImplementedError


class FolderSource(Source):
    """2D images in ``root/images`` and masks with the same stems in ``root/masks``."""

    def __init__(self, root, images="images", masks="masks", mask_mode="auto", intensity="auto", min_area=0):
        super().__init__(min_area)
        self.root, self.mask_mode, self.intensity = Path(root), mask_mode, intensity
        self.items = paired_files(self.root, images, masks, IMAGE_SUFFIXES)

    def name(self, index: int) -> str:
        return self.items[index][0]

    def load(self, index: int) -> RawSample:
        stem, image_path, mask_path = self.items[index]
        image, mask = read_array(image_path), read_array(mask_path)
        if image.ndim == 3 and image.shape[0] < 5 and image.shape[-1] > 4:
            image = np.moveaxis(image, 0, -1)  # channel-first TIFF
        unit = checked_unit(image, value_range(image, self.intensity), str(image_path))
        if image.shape[:2] != mask.shape[:2]:
            raise DataError(f"{image_path.name} is {image.shape[:2]} but its mask {mask_path.name} is {mask.shape[:2]}.")
        return RawSample(unit, extract_objects(mask, self.mask_mode, self.min_area), stem)


class _SliceSource(Source):
    """Volumes sliced along ``axis``; only slices whose labels have foreground are items."""

    def __init__(self, pairs, axis: int, mask_mode: str, min_area: int, cache=None) -> None:
        super().__init__(min_area)
        self.axis, self.mask_mode, self.cache = axis, mask_mode, cache
        self.pairs = pairs
        self._ranges: dict[str, tuple[float, float]] = {}
        for volume_index, (stem, _, label_path) in enumerate(pairs):
            labels = read_volume(label_path, cache)
            if labels.ndim != 3:
                raise DataError(f"{label_path} has shape {labels.shape}; a label stack must be 3D (Z, Y, X).")
            other = tuple(a for a in range(3) if a != axis)
            areas = (labels != 0).sum(axis=other)
            self.items += [(volume_index, int(z)) for z in np.nonzero(areas > self.min_area)[0]]

    def name(self, index: int) -> str:
        volume_index, z = self.items[index]
        return f"{self.pairs[volume_index][0]}[{z}]"

    def group(self, index: int) -> str:
        return self.pairs[self.items[index][0]][0]

    def volume_range(self, image: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        raise NotImplementedError

    def load(self, index: int) -> RawSample:
        volume_index, z = self.items[index]
        stem, image_path, label_path = self.pairs[volume_index]
        image, labels = read_volume(image_path, self.cache), read_volume(label_path, self.cache)
        if image.shape[:3] != labels.shape:
            raise DataError(f"{image_path.name} has shape {image.shape} but its labels {labels.shape}.")
        key = str(image_path)
        if key not in self._ranges:
            self._ranges[key] = self.volume_range(image, labels)
        image_slice = np.asarray(np.take(image, z, axis=self.axis))
        label_slice = np.asarray(np.take(labels, z, axis=self.axis))
        unit = checked_unit(image_slice, self._ranges[key], f"{image_path}[{z}]")
        return RawSample(unit, extract_objects(label_slice, self.mask_mode, self.min_area), self.name(index))


class TiffStackSource(_SliceSource):
    """TIFF stacks in ``root/images`` and label stacks with the same stems in ``root/masks``."""

    def __init__(self, root, images="images", masks="masks", axis=0, mask_mode="auto", intensity="percentile",
                 min_area=0, cache=None):
        self.intensity = intensity
        pairs = paired_files(Path(root), images, masks, (".tif", ".tiff"))
        super().__init__(pairs, int(axis), mask_mode, min_area, cache)

    def volume_range(self, image, labels):
        return value_range(image, self.intensity)


class NiftiSource(_SliceSource):
    """CT/MR volumes in ``root/images`` and label volumes in ``root/labels``, sliced axially."""

    def __init__(self, root, images="images", labels="labels", window=None, percentiles=(0.05, 99.95),
                 mask_mode="labels", min_area=0, cache=None):
        self.window = None if window is None else (float(window[0]), float(window[1]))
        self.percentiles = (float(percentiles[0]), float(percentiles[1]))
        pairs = paired_files(Path(root), images, labels, NIFTI_SUFFIXES)
        super().__init__(pairs, 0, mask_mode, min_area, cache)

    def volume_range(self, image, labels):
        return ct_range(image, labels != 0, self.percentiles, self.window)


class MoseSource(Source):
    """MOSE/DAVIS-style videos: ``JPEGImages/<video>/*.jpg`` and palette PNGs in ``Annotations/<video>/``;
    the first annotated frame of each video is one item (RUAC trains on MOSE first frames)."""

    def __init__(self, root, images="JPEGImages", annotations="Annotations", ignore_index=255, min_area=0):
        super().__init__(min_area)
        root = Path(root)
        self.ignore_index = int(ignore_index)
        if not (root / images).is_dir() or not (root / annotations).is_dir():
            raise DataError(f"{root} must contain {images}/<video>/ frames and {annotations}/<video>/ palette PNGs.")
        for video in sorted(p for p in (root / annotations).iterdir() if p.is_dir()):
            masks = list_files(video, (".png",))
            frames = list_files(root / images / video.name, (".jpg", ".jpeg", ".png")) if (root / images / video.name).is_dir() else {}
            first = next((stem for stem in sorted(masks) if stem in frames), None)
            if first is not None:
                self.items.append((video.name, frames[first], masks[first]))
        if not self.items:
            raise DataError(f"no video in {root / annotations} has an annotated frame with a matching image.")

    def name(self, index: int) -> str:
        return self.items[index][0]

    def load(self, index: int) -> RawSample:
        video, frame_path, mask_path = self.items[index]
        image, mask = read_array(frame_path), read_array(mask_path)
        if mask.ndim != 2:
            raise DataError(f"{mask_path} is not a palette (indexed) PNG; MOSE annotations store object ids per pixel.")
        mask = np.where(mask == self.ignore_index, 0, mask)
        objects = extract_objects(mask, "labels", self.min_area)
        return RawSample(checked_unit(image, (0.0, 255.0), str(frame_path)), objects, video)


class SyntheticSource(Source):
    """Procedural scenes from ``ruac_training.synthetic.SyntheticDataset`` (one item per scene)."""

    def __init__(self, n=100, seed=0, kinds=None, size=256, shifted=False, intensity="auto", min_area=0, **options):
        super().__init__(min_area)
        try:
            from ..synthetic import SyntheticDataset
        except ImportError as exc:
            raise DataError(f"dataset type 'synthetic' needs ruac_training.synthetic.SyntheticDataset: {exc}") from exc
        kwargs = dict(n=int(n), seed=int(seed), size=size, shifted=bool(shifted), **options)
        if kinds is not None:
            kwargs["kinds"] = kinds
        self.dataset = SyntheticDataset(**kwargs)
        self.seed, self.intensity = int(seed), intensity
        self.items = list(range(len(self.dataset)))

    def name(self, index: int) -> str:
        return f"synthetic-{self.seed}-{index}"

    def load(self, index: int) -> RawSample:
        scene = self.dataset[index]
        image = np.asarray(scene.image)
        unit = checked_unit(image, value_range(image, self.intensity), self.name(index))
        objects = extract_objects(np.asarray(scene.labels), "labels", self.min_area)
        return RawSample(unit, objects, self.name(index))


SOURCE_TYPES = {
    "folder": FolderSource,
    "tiff_stack": TiffStackSource,
    "nifti": NiftiSource,
    "mose": MoseSource,
    "synthetic": SyntheticSource,
}


def build_source(entry: dict, min_area: int) -> Source:
    """A source from one ``data.train``/``data.val`` entry of the config (``type`` + its options)."""
    entry = dict(entry)
    kind = entry.pop("type", None)
    if kind not in SOURCE_TYPES:
        raise DataError(f"dataset entry {entry} needs 'type' set to one of {sorted(SOURCE_TYPES)}, got {kind!r}.")
    entry.setdefault("min_area", min_area)
    try:
        return SOURCE_TYPES[kind](**entry)
    except TypeError as exc:
        raise DataError(f"dataset entry of type {kind!r}: {exc}") from exc
