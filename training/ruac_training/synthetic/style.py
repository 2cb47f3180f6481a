"""Appearance of a scene: the training style and the shifted (evaluation) style, and how to apply them.

Training: Gaussian blur, Poisson/Gaussian/correlated noise, moderate gamma and contrast,
grey or tinted. Shifted: motion/defocus blur, speckle/salt-and-pepper/stripe noise, extreme
gamma, low contrast, inverted polarity, false colour, elastic deformation of image + labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from . import noise as degrade
from .deform import elastic_deform

COLOUR_PROBABILITY = {"nuclei": 0.5, "cells": 0.35, "shapes": 0.6, "coins": 0.3, "ct": 0.1}


@dataclass
class Style:
    """Per-scene appearance settings (plain values, so they go into ``Scene.params``)."""

    shifted: bool
    colour: str  # grey | tint | duotone | false
    blur: str  # gaussian | motion | defocus
    blur_amount: float  # sigma, length or radius in pixels
    blur_angle: float
    noise: str  # poisson | gaussian | correlated | speckle | salt_pepper | stripes | none
    noise_level: float
    gamma: float
    contrast: float  # scales object-vs-background differences in the renderers
    low: float  # output intensity range
    high: float
    invert: bool
    elastic: float  # largest displacement in pixels (0: none)
    elastic_grid: int

    def as_dict(self) -> dict:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def sample_style(rng: np.random.Generator, kind: str, shape, shifted: bool, kind_noise: str) -> Style:
    """Draw the appearance of one scene of ``kind`` from the training or the shifted distribution."""
    side = min(shape)
    scale = side / 256
    coloured = rng.random() < COLOUR_PROBABILITY.get(kind, 0.3)
    if not shifted:
        clean = rng.random() < 0.1
        return Style(
            shifted=False,
            colour=str(rng.choice(["tint", "duotone"], p=[0.7, 0.3])) if coloured else "grey",
            blur="gaussian", blur_amount=0.0 if clean else float(rng.uniform(0.3, 1.6) * scale), blur_angle=0.0,
            noise="none" if clean else kind_noise,
            noise_level=float(rng.uniform(0.2, 1.0)),
            gamma=float(np.exp(rng.uniform(np.log(0.75), np.log(1.35)))),
            contrast=float(rng.uniform(0.5, 1.0)),
            low=float(rng.uniform(0.0, 0.12)), high=float(rng.uniform(0.75, 1.0)),
            invert=False, elastic=0.0, elastic_grid=0,
        )
    blur = str(rng.choice(["motion", "defocus", "gaussian"], p=[0.4, 0.4, 0.2]))
    blur_range = {"motion": (3.0, 8.0), "defocus": (1.5, 3.0), "gaussian": (2.0, 2.8)}[blur]
    blur_amount = rng.uniform(*blur_range)
    gamma = float(rng.choice([rng.uniform(0.4, 0.6), rng.uniform(1.7, 2.3)]))
    low = float(rng.uniform(0.1, 0.35))
    return Style(
        shifted=True,
        colour=str(rng.choice(["false", "grey"], p=[0.6, 0.4])),
        blur=blur, blur_amount=float(blur_amount * scale), blur_angle=float(rng.uniform(0, np.pi)),
        noise=str(rng.choice(["speckle", "salt_pepper", "stripes"])),
        noise_level=float(rng.uniform(0.4, 1.0)),
        gamma=gamma,
        contrast=float(rng.uniform(0.35, 0.6)),
        low=low, high=float(low + rng.uniform(0.35, 0.55)),
        invert=bool(rng.random() < 0.5),
        elastic=float(rng.uniform(0.03, 0.06) * side), elastic_grid=int(rng.integers(3, 6)),
    )


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    colour = rng.uniform(0.15, 1.0, 3)
    return colour / colour.max()


def colourize(rng: np.random.Generator, image: np.ndarray, mode: str) -> np.ndarray:
    """Turn a grey [0, 1] image into RGB: a tint, a two-colour ramp, or a false-colour (hue) map."""
    if mode == "grey":
        return image
    if image.ndim == 3:  # already RGB (per-object colours): shifted scenes get their channels mixed
        if mode != "false":
            return image
        mix = rng.permutation(np.eye(3)) * 0.7 + 0.3 * rng.random((3, 3))
        return np.clip(image @ (mix / mix.sum(axis=0, keepdims=True)), 0, 1)
    if mode == "tint":
        return image[..., None] * _random_colour(rng)[None, None, :]
    if mode == "duotone":
        dark, bright = _random_colour(rng) * rng.uniform(0, 0.3), _random_colour(rng)
        return dark + image[..., None] * (bright - dark)
    phase = rng.uniform(0, 2 * np.pi, 3)  # false colour: each channel a different sinusoid of intensity
    cycles = rng.uniform(0.3, 0.6)
    return 0.5 + 0.5 * np.sin(2 * np.pi * cycles * image[..., None] + phase[None, None, :])


def clean_labels(labels: np.ndarray, min_size: int) -> tuple[np.ndarray, int]:
    """Keep the largest 4-connected piece of each id, drop ids under ``min_size``, renumber 1..N.

    Returns (labels, number of pixels changed); a no-op for labels a Canvas built.
    """
    out = np.zeros_like(labels)
    changed = 0
    next_id = 1
    for label_id, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        mask = labels[box] == label_id
        pieces, count = ndimage.label(mask)
        if count > 1:
            sizes = np.bincount(pieces.ravel())[1:]
            keep = pieces == (1 + int(np.argmax(sizes)))
        else:
            keep = mask
        if keep.sum() < min_size:
            changed += int(mask.sum())
            continue
        changed += int(mask.sum() - keep.sum())
        out[box][keep] = next_id
        next_id += 1
    return out, changed


def finish(rng: np.random.Generator, image: np.ndarray, labels: np.ndarray, style: Style,
           min_size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Apply deformation, optics, intensity mapping, noise and colour; returns (uint8, labels, fixed pixels)."""
    image = image.astype(np.float32, copy=False)
    if style.elastic > 0:
        image, labels = elastic_deform(rng, image, labels, style.elastic, style.elastic_grid)
    if style.blur == "gaussian":
        image = degrade.gaussian_blur(image, style.blur_amount)
    elif style.blur == "motion":
        image = degrade.motion_blur(image, style.blur_amount, style.blur_angle)
    else:
        image = degrade.defocus_blur(image, style.blur_amount)
    image = degrade.normalise(image)
    if style.invert:
        image = 1 - image
    image = style.low + (style.high - style.low) * image
    level = style.noise_level
    if style.noise == "poisson":
        image = degrade.poisson_gaussian(rng, image, photons=30 + 400 * (1 - level), read_sigma=0.01 * level)
    elif style.noise == "gaussian":
        image = degrade.gaussian_noise(rng, image, 0.05 * level)
    elif style.noise == "correlated":
        image = degrade.gaussian_noise(rng, image, 0.06 * level, correlation=0.8)
    elif style.noise == "speckle":
        image = degrade.speckle(rng, image, 0.08 + 0.12 * level)
    elif style.noise == "salt_pepper":
        image = degrade.salt_pepper(rng, degrade.gaussian_noise(rng, image, 0.02), 0.01 + 0.03 * level)
    elif style.noise == "stripes":
        image = degrade.stripes(rng, degrade.gaussian_noise(rng, image, 0.02), 0.015 + 0.03 * level)
    image = degrade.gamma_curve(image, style.gamma)
    image = colourize(rng, image, style.colour)
    labels, fixed = clean_labels(labels, min_size)
    return degrade.to_uint8(image), labels, fixed
