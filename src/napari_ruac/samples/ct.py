"""A CT-like torso phantom in Hounsfield units with exact organ/lesion labels, streaks and noise."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..core.intensity import CT_WINDOWS
from .geometry import ellipsoid, place_behind, smooth_noise
from .volume import SampleVolume, spacing_affine

AIR, FAT, SOFT_TISSUE, BONE = -1000.0, -100.0, 40.0, 700.0

# Organs: name, HU, texture HU, centre (x, y in half-field units, z in 0..1 from the top),
# radii (x, y in half-field units, z as a fraction of the stack height), in-plane angle.
ORGANS = (
    ("spine", 250.0, 30.0, (0.0, 0.34, 0.5), (0.11, 0.09, 8.0), 0.0),
    ("aorta", 45.0, 4.0, (0.1, 0.14, 0.5), (0.06, 0.06, 8.0), 0.0),
    ("kidney_right", 30.0, 5.0, (-0.34, 0.3, 0.9), (0.12, 0.17, 0.3), -0.4),
    ("kidney_left", 30.0, 5.0, (0.34, 0.3, 0.9), (0.12, 0.17, 0.3), 0.4),
    ("lung_right", -800.0, 40.0, (-0.36, -0.04, 0.12), (0.24, 0.31, 0.55), 0.1),
    ("lung_left", -810.0, 40.0, (0.36, -0.04, 0.12), (0.23, 0.31, 0.55), -0.1),
    ("heart", 55.0, 6.0, (0.08, -0.14, 0.2), (0.26, 0.22, 0.35), 0.4),
    ("liver", 60.0, 5.0, (-0.28, 0.02, 0.85), (0.36, 0.33, 0.5), -0.3),
    ("spleen", 50.0, 5.0, (0.43, 0.16, 0.75), (0.13, 0.21, 0.3), 0.5),
)
# Lesions inside an organ: name, host, HU offset from the host (or absolute HU), radius range (mm).
LESIONS = (
    ("liver_lesion", "liver", -18.0, (11.0, 16.0)),  # the low-contrast one
    ("liver_cyst", "liver", None, (6.0, 9.0)),
    ("lung_nodule", "lung_right", None, (5.0, 7.0)),
)
LESION_HU = {"liver_cyst": 8.0, "lung_nodule": 30.0}


def _rotation_xy(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def streaks(rng, shape_yx, center_yx, count: int, amplitude: float, width: float = 1.0) -> np.ndarray:
    """Alternating bright/dark straight streaks through ``center_yx`` (metal/beam-hardening-like)."""
    yy = np.arange(shape_yx[0], dtype=np.float32)[:, None] - np.float32(center_yx[0])
    xx = np.arange(shape_yx[1], dtype=np.float32)[None, :] - np.float32(center_yx[1])
    field = np.zeros(shape_yx, np.float32)
    for k, angle in enumerate(rng.uniform(0, np.pi, count)):
        distance = np.abs(xx * np.sin(angle) - yy * np.cos(angle))
        sign = 1.0 if k % 2 == 0 else -1.0
        field += sign * amplitude * rng.uniform(0.5, 1.0) * np.exp(-((distance / width) ** 2))
    return field


def render_ct(seed: int, shape, spacing, *, noise_hu: float = 12.0, streak_hu: float = 35.0,
              jitter: float = 0.04, blur_voxels=(0.5, 0.6, 0.6)):
    """Render the phantom: returns (HU image float32, labels int32, {id: name})."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    spacing = np.asarray(spacing, float)
    extent = np.asarray(shape) * spacing
    middle = (np.asarray(shape) - 1) / 2 * spacing
    half_field = min(extent[1], extent[2]) / 2

    def physical(center_xyz, radii_xyz):
        x, y, z = center_xyz
        rx, ry, rz = radii_xyz
        c = np.array([z * extent[0], middle[1] + y * half_field, middle[2] + x * half_field])
        r = np.array([rz * extent[0], ry * half_field, rx * half_field])
        return c, r

    hu = np.full(shape, AIR, np.float32)
    body_scale = rng.uniform(0.95, 1.02, 2)
    body_center, body_radii = physical((0.0, 0.04, 0.5), (0.87 * body_scale[0], 0.62 * body_scale[1], 3.0))
    fat_mm = rng.uniform(0.05, 0.1) * half_field  # 8-16 mm at the default 320 mm field
    muscle_mm = 0.0625 * half_field
    ring_mm = rng.uniform(0.03, 0.05) * half_field
    layers = ((body_radii, FAT), (body_radii - [0, fat_mm, fat_mm], SOFT_TISSUE),
              (body_radii - [0, fat_mm + muscle_mm, fat_mm + muscle_mm], BONE),
              (body_radii - [0, fat_mm + muscle_mm + ring_mm, fat_mm + muscle_mm + ring_mm], SOFT_TISSUE))
    insides = []
    for radii, value in layers:
        box, q = ellipsoid(shape, body_center, radii, None, spacing)
        hu[box][q <= 1] = value
        inside = np.zeros(shape, bool)
        inside[box] = q <= 1
        insides.append(inside)
    hu += np.where(hu == FAT, 8.0, 3.0) * smooth_noise(rng, shape, (0.5, 1.5, 1.5))

    labels = np.where(insides[3], 0, -1).astype(np.int32)  # -1 keeps organs inside the bone ring
    labels[insides[2] & ~insides[3]] = 1
    names: dict[int, str] = {1: "bone_ring"}
    for name, value, texture_hu, center, radii, angle in ORGANS:
        for _attempt in range(20):
            shift = rng.uniform(-jitter, jitter, 3) * [1, 1, 0.5]
            scale = rng.uniform(0.9, 1.1, 3)
            c, r = physical(np.add(center, shift), np.multiply(radii, scale))
            found = ellipsoid(shape, c, r, _rotation_xy(angle + rng.uniform(-0.15, 0.15)), spacing)
            if found is None:
                continue
            box, q = found
            visible = place_behind(labels, box, q <= 1, len(names) + 1, min_visible=0.5, min_size=50)
            if visible is not None:
                names[len(names) + 1] = name
                region = hu[box]
                region[visible] = value + texture_hu * smooth_noise(rng, q.shape, (0.5, 1.2, 1.2))[visible]
                break
    labels[labels < 0] = 0
    spine_id = next((i for i, n in names.items() if n == "spine"), None)
    if spine_id is not None:
        cortex = (labels == spine_id) & ~ndimage.binary_erosion(labels == spine_id, np.ones((1, 3, 3), bool))
        hu[cortex] = BONE

    for name, host, offset, radius_mm in LESIONS:
        host_id = next((i for i, n in names.items() if n == host), None)
        if host_id is None:
            continue
        host_box = ndimage.find_objects((labels == host_id).astype(np.uint8))[0]
        host_box = tuple(slice(max(b.start - 1, 0), b.stop + 1) for b in host_box)
        depth = ndimage.distance_transform_edt(labels[host_box] == host_id, sampling=spacing)
        offset_index = np.array([b.start for b in host_box])
        for _attempt in range(30):
            radius = rng.uniform(*radius_mm)
            candidates = np.argwhere(depth > radius + 2 * spacing.max())
            if candidates.size == 0:
                break
            center = (candidates[rng.integers(len(candidates))] + offset_index) * spacing
            found = ellipsoid(shape, center, [radius * 0.9, radius, radius * rng.uniform(0.8, 1.0)], None, spacing)
            box, q = found
            inside = (q <= 1) & (labels[box] == host_id)
            if inside.sum() < 20 or inside.sum() < (q <= 1).sum():
                continue
            new_id = len(names) + 1
            labels[box][inside] = new_id
            names[new_id] = name
            host_hu = float(np.median(hu[box][inside]))
            value = host_hu + offset if offset is not None else LESION_HU[name]
            hu[box][inside] = value + 4.0 * smooth_noise(rng, q.shape, 1.0)[inside]
            break

    hu = ndimage.gaussian_filter(hu, blur_voxels)  # partial volume / reconstruction kernel
    spine_center = ndimage.center_of_mass(labels == spine_id) if spine_id else (np.asarray(shape) - 1) / 2
    for z in range(shape[0]):
        hu[z] += streaks(rng, shape[1:], spine_center[1:], int(rng.integers(4, 9)), streak_hu)
    noise = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), (0, 0.7, 0.7))
    hu += noise_hu * noise / (noise.std() + 1e-6)
    return hu, labels, names


def ct_phantom(seed: int = 0, shape=(32, 128, 128), spacing=(3.0, 2.5, 2.5), **settings) -> SampleVolume:
    """A CT-like torso (int16 HU, z, y, x): fat, soft tissue, lungs, bone ring, organs and lesions, labelled.

    ``spacing`` is in mm (z, y, x); the affine centres the volume on the world origin.
    """
    if len(shape) != 3 or len(spacing) != 3:
        raise ValueError(f"ct_phantom needs a 3D shape and spacing (z, y, x), got {shape} and {spacing}")
    hu, labels, names = render_ct(seed, shape, spacing, **settings)
    image = np.clip(np.round(hu), -1024, 3071).astype(np.int16)
    origin = -(np.asarray(shape) - 1) / 2 * np.asarray(spacing, float)
    return SampleVolume(
        image=image, labels=labels, spacing=tuple(float(s) for s in spacing),
        affine=spacing_affine(spacing, origin), name="CT phantom", unit="mm", window=CT_WINDOWS["soft-tissue"],
        label_names=names,
        description=("synthetic CT torso in Hounsfield units: body with fat layer, bone ring, spine, lungs, "
                     f"heart, liver, spleen, kidneys, liver lesion (low contrast), cyst, lung nodule; "
                     f"streaks and correlated noise; seed {seed}"),
    )
