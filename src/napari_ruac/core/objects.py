"""Splitting an annotation into the objects that get one prompt each: the one rule, used by the
evaluation study, the training data and the post-hoc fits (UncertSAM App. B, METHOD.md §3).

- **Label images**: one object per label id > 0.
- **Binary masks**: connected components — close twice with a 3×3 square (the image border
  never erodes, as OpenCV), label 8-connected components, AND each with the original mask.
- **Colour-coded RGB masks**: one binary mask per colour (black is background), then
  components within each colour.

Every mode keeps objects with *strictly more* than ``min_area`` pixels (as the paper);
components come largest first, label ids in increasing order.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

MODES = ("auto", "labels", "components", "colour")
PAPER_MIN_AREA = 1000
_SQUARE = np.ones((3, 3), dtype=bool)


def default_min_area(shape: tuple[int, ...]) -> int:
    """The paper's 1000 px for ≥ 0.2 MP images; 0.5 % of the image (≥ 16 px) for smaller ones."""
    pixels = int(shape[0]) * int(shape[1])
    return int(min(PAPER_MIN_AREA, max(16, round(0.005 * pixels))))


def close_like_opencv(mask: np.ndarray) -> np.ndarray:
    """Morphological closing with a 3×3 square where the image border never erodes (as OpenCV)."""
    dilated = ndimage.binary_dilation(mask, _SQUARE, border_value=0)
    return ndimage.binary_erosion(dilated, _SQUARE, border_value=1)


def connected_objects(mask: np.ndarray, min_area: int = 0) -> list[np.ndarray]:
    """The component split of one binary mask (largest first; see the module docstring)."""
    mask = np.asarray(mask, dtype=bool)
    closed = close_like_opencv(close_like_opencv(mask))
    labels, count = ndimage.label(closed, structure=_SQUARE)
    objects = []
    for index in range(1, count + 1):
        component = (labels == index) & mask
        if int(component.sum()) > min_area:
            objects.append(component)
    return sorted(objects, key=lambda m: -int(m.sum()))


def is_colour_mask(mask: np.ndarray) -> bool:
    """An RGB(A) mask whose channels differ somewhere (a grey RGB mask is not colour-coded)."""
    if mask.ndim != 3 or mask.shape[-1] not in (3, 4):
        return False
    rgb = mask[..., :3]
    return bool((rgb != rgb[..., :1]).any())


def is_binary(mask: np.ndarray) -> bool:
    """A bool mask, or one whose values are a subset of {0, 1} or of {0, 255}."""
    if mask.dtype == bool:
        return True
    values = set(np.unique(mask).tolist())
    return values <= {0, 1} or values <= {0, 255}


def split_objects(mask: np.ndarray, min_area: int | None = None, mode: str = "auto") -> list[tuple[str, np.ndarray]]:
    """[(object id, bool mask)] for one 2D annotation.

    ``mode``: ``auto`` (colour if RGB with colours, components if binary, else label ids),
    ``labels``, ``components`` or ``colour``. ``min_area`` (default :func:`default_min_area`)
    drops objects with at most that many pixels.
    """
    if mode not in MODES:
        raise ValueError(f"unknown object mode {mode!r}; use {', '.join(MODES)}")
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] in (3, 4) and not is_colour_mask(mask):
        mask = mask[..., 0]
    if mask.ndim not in (2, 3):
        raise ValueError(f"an annotation mask must be (H, W) or (H, W, 3); got shape {mask.shape}")
    area = default_min_area(mask.shape) if min_area is None else int(min_area)
    if mode == "auto":
        mode = "colour" if mask.ndim == 3 else ("components" if is_binary(mask) else "labels")
    if mode == "colour":
        if mask.ndim != 3:
            raise ValueError("object mode 'colour' needs an RGB mask (H, W, 3); this mask has one channel")
        rgb = mask[..., :3]
        out = []
        for colour in np.unique(rgb.reshape(-1, 3), axis=0):
            if not colour.any():
                continue  # black is background
            name = "rgb" + "-".join(str(int(c)) for c in colour)
            parts = connected_objects((rgb == colour).all(-1), area)
            out += [(f"{name}_cc{i}", part) for i, part in enumerate(parts)]
        return out
    if mask.ndim != 2:
        raise ValueError(f"object mode {mode!r} needs a 2D mask, got shape {mask.shape}")
    if mode == "components":
        return [(f"cc{i}", part) for i, part in enumerate(connected_objects(mask != 0, area))]
    out = []
    for value in np.unique(mask):
        if value == 0:
            continue
        obj = mask == value
        if int(obj.sum()) > area:
            out.append((f"label{int(value)}", obj))
    return out


def object_masks(mask: np.ndarray, min_area: int | None = None, mode: str = "auto") -> list[np.ndarray]:
    """The bool masks of :func:`split_objects`, without their ids."""
    return [obj for _, obj in split_objects(mask, min_area, mode)]
