"""napari reader for NIfTI and (OME-)TIFF through ``napari_ruac.io.read_image``.

Voxel spacing becomes the layer ``scale``; the file's affine goes to ``metadata["affine"]``
and the whole ``ImageData`` (header included) to ``metadata["image_data"]``, so the writers
put masks and uncertainty maps back into the same space. Integer files whose name says
label/mask/seg open as Labels layers.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..io import ImageData, read_image
from .result_layers import KIND_KEY, UNCERTAINTY_KIND

EXTENSIONS = (".nii", ".nii.gz", ".tif", ".tiff", ".ome.tif", ".ome.tiff")
LABEL_NAME = re.compile(r"(label|mask|seg)", re.IGNORECASE)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(EXTENSIONS, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def get_reader(path):
    """The napari reader hook: our reader for our extensions, None otherwise."""
    paths = path if isinstance(path, (list, tuple)) else [path]
    if not paths or not all(str(p).lower().endswith(EXTENSIONS) for p in paths):
        return None
    return read_layers


def is_label_image(image: ImageData) -> bool:
    """Integer single-channel data whose file name mentions label, mask or seg."""
    return (
        image.path is not None
        and not image.has_channels
        and np.issubdtype(image.array.dtype, np.integer)
        and LABEL_NAME.search(_stem(image.path)) is not None
    )


def is_uncertainty_file(image: ImageData) -> bool:
    """A float map named ``*_uncertainty`` with values in [0, 1]: what napari-ruac writes."""
    if image.path is None or image.has_channels or not np.issubdtype(image.array.dtype, np.floating):
        return False
    if not _stem(image.path).lower().endswith("uncertainty"):
        return False
    values = image.array
    return bool(np.isfinite(values).all() and values.min() >= 0.0 and values.max() <= 1.0)


def layer_data(image: ImageData) -> tuple:
    """One napari LayerData tuple (data, kwargs, type) for an ``ImageData``."""
    name = _stem(image.path) if image.path is not None else "image"
    metadata = {
        "affine": image.affine,
        "image_data": image,
        "spacing": image.spacing,
        "unit": image.unit,
        "path": str(image.path) if image.path is not None else None,
    }
    axis_labels = ("z", "y", "x")[3 - image.ndim_spatial :]  # our order; napari would say -3, -2, -1
    kwargs = {"name": name, "scale": image.spacing, "metadata": metadata, "axis_labels": axis_labels}
    if is_uncertainty_file(image):
        metadata[KIND_KEY] = UNCERTAINTY_KIND
        kwargs.update(colormap="magma", contrast_limits=(0.0, 1.0))
    if is_label_image(image):
        return image.array, kwargs, "labels"
    if image.has_channels:
        if image.channels in (3, 4) and image.array.dtype == np.uint8:
            kwargs["rgb"] = True
        else:
            kwargs["channel_axis"] = image.array.ndim - 1
    return image.array, kwargs, "image"


def read_layers(path) -> list[tuple]:
    """Read one file or several into napari layers."""
    paths = path if isinstance(path, (list, tuple)) else [path]
    return [layer_data(read_image(p)) for p in paths]
