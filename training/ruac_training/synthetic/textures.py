"""Procedural textures (fields of zero mean, unit spread) for backgrounds and object interiors.

Fields are synthesised in the Fourier domain (one inverse FFT each), so their cost does not
grow with the feature size; they are periodic, which nothing here minds.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft as sfft
from scipy import ndimage


def _unit(field: np.ndarray) -> np.ndarray:
    field = field - field.mean()
    return (field / (field.std() + 1e-8)).astype(np.float32)


@lru_cache(maxsize=32)
def _squared_frequency(shape: tuple[int, int]) -> np.ndarray:
    fy = sfft.fftfreq(shape[0]).astype(np.float32)[:, None]
    fx = sfft.rfftfreq(shape[1]).astype(np.float32)[None, :]
    return fy**2 + fx**2


def _synthesise(rng: np.random.Generator, shape, amplitude: np.ndarray) -> np.ndarray:
    spectrum_shape = amplitude.shape
    white = np.empty(spectrum_shape, np.complex64)
    white.real = rng.standard_normal(spectrum_shape, dtype=np.float32) * amplitude
    white.imag = rng.standard_normal(spectrum_shape, dtype=np.float32) * amplitude
    field = sfft.irfft2(white, s=shape, workers=1)
    return _unit(field)


def smooth_field(rng: np.random.Generator, shape, scale: float) -> np.ndarray:
    """Smooth random field whose blobs are about ``scale`` pixels wide (zero mean, unit std)."""
    shape = (int(shape[0]), int(shape[1]))
    sigma = max(scale, 0.5) / 2
    amplitude = np.exp(np.float32(-2 * np.pi**2 * sigma**2) * _squared_frequency(shape))
    amplitude[0, 0] = 0
    return _synthesise(rng, shape, amplitude)


def fractal(rng: np.random.Generator, shape, scale: float, beta: float = 2.5) -> np.ndarray:
    """1/f^beta noise with features up to ``scale`` pixels (clouds, tissue, paper); unit std."""
    shape = (int(shape[0]), int(shape[1]))
    f2 = _squared_frequency(shape)
    amplitude = (f2 + np.float32(1.0 / max(scale, 1.0) ** 2)) ** np.float32(-beta / 4)
    amplitude[0, 0] = 0
    return _synthesise(rng, shape, amplitude)


def ramp(rng: np.random.Generator, shape) -> np.ndarray:
    """A linear illumination ramp in a random direction, spanning about -0.5..0.5 over the image."""
    angle = rng.uniform(0, 2 * np.pi)
    yy = np.linspace(-0.5, 0.5, shape[0], dtype=np.float32)[:, None]
    xx = np.linspace(-0.5, 0.5, shape[1], dtype=np.float32)[None, :]
    return (np.cos(angle) * xx + np.sin(angle) * yy).astype(np.float32)


def emboss(height: np.ndarray, light_angle: float) -> np.ndarray:
    """Shade a height map as if lit from ``light_angle`` (unit std): raised relief on coins."""
    dy, dx = np.gradient(height)
    return _unit(np.cos(light_angle) * dx + np.sin(light_angle) * dy)


def granules(rng: np.random.Generator, shape, density: float, radius: float) -> np.ndarray:
    """Sparse blurred dots (vesicles, grains): ``density`` dots per pixel, ``radius`` pixels (unit std)."""
    dots = (rng.random(shape, dtype=np.float32) < density).astype(np.float32)
    return _unit(ndimage.gaussian_filter(dots, max(radius, 0.5)))


# ---- textures only the shifted domain uses: structures training never shows ----

def grating(rng: np.random.Generator, shape, period: float, warp: float = 0.3) -> np.ndarray:
    """Wood-grain-like stripes: a sinusoid of warped coordinates (unit std)."""
    angle = rng.uniform(0, np.pi)
    yy = np.arange(shape[0], dtype=np.float32)[:, None]
    xx = np.arange(shape[1], dtype=np.float32)[None, :]
    phase = (np.cos(angle) * xx + np.sin(angle) * yy) / period
    phase = phase + warp * smooth_field(rng, shape, period * 4)
    return _unit(np.sin(2 * np.pi * phase))


def cellular(rng: np.random.Generator, shape, cell_size: float) -> np.ndarray:
    """Voronoi-like plates: a quantised smooth field with bright walls between plates (unit std)."""
    field = smooth_field(rng, shape, cell_size)
    levels = np.floor(field * 2.0)
    walls = np.abs(np.diff(levels, axis=0, prepend=levels[:1])) + np.abs(np.diff(levels, axis=1, prepend=levels[:, :1]))
    return _unit(0.5 * levels + (walls > 0))


def checker(rng: np.random.Generator, shape, period: float) -> np.ndarray:
    """A rotated, slightly warped checkerboard (unit std)."""
    angle = rng.uniform(0, np.pi)
    yy = np.arange(shape[0], dtype=np.float32)[:, None]
    xx = np.arange(shape[1], dtype=np.float32)[None, :]
    u = (np.cos(angle) * xx + np.sin(angle) * yy) / period
    v = (-np.sin(angle) * xx + np.cos(angle) * yy) / period
    u = u + 0.2 * smooth_field(rng, shape, period * 3)
    return _unit(np.sign(np.sin(np.pi * u) * np.sin(np.pi * v)) + 0.0)
