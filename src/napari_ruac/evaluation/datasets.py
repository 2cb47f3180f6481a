"""Evaluation datasets: a folder of images with matching ground-truth masks, 2D or volumes.

Layouts: ``images/`` + ``masks/`` (or ``labels/``), also MSD's ``imagesTr/`` + ``labelsTr/``;
files pair up by stem (a mask may add ``_mask``, ``_label(s)``, ``_seg`` or ``_gt``).
2D files give one item each; TIFF stacks and NIfTI volumes are sliced along z (axial for
NIfTI) and only slices with foreground are kept. NIfTI volumes are CT-normalised by default
(METHOD.md §3, SegVol's rule): the foreground voxels (above the volume mean) set the clip
range [0.05, 99.95] percentiles and the z-score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..core.intensity import Intensity, ct_normalise
from ..core.objects import split_objects
from ..io import read_image
from ..io.atomic import full_suffix
from ..io.images import format_of

IMAGE_FOLDERS = ("images", "imagesTr", "imagesTs", "image", "img", "imgs")
MASK_FOLDERS = ("masks", "labels", "labelsTr", "labelsTs", "mask", "gt", "ground_truth")
MASK_SUFFIXES = ("_mask", "_masks", "_label", "_labels", "_seg", "_gt")


class DatasetError(ValueError):
    """A dataset folder the runner cannot use; the message says what layout it expects."""


@dataclass(frozen=True)
class Pair:
    """One image file and its ground-truth file."""

    image: Path
    mask: Path
    stem: str


@dataclass
class Item:
    """One 2D evaluation image: pixels, ground truth, and the intensity range to use."""

    dataset: str
    image_id: str
    image: np.ndarray  # (H, W) or (H, W, C)
    mask: np.ndarray  # (H, W) labels/binary or (H, W, 3) colours
    value_range: tuple[float, float] | None = None  # None: the predictor's default per image


def _stem(path: Path) -> str:
    suffix = full_suffix(path)
    return path.name[: len(path.name) - len(suffix)] if suffix else path.name


def _mask_key(stem: str) -> str:
    lowered = stem.lower()
    for suffix in MASK_SUFFIXES:
        if lowered.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def _subfolder(root: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (root / name).is_dir():
            return root / name
    return None


def find_pairs(folder: str | Path) -> list[Pair]:
    """Image/mask pairs of a dataset folder, sorted by stem."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder; a dataset is a folder with images/ and masks/ inside.")
    images, masks = _subfolder(root, IMAGE_FOLDERS), _subfolder(root, MASK_FOLDERS)
    if images is None or masks is None:
        raise DatasetError(
            f"{root} needs an image folder ({', '.join(IMAGE_FOLDERS[:2])}) and a mask folder "
            f"({', '.join(MASK_FOLDERS[:3])}) with files of matching names."
        )
    readable = lambda d: {p for p in d.iterdir() if p.is_file() and not p.name.startswith(".") and format_of(p)}  # noqa: E731
    by_key = {_mask_key(_stem(p)): p for p in readable(masks)}
    pairs = [Pair(p, by_key[_stem(p)], _stem(p)) for p in readable(images) if _stem(p) in by_key]
    if not pairs:
        raise DatasetError(f"no image in {images} has a mask of the same name in {masks}.")
    return sorted(pairs, key=lambda pair: pair.stem)


def _check_shapes(pair: Pair, image: np.ndarray, mask: np.ndarray, spatial: int) -> None:
    if image.shape[:spatial] != mask.shape[:spatial]:
        raise DatasetError(
            f"{pair.image.name} is {image.shape[:spatial]} but its mask {pair.mask.name} is {mask.shape[:spatial]}; "
            "they must have the same size."
        )


def iter_items(pair: Pair, dataset: str, ct: str = "auto") -> Iterator[Item]:
    """The 2D items of one pair: the image itself, or each slice of a volume with foreground.

    ``ct``: ``auto`` (normalise NIfTI volumes), ``always`` or ``never``.
    """
    if ct not in ("auto", "always", "never"):
        raise ValueError(f"ct must be auto, always or never, got {ct!r}")
    image_data, mask_data = read_image(pair.image), read_image(pair.mask)
    image, mask = image_data.array, mask_data.array
    if not image_data.is_volume:
        _check_shapes(pair, image, mask, 2)
        value_range = None
        if ct == "always":
            image = ct_normalise(image)
            value_range = (float(image.min()), float(image.max()))
        yield Item(dataset, pair.stem, image, mask, value_range)
        return
    if mask.ndim == 2 and image.shape[0] == 1:
        mask = mask[None]
    _check_shapes(pair, image, mask, 3)
    normalise = ct == "always" or (ct == "auto" and image_data.format == "nifti")
    if normalise:
        image = ct_normalise(image)
        value_range = (float(image.min()), float(image.max()))
    else:  # one range for the whole stack, so slices are treated alike
        value_range = Intensity().value_range(image)
    foreground = mask.reshape(mask.shape[0], -1).any(axis=1)
    for z in np.flatnonzero(foreground):
        yield Item(dataset, f"{pair.stem}_z{int(z):04d}", image[z], mask[z], value_range)


def item_labels(item: Item, min_area: int | None = None, mode: str = "auto") -> np.ndarray:
    """The item's annotation as an instance label image (0 background, 1..N objects), whatever its
    form (labels, binary components, colours): what fitting a posterior or a head needs."""
    objects = split_objects(item.mask, min_area, mode)
    labels = np.zeros(item.mask.shape[:2], np.int32)
    for index, (_, mask) in enumerate(objects, start=1):
        labels[mask] = index
    return labels
