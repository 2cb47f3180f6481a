"""N-dimensional ellipsoids in physical units and placing objects without breaking earlier ones."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def rotation_matrix(rng: np.random.Generator, ndim: int, tilt: float = 0.2) -> np.ndarray:
    """A random rotation: any angle in the (y, x) plane, at most ``tilt`` radians out of it (3D)."""
    angle = rng.uniform(0, np.pi)
    c, s = np.cos(angle), np.sin(angle)
    in_plane = np.array([[c, -s], [s, c]])
    if ndim == 2:
        return in_plane
    rotation = np.eye(3)
    rotation[1:, 1:] = in_plane
    a, b = rng.uniform(-tilt, tilt, 2)
    tilt_zy = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    tilt_zx = np.array([[np.cos(b), 0, -np.sin(b)], [0, 1, 0], [np.sin(b), 0, np.cos(b)]])
    return tilt_zy @ tilt_zx @ rotation


def ellipsoid(shape, center, radii, rotation=None, spacing=None):
    """Normalised squared radius ``q`` of an ellipsoid on its bounding box: returns (box slices, q).

    ``center`` and ``radii`` are physical (index × spacing); voxels with ``q <= 1`` are inside.
    Returns ``None`` when the ellipsoid misses the array.
    """
    ndim = len(shape)
    spacing = np.ones(ndim) if spacing is None else np.asarray(spacing, float)
    center = np.asarray(center, float)
    radii = np.asarray(radii, float)
    rotation = np.eye(ndim) if rotation is None else np.asarray(rotation, float)
    half = np.sqrt(((rotation * radii[None, :]) ** 2).sum(axis=1))  # physical half-extent per axis
    low = np.maximum(np.floor((center - half) / spacing).astype(int), 0)
    high = np.minimum(np.ceil((center + half) / spacing).astype(int) + 1, shape)
    if np.any(high <= low):
        return None
    box = tuple(slice(int(a), int(b)) for a, b in zip(low, high))
    axes = [np.arange(a, b) * s - c for a, b, s, c in zip(low, high, spacing, center)]
    grids = np.meshgrid(*axes, indexing="ij", sparse=True)
    q = 0.0
    for j in range(ndim):  # coordinate along the ellipsoid's j-th axis
        local = sum(grids[i] * rotation[i, j] for i in range(ndim))
        q = q + (local / radii[j]) ** 2
    return box, np.broadcast_to(q, tuple(high - low)).copy()


def place_behind(labels: np.ndarray, box, mask: np.ndarray, label_id: int,
                 min_visible: float = 0.8, min_size: int = 20) -> np.ndarray | None:
    """Paint ``mask`` as ``label_id`` where ``labels`` is still empty, if the visible part stays whole.

    Earlier objects are never changed, so they stay valid. The new one is refused (returns
    ``None``) unless its visible part is one connected piece of at least ``min_size`` voxels
    and ``min_visible`` of its area. Returns the visible part (in the box) on success.
    """
    region = labels[box]
    visible = mask & (region == 0)
    count = int(visible.sum())
    if count < min_size or count < min_visible * mask.sum():
        return None
    _, pieces = ndimage.label(visible)
    if pieces != 1:
        return None
    region[visible] = label_id
    return visible


def smooth_noise(rng: np.random.Generator, shape, sigma) -> np.ndarray:
    """Zero-mean, unit-std Gaussian-filtered white noise (``sigma`` in voxels, per axis or scalar)."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (field - field.mean()) / (field.std() + 1e-12)
