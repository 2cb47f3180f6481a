"""Microscopy-like 2D scenes: fluorescent nuclei and textured cells (phase, fluorescence, bright field).

Each renderer returns a clean float image (optics and noise come later from the style),
the instance labels of a Canvas, and the settings it drew.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import textures
from .canvas import Canvas
from .shapes import random_harmonics, star_blob
from .style import Style


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def object_radius(rng: np.random.Generator, side: int, low: float, high: float, large: float = 0.12) -> float:
    """A scene's typical object radius: log-uniform over [low, high]·side, sometimes one huge object."""
    if rng.random() < large:
        return float(rng.uniform(0.22, 0.36) * side)
    return log_uniform(rng, low, high) * side


def object_texture(rng: np.random.Generator, shape, scale: float, style: Style) -> np.ndarray:
    """Interior texture: cloudy fractal for training, engineered patterns for the shifted domain."""
    if not style.shifted:
        return textures.fractal(rng, shape, max(scale, 2.0), beta=float(rng.uniform(2.2, 3.2)))
    pick = rng.integers(3)
    if pick == 0:
        return textures.grating(rng, shape, max(scale, 3.0))
    if pick == 1:
        return textures.checker(rng, shape, max(scale, 3.0))
    return textures.cellular(rng, shape, max(scale * 2, 4.0))


def background_texture(rng: np.random.Generator, shape, style: Style) -> np.ndarray:
    """Background structure: smooth clouds plus grain (training) or stripes/plates/checks (shifted)."""
    side = min(shape)
    if not style.shifted:
        return 0.7 * textures.smooth_field(rng, shape, side * rng.uniform(0.2, 0.6)) + 0.3 * textures.fractal(
            rng, shape, rng.uniform(3, 12))
    return object_texture(rng, shape, side * rng.uniform(0.03, 0.08), style)


def _neighbour_center(rng, centers, radius):
    other_center, other_radius = centers[rng.integers(len(centers))]
    angle = rng.uniform(0, 2 * np.pi)
    distance = (other_radius + radius) * rng.uniform(0.75, 0.97)
    return other_center + distance * np.array([np.sin(angle), np.cos(angle)])


def render_nuclei(rng: np.random.Generator, shape, style: Style, min_size: int):
    """Fluorescent nuclei: domed blobs with chromatin texture, clusters of touching nuclei, uneven background."""
    side = min(shape)
    radius = object_radius(rng, side, 0.02, 0.13)
    coverage = rng.uniform(0.1, 0.45)
    count = int(np.clip(round(coverage * shape[0] * shape[1] / (np.pi * radius**2)), 1, 150))
    cluster_fraction = rng.uniform(0.0, 0.6)
    chromatin = object_texture(rng, shape, radius * rng.uniform(0.2, 0.5), style)
    canvas = Canvas(shape, min_size)
    signal = np.zeros(shape, np.float32)
    centers: list[tuple[np.ndarray, float]] = []
    for _ in range(count * 8):
        if canvas.count == count:
            break
        r = radius * float(np.exp(rng.normal(0, 0.2)))
        brightness = rng.uniform(0.4, 1.0)
        if rng.random() < 0.06:  # condensed, bright (mitotic-like)
            r, brightness = r * 0.6, 1.6
        r = max(r, np.sqrt(min_size / np.pi) + 1)
        if centers and rng.random() < cluster_fraction:
            center = _neighbour_center(rng, centers, r)
        else:
            center = rng.uniform(0, 1, 2) * shape
        if canvas.occupied(center):
            continue
        found = star_blob(shape, center, r, rng.uniform(1.0, 1.6), rng.uniform(0, np.pi),
                          random_harmonics(rng, rng.uniform(0.0, 0.15)))
        if found is None:
            continue
        box, rho = found
        label_id = canvas.add(box, rho <= 1, in_front=False, min_visible=0.7)
        if label_id is None:
            continue
        centers.append((np.asarray(center), r))
        visible = canvas.labels[box] == label_id
        dome = 1 - rng.uniform(0.0, 0.5) * rho[visible] ** 2
        texture = rng.uniform(0.05, 0.4) * chromatin[box][visible]
        signal[box][visible] = brightness * dome * (1 + texture)
    background = (rng.uniform(0.0, 0.12) + rng.uniform(0, 0.12) * textures.ramp(rng, shape)
                  + rng.uniform(0, 0.04) * background_texture(rng, shape, style))
    haze = ndimage.gaussian_filter(signal, side * 0.03) * rng.uniform(0, 0.2)
    image = np.clip(background, 0, None) + style.contrast * (np.clip(signal, 0, None) + haze)
    dark_on_bright = rng.random() < 0.2
    if dark_on_bright:  # absorption-like stain: dark nuclei on a bright field
        image = np.exp(-rng.uniform(1.0, 2.0) * image / max(image.max(), 1e-6))
    return image, canvas.labels, dict(count=canvas.count, radius=round(radius, 2), dark_on_bright=dark_on_bright)


def render_cells(rng: np.random.Generator, shape, style: Style, min_size: int):
    """Cells with textured cytoplasm, an inner nucleus, a membrane rim and (phase contrast) a halo."""
    side = min(shape)
    mode = str(rng.choice(["phase", "fluorescent", "brightfield"], p=[0.4, 0.35, 0.25]))
    radius = object_radius(rng, side, 0.05, 0.25, large=0.15)
    coverage = rng.uniform(0.08, 0.4)
    count = int(np.clip(round(coverage * shape[0] * shape[1] / (np.pi * radius**2 * 1.4)), 1, 60))
    texture = object_texture(rng, shape, radius * rng.uniform(0.1, 0.3), style)
    grains = textures.granules(rng, shape, rng.uniform(0.002, 0.02), max(radius * 0.04, 0.7))
    canvas = Canvas(shape, min_size)
    cells = np.zeros(shape, np.float32)
    rim_width = max(1.0, radius * rng.uniform(0.04, 0.12))
    background_level = {"phase": rng.uniform(0.4, 0.55), "fluorescent": rng.uniform(0.02, 0.1),
                        "brightfield": rng.uniform(0.7, 0.9)}[mode]
    sign = {"phase": rng.choice([-1.0, 1.0], p=[0.3, 0.7]), "fluorescent": 1.0, "brightfield": -1.0}[mode]
    rim_sign = float(rng.choice([-1.0, 1.0]))
    for _ in range(count * 8):
        if canvas.count == count:
            break
        r = max(radius * float(np.exp(rng.normal(0, 0.25))), np.sqrt(min_size / np.pi) + 2)
        center = rng.uniform(0, 1, 2) * shape
        in_front = rng.random() < 0.3
        if not in_front and canvas.occupied(center):
            continue
        found = star_blob(shape, center, r, rng.uniform(1.0, 2.2), rng.uniform(0, np.pi),
                          random_harmonics(rng, rng.uniform(0.05, 0.35), orders=6))
        if found is None:
            continue
        box, rho = found
        label_id = canvas.add(box, rho <= 1, in_front=in_front, min_visible=0.75, keep_fraction=0.6)
        if label_id is None:
            continue
        visible = canvas.labels[box] == label_id
        depth = ndimage.distance_transform_edt(np.pad(visible, 1))[1:-1, 1:-1][visible]
        level = rng.uniform(0.15, 0.4) * (1.5 if mode == "fluorescent" else 1.0)
        inside = rng.uniform(0.1, 0.4) * texture[box][visible] + rng.uniform(0, 0.4) * grains[box][visible]
        value = sign * level * (1 + inside)
        value += rim_sign * rng.uniform(0.05, 0.2) * np.exp(-depth / rim_width)  # membrane
        if rng.random() < 0.6:  # nucleus: an inner ellipse of different brightness
            nucleus = rho[visible] < rng.uniform(0.3, 0.55)
            value[nucleus] += rng.choice([-1, 1]) * rng.uniform(0.05, 0.2)
        cells[box][visible] = value
    objects = canvas.labels > 0
    image = background_level + 0.03 * background_texture(rng, shape, style) + style.contrast * cells
    if mode == "phase":  # halo of opposite sign just outside each cell
        halo = ndimage.gaussian_filter(objects.astype(np.float32), max(rim_width, 1.5)) * ~objects
        image -= sign * rng.uniform(0.2, 0.6) * halo * style.contrast
    image += rng.uniform(0, 0.1) * textures.ramp(rng, shape)
    return np.clip(image, 0, None), canvas.labels, dict(count=canvas.count, radius=round(radius, 2), mode=mode)
