"""Image degradations: blur kernels, noise models and intensity curves, on float images in [0, 1].

Training uses Gaussian blur, Poisson-Gaussian and correlated Gaussian noise; the shifted
domain uses the others (motion/defocus blur, speckle, salt-and-pepper, scan-line stripes).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_ruac.core.intensity import percentile_range, stretch


def _per_channel(image: np.ndarray, function) -> np.ndarray:
    if image.ndim == 3:
        return np.stack([function(image[..., c]) for c in range(image.shape[-1])], axis=-1)
    return function(image)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Isotropic Gaussian blur (optical point-spread function), ``sigma`` in pixels."""
    if sigma <= 0.05:
        return image
    return _per_channel(image, lambda plane: ndimage.gaussian_filter(plane, sigma, mode="reflect"))


def _kernel_blur(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    kernel = kernel / kernel.sum()
    return _per_channel(image, lambda plane: ndimage.convolve(plane, kernel.astype(np.float32), mode="reflect"))


def motion_blur(image: np.ndarray, length: float, angle: float) -> np.ndarray:
    """Linear motion blur: a line kernel of ``length`` pixels at ``angle`` radians."""
    half = int(np.ceil(length / 2))
    yy, xx = np.mgrid[-half: half + 1, -half: half + 1]
    along = xx * np.cos(angle) + yy * np.sin(angle)
    across = -xx * np.sin(angle) + yy * np.cos(angle)
    kernel = np.clip(1 - np.abs(across), 0, 1) * (np.abs(along) <= length / 2)
    return _kernel_blur(image, kernel)


def defocus_blur(image: np.ndarray, radius: float) -> np.ndarray:
    """Out-of-focus blur: a uniform disc kernel of ``radius`` pixels."""
    half = int(np.ceil(radius))
    yy, xx = np.mgrid[-half: half + 1, -half: half + 1]
    kernel = np.clip(radius + 0.5 - np.hypot(yy, xx), 0, 1)
    return _kernel_blur(image, kernel)


def poisson_gaussian(rng: np.random.Generator, image: np.ndarray, photons: float, read_sigma: float) -> np.ndarray:
    """Camera noise: shot noise with ``photons`` counts at intensity 1, plus Gaussian read noise."""
    counts = rng.poisson(np.clip(image, 0, None) * photons).astype(np.float32)
    return counts / photons + rng.normal(0, read_sigma, image.shape).astype(np.float32)


def gaussian_noise(rng: np.random.Generator, image: np.ndarray, sigma: float, correlation: float = 0.0) -> np.ndarray:
    """Additive Gaussian noise of std ``sigma``, spatially correlated over ``correlation`` pixels (CT)."""
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    if correlation > 0:
        axes = (correlation, correlation, 0) if image.ndim == 3 else correlation
        noise = ndimage.gaussian_filter(noise, axes)
        noise /= noise.std() + 1e-8
    return image + sigma * noise


def speckle(rng: np.random.Generator, image: np.ndarray, sigma: float) -> np.ndarray:
    """Multiplicative (ultrasound/laser-like) speckle: image × Gamma noise of relative std ``sigma``."""
    shape_k = 1.0 / max(sigma, 1e-3) ** 2
    return image * rng.gamma(shape_k, 1.0 / shape_k, image.shape).astype(np.float32)


def salt_pepper(rng: np.random.Generator, image: np.ndarray, amount: float) -> np.ndarray:
    """Replace a fraction ``amount`` of pixels by 0 or 1 (dead/hot pixels)."""
    out = image.copy()
    hits = rng.random(image.shape[:2]) < amount
    out[hits] = rng.integers(0, 2, int(hits.sum()))[:, None] if image.ndim == 3 else rng.integers(0, 2, int(hits.sum()))
    return out


def stripes(rng: np.random.Generator, image: np.ndarray, sigma: float) -> np.ndarray:
    """Scan-line noise: a random offset per row (or column), as from a line-scanning detector."""
    axis = int(rng.integers(2))
    offsets = rng.normal(0, sigma, image.shape[axis]).astype(np.float32)
    offsets = offsets[:, None] if axis == 0 else offsets[None, :]
    return image + (offsets[..., None] if image.ndim == 3 else offsets)


def gamma_curve(image: np.ndarray, gamma: float) -> np.ndarray:
    """Apply an intensity gamma to an image in [0, 1]."""
    return np.clip(image, 0, 1) ** gamma


def normalise(image: np.ndarray, low_percentile: float = 0.1, high_percentile: float = 99.9) -> np.ndarray:
    """Stretch an image to [0, 1] between two percentiles (robust to a few hot pixels)."""
    sample = image[::3, ::3] if image.size > 40000 else image  # percentiles of a subsample are enough
    return stretch(image, *percentile_range(sample, (low_percentile, high_percentile))).astype(np.float32)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Quantise a [0, 1] image to uint8."""
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
