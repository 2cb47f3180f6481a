"""Object-like 2D scenes: flat/textured polygons, rings and filaments, and coins on a textured table."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import textures
from .canvas import Canvas
from .scenes_microscopy import background_texture, log_uniform, object_texture
from .shapes import filament, polygon_mask, random_harmonics, random_polygon, rectangle, ring, star_blob
from .style import Style

SHAPE_TYPES = ("polygon", "blob", "ring", "filament", "bar")
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _random_shape(rng: np.random.Generator, kind: str, shape, center, radius: float):
    side = min(shape)
    if kind == "polygon":
        return polygon_mask(shape, random_polygon(rng, center, radius, int(rng.integers(3, 11)), rng.uniform(0, 0.5)))
    if kind == "blob":
        found = star_blob(shape, center, radius, rng.uniform(1, 2.5), rng.uniform(0, np.pi),
                          random_harmonics(rng, rng.uniform(0, 0.3)))
        return None if found is None else (found[0], found[1] <= 1)
    if kind == "ring":
        thickness = max(2.5, radius * rng.uniform(0.15, 0.45))
        return ring(shape, center, radius, thickness, rng.uniform(1, 1.6), rng.uniform(0, np.pi),
                    random_harmonics(rng, rng.uniform(0, 0.1)))
    if kind == "filament":
        width = max(2.0, side * rng.uniform(0.008, 0.03))
        return filament(rng, shape, center, radius * rng.uniform(2, 4), width, rng.uniform(0.02, 0.15))
    half_width = max(1.5, radius * rng.uniform(0.08, 0.4))
    return polygon_mask(shape, rectangle(center, radius, half_width, rng.uniform(0, np.pi)))


def _distinct_value(rng, background: np.ndarray, contrast: float, coloured: bool) -> np.ndarray:
    """An object colour/grey level whose brightness differs from ``background`` by a clear margin."""
    for _ in range(20):
        value = rng.random(3 if coloured else 1).astype(np.float32)
        luma = float(value @ LUMA) if coloured else float(value[0])
        back = float(background @ LUMA) if coloured else float(background[0])
        if abs(luma - back) >= 0.3 * contrast + 0.1:
            return value
    return (1 - background).astype(np.float32)


def render_shapes(rng: np.random.Generator, shape, style: Style, min_size: int):
    """Polygons, blobs, rings, bars and thin filaments with flat, ramped or textured fills; some occlude."""
    side = min(shape)
    coloured = style.colour != "grey" and not style.shifted
    channels = 3 if coloured else 1
    background_value = rng.random(channels).astype(np.float32)
    image = np.broadcast_to(background_value, tuple(shape) + (channels,)).copy()
    image += rng.uniform(0, 0.15) * background_texture(rng, shape, style)[..., None]
    image += rng.uniform(0, 0.3) * textures.ramp(rng, shape)[..., None]
    count = int(rng.integers(1, 11))
    weights = np.array([0.3, 0.2, 0.15, 0.15, 0.2])
    canvas = Canvas(shape, min_size)
    for _ in range(count * 6):
        if canvas.count == count:
            break
        kind = str(rng.choice(SHAPE_TYPES, p=weights))
        radius = log_uniform(rng, 0.04, 0.33) * side
        found = _random_shape(rng, kind, shape, rng.uniform(0.1, 0.9, 2) * shape, radius)
        if found is None:
            continue
        box, mask = found
        label_id = canvas.add(box, mask, in_front=bool(rng.random() < 0.5), min_visible=0.6, keep_fraction=0.5)
        if label_id is None:
            continue
        visible = canvas.labels[box] == label_id
        local_background = image[box][visible].mean(axis=0)
        value = _distinct_value(rng, local_background, style.contrast, coloured)
        fill = rng.integers(3)
        region = image[box]
        if fill == 0:
            region[visible] = value
        elif fill == 1:  # ramp inside the object
            shade = 1 + rng.uniform(-0.25, 0.25) * textures.ramp(rng, visible.shape)[visible] * 2
            region[visible] = np.clip(value[None, :] * shade[:, None], 0, 1)
        else:
            pattern = object_texture(rng, visible.shape, max(radius * 0.2, 2), style)[visible]
            region[visible] = np.clip(value[None, :] + rng.uniform(0.03, 0.12) * pattern[:, None], 0, 1)
    image = image if coloured else image[..., 0]
    return np.clip(image, 0, 1), canvas.labels, dict(count=canvas.count, coloured=coloured)


def _grid_centers(rng, shape, radius):
    step = radius * rng.uniform(2.2, 2.8)
    rows = np.arange(step / 2, shape[0], step)
    cols = np.arange(step / 2, shape[1], step)
    centers = np.stack(np.meshgrid(rows, cols, indexing="ij"), -1).reshape(-1, 2)
    return centers + rng.normal(0, radius * 0.12, centers.shape)


def render_coins(rng: np.random.Generator, shape, style: Style, min_size: int):
    """Coins: discs with embossed relief, a rim and a drop shadow, on a textured, unevenly lit table."""
    side = min(shape)
    radius = log_uniform(rng, 0.05, 0.3) * side
    bright_coins = rng.random() < 0.85
    table_level = rng.uniform(0.1, 0.35) if bright_coins else rng.uniform(0.65, 0.85)
    image = table_level + rng.uniform(0.02, 0.06) * background_texture(rng, shape, style)
    light = rng.uniform(0, 2 * np.pi)
    height = object_texture(rng, shape, radius * rng.uniform(0.15, 0.35), style)
    relief = textures.emboss(ndimage.gaussian_filter(height, max(radius * 0.03, 0.7)), light)
    grid = rng.random() < 0.4
    centers = _grid_centers(rng, shape, radius) if grid else rng.uniform(0, 1, (60, 2)) * shape
    rng.shuffle(centers)
    canvas = Canvas(shape, min_size)
    coin_signal = np.zeros(shape, np.float32)
    target = int(rng.integers(1, 30))
    for center in centers:
        if canvas.count == target:
            break
        r = radius * rng.uniform(0.8, 1.2)
        if canvas.occupied(center):
            continue
        found = star_blob(shape, center, r, rng.uniform(1.0, 1.08), rng.uniform(0, np.pi))
        if found is None:
            continue
        box, rho = found
        if canvas.add(box, rho <= 1, min_visible=0.93) is None:
            continue
        visible = canvas.labels[box] == canvas.count
        inside = rho[visible]
        rim = inside > 1 - rng.uniform(0.07, 0.15)
        level = rng.uniform(0.3, 0.6) * (1.0 if bright_coins else -1.0)
        value = level * (1 - 0.3 * inside**6)  # edges curve away from the light
        value = value + rng.uniform(0.05, 0.15) * relief[box][visible] * (~rim)
        value = value + rim * rng.uniform(0.03, 0.12) * rng.choice([-1, 1])
        coin_signal[box][visible] = value
    coins = (canvas.labels > 0).astype(np.float32)
    offset = np.array([np.sin(light), np.cos(light)]) * max(radius * 0.06, 1.0)
    shadow = ndimage.shift(ndimage.gaussian_filter(coins, max(radius * 0.05, 1.0)), -offset, order=1)
    image = image - rng.uniform(0.05, 0.15) * shadow * (coins == 0) + style.contrast * coin_signal
    image = image + rng.uniform(0.0, 0.2) * textures.ramp(rng, shape)
    return np.clip(image, 0, None), canvas.labels, dict(count=canvas.count, radius=round(radius, 2), grid=grid,
                                                        bright_coins=bright_coins)
