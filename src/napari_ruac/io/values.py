"""Choosing the stored data type for what is written: labels, images or float maps.

Labels get the smallest integer type that holds them (uint8, uint16, int32) so files stay small
and no tool rescales them; float maps (uncertainty, probability) become float32.
"""

from __future__ import annotations

import numpy as np

from .image_data import ImageWriteError

KINDS = ("labels", "image", "float")


def check_kind(kind: str) -> str:
    """Validate a ``kind`` argument."""
    if kind not in KINDS:
        raise ImageWriteError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind


def label_values(array: np.ndarray) -> np.ndarray:
    """Labels as uint8, uint16 or int32 (the smallest that holds every value exactly)."""
    array = np.asarray(array)
    if array.dtype == bool:
        return array.astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array).all()
        if not finite or not np.array_equal(array, np.round(array)):
            raise ImageWriteError(
                f"labels must be whole numbers, but the {array.dtype} array has fractional or non-finite "
                "values; threshold first (e.g. mask = probability > 0.5) or write with kind='float'."
            )
    elif not np.issubdtype(array.dtype, np.integer):
        raise ImageWriteError(f"labels must be integers or booleans, got dtype {array.dtype}.")
    if array.size == 0:
        return array.astype(np.uint8)
    low, high = array.min(), array.max()
    for dtype in (np.uint8, np.uint16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return array.astype(dtype, copy=False)
    raise ImageWriteError(
        f"label values span [{low}, {high}], beyond int32; relabel them consecutively first "
        "(skimage.segmentation.relabel_sequential)."
    )


def as_kind(array: np.ndarray, kind: str) -> np.ndarray:
    """Convert ``array`` for writing as ``kind``: labels → small integers, float → float32."""
    check_kind(kind)
    array = np.asarray(array)
    if kind == "labels":
        return label_values(array)
    if kind == "float":
        return array.astype(np.float32, copy=False)
    if array.dtype == bool:
        return array.astype(np.uint8)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ImageWriteError(f"cannot write an image of dtype {array.dtype}; pass integer or float values.")
    if array.dtype.kind in "iu" and array.dtype.itemsize == 8 and array.size:
        # 64-bit integers (numpy's default) are unreadable in Fiji and many NIfTI tools: use int32 when exact
        info = np.iinfo(np.int32)
        if info.min <= array.min() and array.max() <= info.max:
            return array.astype(np.int32)
    return array
