"""Elastic (smooth, non-rigid) deformation applied to an image and its labels together."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _smooth_basis(length: int, grid: int) -> np.ndarray:
    """(length, grid) weights that spread ``grid`` control values smoothly over ``length`` samples."""
    position = np.linspace(0, grid - 1, length)[:, None]
    weights = np.exp(-0.5 * ((position - np.arange(grid)[None, :]) / 0.7) ** 2)
    return weights / weights.sum(axis=1, keepdims=True)


def elastic_field(rng: np.random.Generator, shape, amplitude: float, grid: int = 4) -> np.ndarray:
    """A smooth displacement field (ndim, *shape) in pixels whose largest displacement is ``amplitude``.

    Random displacements on a coarse ``grid`` of control points per axis, spread smoothly;
    keep ``amplitude`` below about shape / (2 · grid) so the map stays one-to-one.
    """
    shape = tuple(int(s) for s in shape)
    ndim = len(shape)
    coarse = rng.standard_normal((ndim,) + (grid,) * ndim)
    bases = [_smooth_basis(s, grid) for s in shape]
    if ndim == 2:
        field = np.stack([bases[0] @ component @ bases[1].T for component in coarse])
    elif ndim == 3:
        field = np.einsum("cabd,xd->cabx", coarse, bases[2])
        field = np.einsum("cabx,yb->cayx", field, bases[1])
        field = np.einsum("cayx,za->czyx", field, bases[0])
    else:
        raise ValueError(f"elastic deformation supports 2D and 3D, got a {ndim}D shape {shape}")
    largest = np.sqrt((field**2).sum(axis=0)).max()
    return (field * amplitude / max(largest, 1e-8)).astype(np.float32)


def _warp_2d(array: np.ndarray, field: np.ndarray, order: int) -> np.ndarray:
    """Fast 2D gather (bilinear or nearest) for (H, W) or (H, W, C) arrays; borders repeat."""
    height, width = field.shape[1:]
    y = np.clip(np.arange(height, dtype=np.float32)[:, None] + field[0], 0, height - 1)
    x = np.clip(np.arange(width, dtype=np.float32)[None, :] + field[1], 0, width - 1)
    if order == 0:
        index = np.rint(y).astype(np.intp) * width + np.rint(x).astype(np.intp)
        return np.take(array.reshape((height * width,) + array.shape[2:]), index, axis=0)
    y0 = np.minimum(np.floor(y).astype(np.intp), height - 2)
    x0 = np.minimum(np.floor(x).astype(np.intp), width - 2)
    wy, wx = y - y0, x - x0
    if array.ndim == 3:
        wy, wx = wy[..., None], wx[..., None]
    values = array.astype(np.float32, copy=False).reshape((height * width,) + array.shape[2:])
    index = y0 * width + x0

    def at(offset):
        return np.take(values, index + offset, axis=0)

    top = at(0) + (at(1) - at(0)) * wx
    bottom = at(width) + (at(width + 1) - at(width)) * wx
    return (top + (bottom - top) * wy).astype(array.dtype, copy=False)


def warp(array: np.ndarray, field: np.ndarray, order: int) -> np.ndarray:
    """Sample ``array`` at (index + field): order 1 for images, 0 (nearest) for labels.

    A trailing channel axis (array.ndim == field.shape[0] + 1) is warped channel by channel.
    Borders repeat the edge value, identically for image and labels, so they stay aligned.
    """
    ndim = field.shape[0]
    if ndim == 2 and min(field.shape[1:]) >= 2:
        return _warp_2d(array, field, order)
    if array.ndim == ndim + 1:
        return np.stack([warp(array[..., c], field, order) for c in range(array.shape[-1])], axis=-1)
    grid = np.meshgrid(*[np.arange(s, dtype=np.float32) for s in field.shape[1:]], indexing="ij")
    coordinates = np.stack([g + d for g, d in zip(grid, field)])
    return ndimage.map_coordinates(array, coordinates, order=order, mode="nearest").astype(array.dtype, copy=False)


def elastic_deform(rng: np.random.Generator, image: np.ndarray, labels: np.ndarray,
                   amplitude: float, grid: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Deform ``image`` and ``labels`` with one smooth random field (labels stay integer and aligned)."""
    if image.shape[: labels.ndim] != labels.shape:
        raise ValueError(f"image {image.shape} and labels {labels.shape} must share their spatial shape")
    field = elastic_field(rng, labels.shape, amplitude, grid)
    return warp(image, field, order=1), warp(labels, field, order=0)
