"""`generate_scene`: one seeded 2D scene of a given kind, in the training or the shifted domain."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .scenes_ct import render_ct
from .scenes_microscopy import render_cells, render_nuclei
from .scenes_objects import render_coins, render_shapes
from .style import finish, sample_style

# kind -> (renderer, the noise model its training style uses)
RENDERERS = {
    "nuclei": (render_nuclei, "poisson"),
    "cells": (render_cells, "gaussian"),
    "shapes": (render_shapes, "gaussian"),
    "coins": (render_coins, "gaussian"),
    "ct": (render_ct, "correlated"),
}
KINDS = tuple(RENDERERS)


@dataclass
class Scene:
    """A generated image (H, W) or (H, W, 3) uint8 with exact instance labels (int32, ids 1..N)."""

    image: np.ndarray
    labels: np.ndarray
    kind: str
    params: dict = field(default_factory=dict)

    @property
    def count(self) -> int:
        return int(self.labels.max(initial=0))


def min_object_size(shape) -> int:
    """Smallest object area (pixels) a scene may contain: 24 px, or 0.05 % of the image if larger."""
    return max(24, int(0.0005 * shape[0] * shape[1]))


def _shape_of(size) -> tuple[int, int]:
    if np.isscalar(size):
        size = (int(size), int(size))
    shape = tuple(int(s) for s in size)
    if len(shape) != 2 or min(shape) < 64:
        raise ValueError(f"size must be an int or (height, width) of at least 64 pixels, got {size!r}")
    return shape


def generate_scene(kind: str, seed: int, size=256, shifted: bool = False) -> Scene:
    """Render one scene of ``kind`` (see ``KINDS``); the same (kind, seed, size, shifted) gives the same scene.

    ``size`` is an int (square) or (height, width); ``shifted`` draws from the evaluation domain.
    """
    if kind not in RENDERERS:
        raise ValueError(f"unknown scene kind {kind!r}; choose one of {', '.join(KINDS)}")
    shape = _shape_of(size)
    seed = int(seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, KINDS.index(kind), int(bool(shifted))]))
    renderer, kind_noise = RENDERERS[kind]
    style = sample_style(rng, kind, shape, bool(shifted), kind_noise)
    minimum = min_object_size(shape)
    for _attempt in range(10):  # a scene with no object at all is redrawn
        image, labels, settings = renderer(rng, shape, style, minimum)
        if labels.max() > 0:
            break
    image, labels, fixed = finish(rng, image, labels, style, minimum)
    settings.pop("count", None)
    params = dict(kind=kind, seed=seed, size=list(shape), shifted=bool(shifted), count=int(labels.max(initial=0)),
                  label_pixels_fixed=fixed, min_object_size=minimum, style=style.as_dict(), **settings)
    return Scene(image=image, labels=labels.astype(np.int32, copy=False), kind=kind, params=params)
