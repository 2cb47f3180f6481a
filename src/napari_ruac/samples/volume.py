"""The `SampleVolume` record that every sample generator returns: image, exact labels, geometry."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


def spacing_affine(spacing, origin=None) -> np.ndarray:
    """Homogeneous affine mapping an index (z, y, x) (or (y, x)) to world coordinates in the same order."""
    spacing = np.asarray(spacing, dtype=float)
    ndim = spacing.size
    affine = np.eye(ndim + 1)
    affine[:ndim, :ndim] = np.diag(spacing)
    if origin is not None:
        affine[:ndim, ndim] = np.asarray(origin, dtype=float)
    return affine


def relabel_sequential(labels: np.ndarray) -> np.ndarray:
    """Renumber the ids of a label image to 1..N in the order of their current values (0 stays 0)."""
    ids = np.unique(labels)
    ids = ids[ids != 0]
    lookup = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.int32)
    lookup[ids] = np.arange(1, ids.size + 1, dtype=np.int32)
    return lookup[labels]


@dataclass
class SampleVolume:
    """A generated image (2D or 3D) with exact instance labels and its physical geometry.

    ``affine`` maps an array index (z, y, x) — or (y, x) for a 2D sample — to world
    coordinates in the same axis order (µm for microscopy, mm for CT), as napari's
    ``affine`` layer argument expects. ``window`` is a suggested display range.
    """

    image: np.ndarray
    labels: np.ndarray
    spacing: tuple[float, ...]
    affine: np.ndarray
    name: str
    description: str
    window: tuple[float, float] | None = None
    label_names: dict[int, str] = field(default_factory=dict)
    unit: str = ""

    @property
    def ndim(self) -> int:
        return self.labels.ndim

    def slice(self, z: int | None = None) -> "SampleVolume":
        """The 2D sample at z-index ``z`` (default: the slice with most labelled pixels), ids renumbered 1..N."""
        if self.ndim != 3:
            raise ValueError(f"slice() needs a 3D sample, {self.name!r} is {self.ndim}D")
        if z is None:
            z = int(np.argmax((self.labels > 0).sum(axis=(1, 2))))
        if not -self.labels.shape[0] <= z < self.labels.shape[0]:
            raise IndexError(f"z={z} is outside 0..{self.labels.shape[0] - 1} of {self.name!r}")
        z = z % self.labels.shape[0]
        old = self.labels[z]
        labels = relabel_sequential(old)
        names = {}
        for new_id in range(1, int(labels.max(initial=0)) + 1):
            old_id = int(old[labels == new_id][0])
            if old_id in self.label_names:
                names[new_id] = self.label_names[old_id]
        origin = self.affine[1:3, 3]
        return replace(
            self,
            image=self.image[z].copy(),
            labels=labels,
            spacing=tuple(self.spacing[1:]),
            affine=spacing_affine(self.spacing[1:], origin),
            name=f"{self.name} z={z}",
            description=f"slice z={z} of: {self.description}",
            label_names=names,
        )
