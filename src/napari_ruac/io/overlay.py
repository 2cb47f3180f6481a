"""A PNG a person can look at: the image with the mask outlined, and the uncertainty beside it.

Drawn with matplotlib's Agg canvas directly (no pyplot, no GUI). For a volume the given slice (the
segmentation workflow passes the prompted one) or else the one with the largest mask area is shown,
and the title says which and why.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from skimage.segmentation import find_boundaries

from .atomic import atomic_path
from .image_data import ImageData, ImageWriteError

MASK_COLOUR = (0.0, 0.9, 1.0)  # cyan: visible on grey images and on magma


def normalise_for_display(image: np.ndarray) -> np.ndarray:
    """Grey or RGB intensities → float in [0, 1] (uint8 ÷ 255, anything else by 0.5–99.5 percentiles)."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 4:
        image = image[..., :3]
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    values = image.astype(np.float32)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros_like(values)
    low, high = np.percentile(finite, (0.5, 99.5))
    if high <= low:
        low, high = float(finite.min()), float(finite.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return np.clip(np.nan_to_num(scaled), 0.0, 1.0)


def largest_mask_slice(mask: np.ndarray) -> int:
    """Index of the z-slice with the most foreground voxels (the middle one when the mask is empty)."""
    areas = (np.asarray(mask) > 0).reshape(mask.shape[0], -1).sum(axis=1)
    return int(np.argmax(areas)) if areas.any() else mask.shape[0] // 2


def _draw_mask(axes, mask: np.ndarray, aspect: float) -> None:
    foreground = mask > 0
    tint = np.zeros(mask.shape + (4,), dtype=np.float32)
    tint[foreground] = (*MASK_COLOUR, 0.3)
    outline = find_boundaries(mask, mode="inner")
    tint[outline] = (*MASK_COLOUR, 1.0)
    axes.imshow(tint, aspect=aspect, interpolation="nearest")


def overlay_png(
    path: str | os.PathLike,
    image,
    mask,
    uncertainty=None,
    *,
    spacing=None,
    z: int | None = None,
    z_note: str | None = None,
    title: str | None = None,
    dpi: int = 100,
) -> Path:
    """Write a PNG: image with the mask tinted and outlined, plus the uncertainty (magma, colour bar).

    ``image``: (Y, X[, C]) / (Z, Y, X[, C]) array or ImageData (its spacing sets the aspect);
    ``mask``/``uncertainty``: same spatial shape; ``z``: slice to show (default: largest mask area),
    ``z_note`` says why in the title (e.g. "prompted").
    """
    if isinstance(image, ImageData):
        spacing = spacing if spacing is not None else image.spacing
        image = image.array
    image, mask = np.asarray(image), np.asarray(mask)
    volume = mask.ndim == 3
    spatial = mask.shape
    if mask.ndim not in (2, 3) or image.shape[: mask.ndim] != spatial or image.ndim not in (mask.ndim, mask.ndim + 1):
        raise ImageWriteError(f"mask shape {mask.shape} does not match image shape {image.shape}.")
    if uncertainty is not None:
        uncertainty = np.asarray(uncertainty, dtype=np.float32)
        if uncertainty.shape != spatial:
            raise ImageWriteError(f"uncertainty shape {uncertainty.shape} does not match mask shape {spatial}.")
    heading = title or ""
    if volume:
        chosen = z is not None
        z = largest_mask_slice(mask) if z is None else int(z)
        if not 0 <= z < spatial[0]:
            raise ImageWriteError(f"z={z} is outside the volume's 0…{spatial[0] - 1} slices.")
        if z_note:
            reason = f" ({z_note})"
        else:
            reason = " (largest mask area)" if not chosen and mask.any() else ""
        heading = f"{heading}  slice z={z} of {spatial[0]}{reason}".strip()
        image, mask = image[z], mask[z]
        uncertainty = uncertainty[z] if uncertainty is not None else None
    aspect = 1.0
    if spacing is not None and len(spacing) >= 2:
        aspect = float(spacing[-2]) / float(spacing[-1])
    height, width = mask.shape
    panels = 1 if uncertainty is None else 2
    panel_width = 5.0
    panel_height = float(np.clip(panel_width * height * aspect / width, 2.0, 10.0))
    figure = Figure(figsize=(panel_width * panels + (1.0 if panels == 2 else 0.0), panel_height + 0.6), dpi=dpi)
    FigureCanvasAgg(figure)
    grid = figure.subplots(1, panels, squeeze=False)[0]
    shown = normalise_for_display(image)
    grey = "gray" if shown.ndim == 2 else None
    grid[0].imshow(shown, cmap=grey, vmin=0, vmax=1, aspect=aspect, interpolation="nearest")
    _draw_mask(grid[0], mask, aspect)
    grid[0].set_title(f"mask ({int((mask > 0).sum())} px)", fontsize=9)
    if uncertainty is not None:
        top = max(1.0, float(np.nanmax(uncertainty))) if uncertainty.size else 1.0
        picture = grid[1].imshow(uncertainty, cmap="magma", vmin=0.0, vmax=top, aspect=aspect, interpolation="nearest")
        outline = find_boundaries(mask, mode="inner").astype(float)
        grid[1].imshow(np.ma.masked_equal(outline, 0), cmap=ListedColormap([MASK_COLOUR]), aspect=aspect,
                       interpolation="nearest")  # fmt: skip
        figure.colorbar(picture, ax=grid[1], fraction=0.046, pad=0.02, label="uncertainty")
        grid[1].set_title(f"uncertainty (mean {float(np.nanmean(uncertainty)):.3f})", fontsize=9)
    for axes in grid:
        axes.set_axis_off()
    if heading:
        figure.suptitle(heading, fontsize=10)
    figure.tight_layout()
    target = Path(path).expanduser()
    with atomic_path(target) as temporary:
        figure.savefig(temporary, format="png", dpi=dpi)
    return target
