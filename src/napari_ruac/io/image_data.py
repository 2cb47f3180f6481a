"""An image read from disk together with its geometry, and the errors reading/writing raise.

``ImageData`` keeps the pixels in our axis order ((Z, Y, X) or (Y, X), channels last) with the
spacing and affine that make outputs line up with the input in ITK-SNAP, Fiji and napari.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class ImageReadError(ValueError):
    """A file that cannot be read as an image; the message names the file, the problem and the fix."""


class ImageWriteError(ValueError):
    """An array that cannot be written as asked; the message says why and what to do instead."""


@dataclass(eq=False)  # arrays make field-wise == ambiguous; compare .array explicitly
class ImageData:
    """Pixels in our axis order plus the geometry needed to write results back in place.

    ``affine`` maps a homogeneous index ``(z, y, x, 1)`` in our axis order to world coordinates
    (for NIfTI: the file's scanner/aligned space, world axes x, y, z in mm). A 2D image is a
    single slice: its index is ``(0, y, x, 1)``. ``None`` for formats without an affine.
    """

    array: np.ndarray
    spacing: tuple[float, ...]
    affine: np.ndarray | None = None
    format: str = "npy"
    path: Path | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.spacing = tuple(float(s) for s in self.spacing)
        if len(self.spacing) not in (2, 3):
            raise ValueError(f"spacing must have 2 (y, x) or 3 (z, y, x) values, got {self.spacing}")
        if self.array.ndim not in (len(self.spacing), len(self.spacing) + 1):
            raise ValueError(
                f"array of shape {self.array.shape} does not match spacing {self.spacing}: expected "
                f"{len(self.spacing)} spatial axes plus at most one trailing channel axis"
            )
        if self.affine is not None:
            self.affine = np.asarray(self.affine, dtype=np.float64)
            if self.affine.shape != (4, 4):
                raise ValueError(f"affine must be 4×4, got shape {self.affine.shape}")
        if self.path is not None:
            self.path = Path(self.path)

    @property
    def ndim_spatial(self) -> int:
        """2 for an image, 3 for a volume."""
        return len(self.spacing)

    @property
    def is_volume(self) -> bool:
        """True for a (Z, Y, X[, C]) stack."""
        return self.ndim_spatial == 3

    @property
    def has_channels(self) -> bool:
        """True when the array has a trailing channel axis (RGB, RGBA or several channels)."""
        return self.array.ndim == self.ndim_spatial + 1

    @property
    def channels(self) -> int:
        """Number of channels (1 without a channel axis)."""
        return int(self.array.shape[-1]) if self.has_channels else 1

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Shape of the spatial axes, (Z, Y, X) or (Y, X)."""
        return tuple(int(n) for n in self.array.shape[: self.ndim_spatial])

    @property
    def scale(self) -> tuple[float, ...]:
        """napari's ``scale`` for this layer: the spacing in our axis order."""
        return self.spacing

    @property
    def unit(self) -> str | None:
        """Physical unit of the spacing (e.g. ``"mm"``, ``"µm"``), None when unknown."""
        return self.metadata.get("unit")

    @property
    def napari_affine(self) -> np.ndarray:
        """(ndim+1)² affine for a napari layer: our index → world with world axes ordered (z, y, x).

        The world axes are reversed from the NIfTI (x, y, z) order so napari's first axis is the
        slice axis, as for the array. Without an affine this is ``diag(spacing, 1)``. For a 2D image
        with an affine only the in-plane part is kept.
        """
        n = self.ndim_spatial
        if self.affine is None:
            return np.diag([*self.spacing, 1.0])
        world_zyx = self.affine[[2, 1, 0, 3]]
        if n == 3:
            return world_zyx.copy()
        keep = [1, 2, 3]
        return world_zyx[np.ix_(keep, keep)].copy()

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return (
            f"ImageData(shape={self.array.shape}, dtype={self.array.dtype}, spacing={self.spacing}, "
            f"unit={self.unit!r}, format={self.format!r}{where})"
        )
