"""2D object shapes as (bounding box, mask-or-radius) pairs: blobs, polygons, rings, filaments.

Each function evaluates only inside the object's bounding box (clipped to the image), so a
scene with many small objects stays cheap. ``None`` means the shape misses the image.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.draw import line as draw_line
from skimage.draw import polygon as draw_polygon


def _local_grid(shape, center, half_extent):
    """Bounding box slices around ``center`` and the (dy, dx) offsets of its pixels from the centre."""
    cy, cx = center
    y0, y1 = max(int(np.floor(cy - half_extent)), 0), min(int(np.ceil(cy + half_extent)) + 1, shape[0])
    x0, x1 = max(int(np.floor(cx - half_extent)), 0), min(int(np.ceil(cx + half_extent)) + 1, shape[1])
    if y1 <= y0 or x1 <= x0:
        return None
    dy = (np.arange(y0, y1, dtype=np.float32) - np.float32(cy))[:, None]
    dx = (np.arange(x0, x1, dtype=np.float32) - np.float32(cx))[None, :]
    return (slice(y0, y1), slice(x0, x1)), dy, dx


def random_harmonics(rng: np.random.Generator, irregularity: float, orders: int = 5) -> np.ndarray:
    """Rows of (order, amplitude, phase) for a wobbly outline; amplitudes fall off with order."""
    order = np.arange(2, 2 + orders)
    amplitude = irregularity * rng.uniform(0.3, 1.0, orders) / (order - 1)
    phase = rng.uniform(0, 2 * np.pi, orders)
    return np.stack([order, amplitude, phase], axis=1)


def star_blob(shape, center, radius: float, aspect: float = 1.0, angle: float = 0.0, harmonics=None):
    """A star-convex blob: returns (box, rho) where rho = distance / outline radius (inside: rho <= 1)."""
    wobble = 0.0 if harmonics is None else float(np.abs(harmonics[:, 1]).sum())
    found = _local_grid(shape, center, radius * max(aspect, 1.0) * (1 + wobble) + 1)
    if found is None:
        return None
    box, dy, dx = found
    c, s = np.cos(angle), np.sin(angle)
    u = (c * dx + s * dy) / aspect
    v = -s * dx + c * dy
    distance = np.sqrt(u * u + v * v)
    if harmonics is None:
        return box, distance / radius
    direction = (u + 1j * v) / np.maximum(distance, 1e-6)  # e^{i theta}, powers give cos(k theta + phase)
    outline = np.ones(distance.shape, np.float32)
    power = direction ** int(harmonics[0, 0])
    for order, amplitude, phase in harmonics:
        outline += amplitude * (power * np.exp(1j * phase)).real.astype(np.float32)
        power = power * direction
    return box, distance / (radius * np.maximum(outline, 1e-3))


def polygon_mask(shape, vertices: np.ndarray):
    """Fill a polygon given as (N, 2) (row, col) vertices: returns (box, mask)."""
    low = np.maximum(np.floor(vertices.min(axis=0)).astype(int), 0)
    high = np.minimum(np.ceil(vertices.max(axis=0)).astype(int) + 1, shape)
    if np.any(high <= low):
        return None
    rows, cols = draw_polygon(vertices[:, 0] - low[0], vertices[:, 1] - low[1], shape=tuple(high - low))
    mask = np.zeros(tuple(high - low), bool)
    mask[rows, cols] = True
    return (slice(low[0], high[0]), slice(low[1], high[1])), mask


def random_polygon(rng: np.random.Generator, center, radius: float, vertices: int, star: float = 0.0) -> np.ndarray:
    """Vertices of a polygon around ``center``: sorted random angles, radii shrunk by up to ``star``."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, vertices))
    angles += 0.5 * (np.linspace(0, 2 * np.pi, vertices, endpoint=False) - angles)  # spread them out
    radii = radius * (1 - star * rng.random(vertices))
    return np.stack([center[0] + radii * np.sin(angles), center[1] + radii * np.cos(angles)], axis=1)


def rectangle(center, half_length: float, half_width: float, angle: float) -> np.ndarray:
    """Vertices of a rotated rectangle (a thick bar when ``half_width`` is small)."""
    c, s = np.cos(angle), np.sin(angle)
    corners = np.array([[-1, -1], [-1, 1], [1, 1], [1, -1]]) * [half_length, half_width]
    return np.stack([center[0] + corners[:, 0] * s + corners[:, 1] * c,
                     center[1] + corners[:, 0] * c - corners[:, 1] * s], axis=1)


def ring(shape, center, radius: float, thickness: float, aspect: float = 1.0, angle: float = 0.0, harmonics=None):
    """An annulus (a ring object; the hole is background): returns (box, mask)."""
    found = star_blob(shape, center, radius, aspect, angle, harmonics)
    if found is None:
        return None
    box, rho = found
    return box, (rho <= 1) & (rho > 1 - thickness / radius)


def filament(rng: np.random.Generator, shape, start, length: float, width: float, bend: float = 0.08):
    """A thin curved fibre: a random smooth path of ``length`` pixels, ``width`` pixels thick."""
    steps = max(int(length / 2), 2)
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, bend, steps))
    path = np.asarray(start, float) + 2.0 * np.cumsum(np.stack([np.sin(heading), np.cos(heading)], 1), axis=0)
    pad = width / 2 + 2
    low = np.maximum(np.floor(path.min(axis=0) - pad).astype(int), 0)
    high = np.minimum(np.ceil(path.max(axis=0) + pad).astype(int) + 1, shape)
    if np.any(high <= low):
        return None
    skeleton = np.zeros(tuple(high - low), bool)
    points = np.round(path - low).astype(int)
    for (r0, c0), (r1, c1) in zip(points[:-1], points[1:]):
        rows, cols = draw_line(r0, c0, r1, c1)
        keep = (rows >= 0) & (cols >= 0) & (rows < skeleton.shape[0]) & (cols < skeleton.shape[1])
        skeleton[rows[keep], cols[keep]] = True
    if not skeleton.any():
        return None
    mask = ndimage.distance_transform_edt(~skeleton) <= width / 2
    return (slice(low[0], high[0]), slice(low[1], high[1])), mask
