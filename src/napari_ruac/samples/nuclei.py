"""Fluorescence-like nuclei (2D image or 3D stack) with exact labels: ellipsoids, PSF blur, shot noise."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..core.intensity import percentile_range
from .geometry import ellipsoid, place_behind, rotation_matrix, smooth_noise
from .volume import SampleVolume, spacing_affine

CAMERA_OFFSET = 100.0  # ADU a camera adds before any light


def _random_center(rng, extent, existing, cluster_fraction, radius, ndim):
    """A centre anywhere (margin-free) or, to make touching clusters, just beside an existing nucleus."""
    if existing and rng.random() < cluster_fraction:
        other_center, other_radius = existing[rng.integers(len(existing))]
        direction = rng.standard_normal(ndim)
        if ndim == 3:
            direction[0] *= 0.3  # neighbours sit mostly side by side, not on top
        direction /= np.linalg.norm(direction) + 1e-12
        return other_center + direction * (other_radius + radius) * rng.uniform(0.8, 0.97)
    return rng.uniform(0, 1, ndim) * extent


def render_nuclei(seed: int, shape, spacing, *, count: int | None = None,
                  radius_um=(3.5, 6.5), flatness=(0.55, 0.85), coverage: float | None = None,
                  cluster_fraction: float = 0.35, psf_sigma_um=None, photons: float = 400.0,
                  background_photons: float = 30.0, read_noise: float = 4.0,
                  illumination: float = 0.35, min_size: int | None = None):
    """Render nuclei into an uint16 camera image; returns (image, labels, settings dict).

    ``radius_um`` is the in-plane radius range, ``flatness`` the z/xy radius ratio (3D),
    ``photons`` the expected peak photon count of an average nucleus, ``psf_sigma_um`` the
    Gaussian PSF per axis (default: 3× more blur along z than in-plane).
    """
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    ndim = len(shape)
    spacing = np.asarray(spacing, float)
    extent = np.asarray(shape) * spacing
    if psf_sigma_um is None:
        psf_sigma_um = (1.2, 0.4, 0.4)[-ndim:]
    if min_size is None:
        min_size = 30 if ndim == 3 else 20
    mean_radius = float(np.mean(radius_um))
    radius_z = mean_radius * float(np.mean(flatness))
    object_volume = (4 / 3 * np.pi * mean_radius**2 * radius_z) if ndim == 3 else np.pi * mean_radius**2
    if coverage is None:
        coverage = 0.12 if ndim == 3 else 0.25
    if count is None:
        count = max(1, int(round(coverage * np.prod(extent) / object_volume)))

    labels = np.zeros(shape, np.int32)
    signal = np.zeros(shape, np.float32)
    chromatin = smooth_noise(rng, shape, 0.5 / spacing)
    existing: list[tuple[np.ndarray, float]] = []
    for _ in range(count * 25):
        if len(existing) == count:
            break
        radius = rng.uniform(*radius_um)
        brightness = rng.uniform(0.45, 1.3)
        if rng.random() < 0.08:  # condensed (mitotic-like) nucleus: small and bright
            radius *= 0.6
            brightness *= 2.0
        radii = [radius * rng.uniform(0.75, 1.0), radius]
        if ndim == 3:
            radii = [radius * rng.uniform(*flatness)] + radii
        center = _random_center(rng, extent, existing, cluster_fraction, radius, ndim)
        found = ellipsoid(shape, center, radii, rotation_matrix(rng, ndim), spacing)
        if found is None:
            continue
        box, q = found
        visible = place_behind(labels, box, q <= 1, len(existing) + 1, 0.75, min_size)
        if visible is None:
            continue
        existing.append((center, radius))
        texture = rng.uniform(0.1, 0.35)
        dome = 0.55 + 0.45 * np.sqrt(np.clip(1 - q[visible], 0, 1))
        value = brightness * dome * (1 + texture * chromatin[box][visible])
        signal[box][visible] = np.clip(value, 0.05, None)

    sigma = np.asarray(psf_sigma_um, float) / spacing
    blurred = ndimage.gaussian_filter(signal, sigma)
    haze = ndimage.gaussian_filter(signal, sigma * 8) * 0.15  # out-of-focus / scattered light
    ramp = sum(rng.uniform(-1, 1) * np.linspace(-0.5, 0.5, n).reshape([-1 if i == a else 1 for i in range(ndim)])
               for a, n in enumerate(shape) if a >= ndim - 2)
    lowfreq = smooth_noise(rng, shape, np.asarray(shape) / 6.0) * 0.3
    background = background_photons * (1 + illumination * (ramp + lowfreq))
    if ndim == 3:  # deeper slices receive and return less light
        attenuation = np.exp(-np.linspace(0, rng.uniform(0.1, 0.4), shape[0]))[:, None, None]
        blurred = blurred * attenuation
    expected = np.clip(background + photons * (blurred + haze), 0, None)
    counts = rng.poisson(expected).astype(np.float32)
    adu = CAMERA_OFFSET + 2.0 * counts + rng.normal(0, read_noise, shape)
    image = np.clip(np.round(adu), 0, 65535).astype(np.uint16)
    settings = dict(count=len(existing), requested=count, psf_sigma_um=list(map(float, psf_sigma_um)),
                    photons=photons, background_photons=background_photons)
    return image, labels, settings


def _window(image) -> tuple[float, float]:
    low, high = percentile_range(image, (0.5, 99.9))
    return float(low), float(high)


def nuclei_stack(seed: int = 0, shape=(24, 128, 128), spacing=(2.0, 0.5, 0.5), **settings) -> SampleVolume:
    """A 3D fluorescence nuclei stack (uint16, z, y, x) with one int32 label per nucleus; spacing in µm."""
    if len(shape) != 3 or len(spacing) != 3:
        raise ValueError(f"nuclei_stack needs a 3D shape and spacing (z, y, x), got {shape} and {spacing}")
    image, labels, used = render_nuclei(seed, shape, spacing, **settings)
    return SampleVolume(
        image=image, labels=labels, spacing=tuple(float(s) for s in spacing), affine=spacing_affine(spacing),
        name="nuclei stack", unit="µm", window=_window(image),
        description=(f"{used['count']} synthetic fluorescent nuclei (ellipsoids, some touching) in a "
                     f"{'×'.join(map(str, shape))} stack; anisotropic PSF, uneven background, Poisson + "
                     f"read noise; seed {seed}"),
    )


def nuclei_image(seed: int = 0, shape=(256, 256), spacing=(0.5, 0.5), **settings) -> SampleVolume:
    """A 2D fluorescence nuclei image (uint16, y, x) with one int32 label per nucleus; spacing in µm."""
    if len(shape) != 2 or len(spacing) != 2:
        raise ValueError(f"nuclei_image needs a 2D shape and spacing (y, x), got {shape} and {spacing}")
    image, labels, used = render_nuclei(seed, shape, spacing, **settings)
    return SampleVolume(
        image=image, labels=labels, spacing=tuple(float(s) for s in spacing), affine=spacing_affine(spacing),
        name="nuclei image", unit="µm", window=_window(image),
        description=(f"{used['count']} synthetic fluorescent nuclei, some touching; PSF blur, uneven "
                     f"background, Poisson + read noise; seed {seed}"),
    )
