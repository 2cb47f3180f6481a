"""An annotation (label ids, a binary/semantic mask, or colour codes) → a (K, H, W) stack of object
masks, by the one splitting rule of :mod:`napari_ruac.core.objects` (the evaluation uses it too,
so training and the study see the same objects)."""

from __future__ import annotations

import numpy as np

from napari_ruac.core.objects import MODES, object_masks

from .readers import DataError


def extract_objects(mask: np.ndarray, mode: str = "auto", min_area: int = 0) -> np.ndarray:
    """Object masks (K, H, W) bool from one 2D annotation (``mode``: one of ``core.objects.MODES``)."""
    if mode not in MODES:
        raise DataError(f"mask_mode must be one of {MODES}, got {mode!r}.")
    mask = np.asarray(mask)
    if mode in ("auto", "labels") and mask.dtype.kind == "f" and not np.all(np.equal(np.mod(mask, 1), 0)):
        raise DataError("a label image must hold integer ids; this one has fractional values.")
    try:
        masks = object_masks(mask, int(min_area), mode)
    except ValueError as error:
        raise DataError(f"{error}.") from error
    if not masks:
        return np.zeros((0, *mask.shape[:2]), dtype=bool)
    return np.stack(masks).astype(bool)
