"""CT-like 2D slices: an anatomical torso in Hounsfield units, or a Shepp-Logan-like ellipse phantom."""

from __future__ import annotations

import numpy as np

from napari_ruac.samples.ct import streaks

from . import textures
from .canvas import Canvas
from .shapes import random_harmonics, ring, star_blob
from .style import Style


def _window(rng: np.random.Generator, hu: np.ndarray, style: Style) -> np.ndarray:
    """Map HU to [0, 1] through a soft-tissue (mostly), lung or bone window."""
    pick = rng.random()
    if pick < 0.8:
        level, width = rng.uniform(20, 80), rng.uniform(250, 500) / max(style.contrast, 0.3) ** 0.5
    elif pick < 0.9:
        level, width = rng.uniform(-650, -500), rng.uniform(1200, 1600)
    else:
        level, width = rng.uniform(300, 500), rng.uniform(1500, 2000)
    return np.clip((hu - (level - width / 2)) / width, 0, 1)


def _render_anatomy(rng: np.random.Generator, shape, style: Style, min_size: int):
    side = min(shape)
    center = np.asarray(shape) / 2 + rng.uniform(-0.02, 0.02, 2) * side
    body = np.array([rng.uniform(0.26, 0.4), rng.uniform(0.36, 0.44)]) * side  # (y, x) radii, inside the image
    hu = np.full(shape, -1000.0, np.float32)
    canvas = Canvas(shape, min_size)
    fat = rng.uniform(0.02, 0.06) * side

    def fill(radii, value):
        found = star_blob(shape, center, radii[1], radii[0] / radii[1], np.pi / 2)  # x radius, y/x aspect
        box, rho = found
        hu[box][rho <= 1] = value
        return box, rho <= 1

    fill(body, -100.0)
    fill(body - fat, 40.0)
    cavity = body - fat - rng.uniform(0.02, 0.05) * side
    blocked = np.ones(shape, bool)  # organs stay inside the rib cage
    box, inside = fill(cavity, 40.0)
    blocked[box][inside] = False
    canvas.labels[blocked] = -1
    thickness = max(2.0, rng.uniform(0.012, 0.025) * side)
    if rng.random() < 0.7:
        found = ring(shape, center, cavity[1], thickness * cavity[1] / cavity[0], cavity[0] / cavity[1], np.pi / 2)
        if found is not None:
            box, mask = found
            canvas.labels[box][mask & (canvas.labels[box] == -1)] = 0
            if canvas.add(box, mask, min_visible=0.9) is not None:
                hu[box][mask] = rng.uniform(500, 900)
    structures = []
    if rng.random() < 0.7:  # spine, posterior (bottom of the image)
        structures.append((center + [cavity[0] * 0.7, 0], cavity[1] * rng.uniform(0.12, 0.18), 1.2,
                           rng.uniform(300, 700), 0.0))
    if rng.random() < 0.5:  # lungs
        for side_sign in (-1, 1):
            lung_center = center + [-cavity[0] * 0.1, side_sign * cavity[1] * 0.45]
            structures.append((lung_center, cavity[1] * rng.uniform(0.3, 0.42), rng.uniform(1.0, 1.5),
                               rng.uniform(-850, -750), 0.05))
    for _ in range(int(rng.integers(1, 5))):  # organs
        offset = rng.uniform(-0.6, 0.6, 2) * cavity
        organ_hu = 40.0 + rng.choice([-1, 1]) * rng.uniform(15, 60)  # visible against 40 HU soft tissue
        structures.append((center + offset, cavity[1] * rng.uniform(0.1, 0.4), rng.uniform(1, 1.8),
                           organ_hu, rng.uniform(0, 0.15)))
    organ_ids = []
    for position, radius, aspect, value, wobble in structures:
        found = star_blob(shape, position, radius, aspect, rng.uniform(0, np.pi), random_harmonics(rng, wobble))
        if found is None:
            continue
        box, rho = found
        label_id = canvas.add(box, rho <= 1, min_visible=0.6)
        if label_id is None:
            continue
        visible = canvas.labels[box] == label_id
        texture = textures.smooth_field(rng, visible.shape, max(radius * 0.2, 2))
        hu[box][visible] = value + rng.uniform(3, 30 if value < -500 else 8) * texture[visible]
        organ_ids.append((label_id, value, radius))
    for label_id, value, radius in organ_ids[: int(rng.integers(0, 3))]:  # lesions nested in organs
        box, host = canvas.mask_of(label_id)
        candidates = np.argwhere(host)
        lesion_radius = radius * rng.uniform(0.15, 0.4)
        center_lesion = candidates[rng.integers(len(candidates))] + [box[0].start, box[1].start]
        found = star_blob(shape, center_lesion, lesion_radius, rng.uniform(1, 1.4), rng.uniform(0, np.pi))
        if found is None:
            continue
        lesion_box, rho = found
        lesion = rho <= 1
        if not np.all(canvas.labels[lesion_box][lesion] == label_id):
            continue  # keep lesions strictly inside their organ
        new_id = canvas.add(lesion_box, lesion, in_front=True, keep_fraction=0.3)
        if new_id is not None:
            hu[lesion_box][lesion] = value + rng.choice([-1, 1]) * rng.uniform(12, 60)
    canvas.labels[canvas.labels < 0] = 0
    if style.noise != "none":
        spine = np.asarray(center) + [cavity[0] * 0.7, 0]
        hu += streaks(rng, shape, spine, int(rng.integers(0, 9)), rng.uniform(10, 60), max(side / 256, 1.0))
    return _window(rng, hu, style), canvas.labels, dict(mode="anatomy", count=canvas.count)


def _render_phantom(rng: np.random.Generator, shape, style: Style, min_size: int):
    """Nested ellipses with flat, close values (skull ring, brain, ventricles, small features)."""
    side = min(shape)
    center = np.asarray(shape) / 2 + rng.uniform(-0.02, 0.02, 2) * side
    radius = rng.uniform(0.34, 0.44) * side
    aspect = rng.uniform(0.65, 0.85)  # narrower in x, like Shepp-Logan
    image = np.zeros(shape, np.float32)
    canvas = Canvas(shape, min_size)
    thickness = max(2.5, rng.uniform(0.05, 0.1) * radius * aspect)
    minor = radius * aspect  # the long axis (radius) runs along y, like Shepp-Logan
    found = ring(shape, center, minor, thickness, 1 / aspect, np.pi / 2)
    box, skull = found
    if canvas.add(box, skull, min_visible=0.9) is not None:  # a ring too thin to stay whole is left out
        image[box][skull] = 1.0
    found = star_blob(shape, center, minor - thickness, 1 / aspect, np.pi / 2)
    box, rho = found
    interior_value = rng.uniform(0.15, 0.35)
    interior_id = canvas.add(box, rho <= 1, min_visible=0.9)
    if interior_id is None:
        raise RuntimeError("phantom interior could not be placed")  # cannot happen: it is the first large blob
    image[box][canvas.labels[box] == interior_id] = interior_value
    for _ in range(int(rng.integers(3, 12))):
        r = (minor - thickness) * float(np.exp(rng.uniform(np.log(0.05), np.log(0.45))))
        offset = rng.uniform(-0.6, 0.6, 2) * (minor - thickness) * [1 / aspect, 1]
        found = star_blob(shape, center + offset, r, rng.uniform(1, 3), rng.uniform(0, np.pi))
        if found is None:
            continue
        box, rho = found
        mask = (rho <= 1) & (canvas.labels[box] >= interior_id)  # inside the skull
        label_id = canvas.add(box, mask, in_front=True, min_visible=0.9, keep_fraction=0.3)
        if label_id is not None:
            delta = rng.uniform(0.06, 0.25) * rng.choice([-1, 1]) if rng.random() < 0.7 else -interior_value
            image[box][canvas.labels[box] == label_id] = np.clip(interior_value + delta, 0, 1)
    return image, canvas.labels, dict(mode="phantom", count=canvas.count)


def render_ct(rng: np.random.Generator, shape, style: Style, min_size: int):
    """A CT-like slice: anatomical torso (60 %) or Shepp-Logan-like phantom (40 %)."""
    if rng.random() < 0.6:
        return _render_anatomy(rng, shape, style, min_size)
    return _render_phantom(rng, shape, style, min_size)
