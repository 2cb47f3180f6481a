"""napari writers: a Labels layer (masks) or an Image layer (uncertainty) to NIfTI or TIFF.

The geometry comes from the layer metadata: the ``ImageData`` the reader stored (NIfTI header
and affine, TIFF spacing and unit) — the segment widget copies it onto every result layer —
else the layer's ``scale`` as spacing.
"""

from __future__ import annotations

import numpy as np

from ..io import write_image


def _write(path: str, data, meta: dict, kind: str) -> list[str]:
    metadata = meta.get("metadata") or {}
    like = metadata.get("image_data")
    array = np.asarray(data)
    if like is not None and tuple(like.spatial_shape) == array.shape[: like.ndim_spatial]:
        written = write_image(path, array, like=like, kind=kind)
    else:
        scale = meta.get("scale")
        spacing = None if scale is None else tuple(float(s) for s in scale)[-min(array.ndim, 3) :]
        written = write_image(path, array, spacing=spacing, kind=kind, unit=metadata.get("unit"))
    return [str(written)]


def write_labels(path: str, data, meta: dict) -> list[str]:
    """Write a Labels layer (integer ids) with its source image's geometry."""
    return _write(path, data, meta, "labels")


def write_image_layer(path: str, data, meta: dict) -> list[str]:
    """Write an Image layer, e.g. an uncertainty map, as float32 with its source image's geometry."""
    kind = "image" if meta.get("rgb") else "float"
    return _write(path, data, meta, kind)
