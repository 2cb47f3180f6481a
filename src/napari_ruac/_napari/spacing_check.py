"""A layer opened by another reader (napari's default for .tif / .nii) loses the file's voxel spacing:
masks and volumes would then be measured in pixels on a squashed grid. npe2 cannot make our reader
the default for these extensions, so the segment dock warns when it sees such a layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.images import file_spacing
from .reader import EXTENSIONS


def dropped_spacing_message(layer) -> str | None:
    """Why ``layer`` looks unscaled although its file has a spacing (None when all is well)."""
    metadata = getattr(layer, "metadata", None) or {}
    path = getattr(getattr(layer, "source", None), "path", None)
    if "spacing" in metadata or path is None or not str(path).lower().endswith(EXTENSIONS):
        return None
    if not np.allclose(np.asarray(layer.scale, dtype=float), 1.0):
        return None
    try:
        spacing = file_spacing(Path(path))
    except Exception:  # unreadable header: the reader that opened it will have said so
        return None
    if spacing is None or np.allclose(spacing, 1.0):
        return None
    shown = " × ".join(f"{s:g}" for s in spacing)
    return (
        f"'{layer.name}' was opened without its voxel spacing ({shown} in the file): results would be unscaled. "
        "Open it with File ▸ Open with Plugin ▸ napari-ruac (or set napari-ruac as the reader for this extension)."
    )
