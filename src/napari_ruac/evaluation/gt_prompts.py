"""Prompts derived from a ground-truth object: its box, and/or clicks inside it (seeded per
object, so a rerun or a resumed run prompts every object exactly as before)."""

from __future__ import annotations

import zlib

import numpy as np
from scipy import ndimage

from ..core.boxes import grown_box

PROMPT_KINDS = ("box", "point", "box+point")


def object_rng(seed: int, *names: str) -> np.random.Generator:
    """A generator that depends only on the seed and the object's identity."""
    return np.random.default_rng([int(seed), zlib.crc32("/".join(names).encode())])


def click_points(mask: np.ndarray, count: int, rng: np.random.Generator) -> list[list[float]]:
    """The most interior pixel first (distance-transform maximum), then uniform random pixels."""
    distance = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(distance)), mask.shape)
    points = [[float(x), float(y)]]
    ys, xs = np.nonzero(mask)
    for i in rng.integers(len(xs), size=max(0, count - 1)):
        points.append([float(xs[i]), float(ys[i])])
    return points


def make_prompt(mask: np.ndarray, kind: str, rng: np.random.Generator, points: int = 1, box_margin: float = 0.0) -> dict:
    """Keyword arguments for ``ImagePredictor.predict`` (box=…, points=…, labels=…)."""
    if kind not in PROMPT_KINDS:
        raise ValueError(f"prompt must be one of {PROMPT_KINDS}, got {kind!r}")
    prompt: dict = {}
    if "box" in kind:
        prompt["box"] = grown_box(mask, margin=0.0, min_margin=box_margin)  # tight, + box_margin px, clipped
    if "point" in kind:
        clicks = click_points(mask, points, rng)
        prompt["points"], prompt["labels"] = clicks, [1] * len(clicks)
    return prompt
