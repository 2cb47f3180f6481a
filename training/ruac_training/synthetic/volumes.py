"""3D volumes for training and the shift study: the sample generators of `napari_ruac.samples`
with randomised settings, and a shifted variant (blurrier, noisier, artefacts, elastic 3D warp)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from napari_ruac.samples.ct import render_ct
from napari_ruac.samples.nuclei import CAMERA_OFFSET, render_nuclei

from .deform import elastic_field, warp
from .style import clean_labels

VOLUME_KINDS = ("nuclei", "ct")
DEFAULT_SHAPES = {"nuclei": (24, 128, 128), "ct": (32, 128, 128)}
DEFAULT_SPACING = {"nuclei": (2.0, 0.5, 0.5), "ct": (3.0, 2.5, 2.5)}


@dataclass
class VolumeScene:
    """A generated volume (Z, Y, X) with exact instance labels (int32, ids 1..N) and its spacing."""

    image: np.ndarray
    labels: np.ndarray
    spacing: tuple[float, float, float]
    kind: str
    params: dict = field(default_factory=dict)


def _deform(rng, image, labels, spacing, amplitude_um: float):
    """Warp image and labels with one smooth 3D field (physically isotropic displacement)."""
    field_vox = elastic_field(rng, labels.shape, 1.0, grid=4)
    field_vox *= (amplitude_um / np.asarray(spacing, float))[:, None, None, None].astype(np.float32)
    warped = warp(image.astype(np.float32), field_vox, order=1)
    return warped, warp(labels, field_vox, order=0)


def _nuclei(rng, seed, shape, spacing, shifted):
    settings = dict(radius_um=tuple(sorted(rng.uniform(3.0, 7.5, 2))), coverage=float(rng.uniform(0.06, 0.18)),
                    cluster_fraction=float(rng.uniform(0.1, 0.6)))
    if not shifted:
        settings.update(psf_sigma_um=(float(rng.uniform(0.9, 2.0)), *[float(rng.uniform(0.3, 0.5))] * 2),
                        photons=float(rng.uniform(150, 800)), illumination=float(rng.uniform(0.1, 0.4)))
    else:
        settings.update(psf_sigma_um=(float(rng.uniform(2.5, 4.0)), *[float(rng.uniform(0.6, 0.9))] * 2),
                        photons=float(rng.uniform(40, 90)), illumination=float(rng.uniform(0.6, 0.9)))
    image, labels, _ = render_nuclei(seed, shape, spacing, **settings)
    changes = {}
    if shifted:
        image, labels = _deform(rng, image, labels, spacing, rng.uniform(1.5, 3.0))
        image = image * rng.gamma(16.0, 1 / 16.0, image.shape)  # speckle: a noise model training never saw
        if rng.random() < 0.5:
            image = image.max() + CAMERA_OFFSET - image
            changes["inverted"] = True
        image = np.clip(np.round(image), 0, 65535).astype(np.uint16)
    return image, labels, {}, dict(settings, **changes)


def _ct(rng, seed, shape, spacing, shifted):
    if not shifted:
        settings = dict(noise_hu=float(rng.uniform(8, 20)), streak_hu=float(rng.uniform(10, 50)))
    else:
        settings = dict(noise_hu=float(rng.uniform(25, 40)), streak_hu=float(rng.uniform(60, 110)),
                        blur_voxels=(0.3, 1.1, 1.1))
    hu, labels, names = render_ct(seed, shape, spacing, **settings)
    if shifted:
        hu, labels = _deform(rng, hu, labels, spacing, rng.uniform(4.0, 8.0))  # breathing-like, mm
        yy, xx = np.mgrid[: shape[1], : shape[2]]
        radius = np.hypot(yy - shape[1] / 2, xx - shape[2] / 2) / (min(shape[1:]) / 2)
        hu += rng.uniform(10, 25) * np.sin(2 * np.pi * radius * rng.uniform(8, 14))[None]  # ring artefacts
        hu -= rng.uniform(30, 60) * np.clip(1 - radius**2, 0, 1)[None]  # cupping (beam hardening)
    image = np.clip(np.round(hu), -1024, 3071).astype(np.int16)
    return image, labels, names, settings


def generate_volume(kind: str, seed: int, shape=None, spacing=None, shifted: bool = False) -> VolumeScene:
    """One seeded volume of ``kind`` ("nuclei": uint16 camera counts, "ct": int16 HU)."""
    if kind not in VOLUME_KINDS:
        raise ValueError(f"unknown volume kind {kind!r}; choose one of {', '.join(VOLUME_KINDS)}")
    shape = tuple(int(s) for s in (shape or DEFAULT_SHAPES[kind]))
    spacing = tuple(float(s) for s in (spacing or DEFAULT_SPACING[kind]))
    if len(shape) != 3 or len(spacing) != 3:
        raise ValueError(f"a volume needs a 3D shape and spacing (z, y, x), got {shape} and {spacing}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), VOLUME_KINDS.index(kind), int(bool(shifted)), 3]))
    render = _nuclei if kind == "nuclei" else _ct
    image, labels, names, settings = render(rng, int(seed), shape, spacing, bool(shifted))
    old_labels = labels
    labels, fixed = clean_labels(labels, min_size=20)
    if names:
        names = {int(new): names[int(old)] for new, old in _id_pairs(old_labels, labels)}
    params = dict(kind=kind, seed=int(seed), shape=list(shape), spacing=list(spacing), shifted=bool(shifted),
                  count=int(labels.max(initial=0)), label_pixels_fixed=fixed, label_names=names,
                  **{k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.items()})
    return VolumeScene(image=image, labels=labels.astype(np.int32), spacing=spacing, kind=kind, params=params)


def _id_pairs(old: np.ndarray, new: np.ndarray):
    """(new id, old id) for every id that survived relabelling."""
    pairs = {}
    for new_id, box in enumerate(ndimage.find_objects(new), start=1):
        if box is not None:
            pairs[new_id] = int(old[box][new[box] == new_id][0])
    return pairs.items()
