"""Turning an annotation (label ids, a binary/semantic mask, or colour codes) into object masks.

Rules of METHOD.md §3: a binary or semantic mask is split into connected components after
closing it twice with a 3×3 structuring element; each component is ANDed with the original
mask and kept when larger than ``min_area`` pixels. Colour-coded RGB masks are split by colour.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .readers import DataError

MODES = ("auto", "labels", "components", "colors")
_CROSS = np.ones((3, 3), dtype=bool)


def components(mask: np.ndarray, min_area: int) -> list[np.ndarray]:
    """Connected components of a binary mask (close twice 3×3, label, AND with the original)."""
    mask = mask.astype(bool)
    closed = ndimage.binary_closing(mask, structure=_CROSS, iterations=2, border_value=0)
    labels, count = ndimage.label(closed)
    if count == 0:
        return []
    kept = []
    areas = np.bincount((labels * mask).ravel(), minlength=count + 1)
    for index in range(1, count + 1):
        if areas[index] > min_area:
            kept.append((labels == index) & mask)
    return kept


def from_labels(labels: np.ndarray, min_area: int, ignore: tuple[int, ...] = ()) -> list[np.ndarray]:
    """One mask per label id > 0 (ids in ``ignore`` skipped) with more than ``min_area`` pixels."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iub":
        if not np.all(np.equal(np.mod(labels, 1), 0)):
            raise DataError("a label image must hold integer ids; this one has fractional values.")
        labels = labels.astype(np.int64)
    ids, counts = np.unique(labels, return_counts=True)
    return [labels == i for i, c in zip(ids, counts) if i > 0 and i not in ignore and c > min_area]


def from_colors(rgb: np.ndarray, min_area: int) -> list[np.ndarray]:
    """One mask per distinct colour (black is background), as UncertSAM splits colour-coded masks."""
    rgb = np.asarray(rgb)[..., :3]
    packed = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2].astype(np.int64)
    return from_labels(packed, min_area)


def is_color_coded(mask: np.ndarray) -> bool:
    """An H×W×3(4) mask whose channels differ somewhere (a grey mask saved as RGB is not)."""
    if mask.ndim != 3 or mask.shape[-1] not in (3, 4):
        return False
    rgb = mask[..., :3]
    return bool(np.any(rgb[..., 0] != rgb[..., 1]) or np.any(rgb[..., 1] != rgb[..., 2]))


def extract_objects(mask: np.ndarray, mode: str = "auto", min_area: int = 0) -> np.ndarray:
    """Object masks (K, H, W) bool from one 2D annotation.

    ``auto``: colour codes if the RGB channels differ; connected components if the mask is
    binary (two values); label ids otherwise.
    """
    if mode not in MODES:
        raise DataError(f"mask_mode must be one of {MODES}, got {mode!r}.")
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] in (3, 4):
        if mode == "colors" or (mode == "auto" and is_color_coded(mask)):
            return _stack(from_colors(mask, min_area), mask.shape[:2])
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise DataError(f"a mask must be H×W (labels) or H×W×3 (colour codes), got shape {mask.shape}.")
    if mode == "colors":
        raise DataError("mask_mode 'colors' needs RGB masks (H×W×3); this mask has one channel.")
    if mode == "components" or (mode == "auto" and np.unique(mask).size <= 2):
        return _stack(components(mask > 0, min_area), mask.shape)
    return _stack(from_labels(mask, min_area), mask.shape)


def _stack(masks: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    if not masks:
        return np.zeros((0, *shape[:2]), dtype=bool)
    return np.stack(masks).astype(bool)
