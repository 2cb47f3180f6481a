"""Sample volumes (napari_ruac.samples): documented shapes/dtypes/geometry, exact labels, HU ranges."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import ndimage

from napari_ruac.samples import SampleVolume, ct_phantom, nuclei_image, nuclei_stack, relabel_sequential


@pytest.fixture(scope="module")
def stack() -> SampleVolume:
    return nuclei_stack(seed=0)


@pytest.fixture(scope="module")
def phantom() -> SampleVolume:
    return ct_phantom(seed=0)


def assert_exact_labels(labels: np.ndarray, min_size: int) -> None:
    """ids are 1..N, each one face-connected piece of at least ``min_size`` voxels."""
    assert labels.dtype == np.int32
    ids = np.unique(labels)
    count = int(labels.max())
    assert count >= 1
    np.testing.assert_array_equal(ids, np.arange(count + 1))
    for label_id, box in enumerate(ndimage.find_objects(labels), start=1):
        mask = labels[box] == label_id
        assert mask.sum() >= min_size, f"label {label_id} has only {mask.sum()} voxels"
        assert ndimage.label(mask)[1] == 1, f"label {label_id} is in several pieces"


def test_nuclei_stack_has_the_documented_form(stack):
    assert stack.image.shape == (24, 128, 128) and stack.image.dtype == np.uint16
    assert stack.labels.shape == stack.image.shape
    assert stack.spacing == (2.0, 0.5, 0.5)
    np.testing.assert_allclose(stack.affine, np.diag([2.0, 0.5, 0.5, 1.0]))
    assert stack.window[0] < stack.window[1]
    assert stack.unit == "µm" and stack.name and stack.description
    assert_exact_labels(stack.labels, min_size=30)
    assert stack.labels.max() >= 15  # a populated stack, not one blob


def test_nuclei_are_brighter_than_the_background_around_them(stack):
    image = stack.image.astype(float)
    for label_id, box in enumerate(ndimage.find_objects(stack.labels), start=1):
        mask = stack.labels == label_id
        ring = ndimage.binary_dilation(mask, iterations=3) & (stack.labels == 0)
        assert image[mask].mean() > image[ring].mean() + 50, f"nucleus {label_id} does not stand out"


def test_nuclei_touch_and_blur_more_along_z(stack):
    # touching: some voxel of one nucleus has a face-neighbour in another
    touching = sum(
        np.count_nonzero((stack.labels[(slice(None),) * axis + (slice(1, None),)] > 0)
                         & (stack.labels[(slice(None),) * axis + (slice(None, -1),)] > 0)
                         & (stack.labels[(slice(None),) * axis + (slice(1, None),)]
                            != stack.labels[(slice(None),) * axis + (slice(None, -1),)]))
        for axis in range(3))
    assert touching > 0
    # the PSF spreads a nucleus further (in µm) along z than in-plane: compare edge widths
    image = stack.image.astype(float)
    spacing = np.asarray(stack.spacing)
    gradients = [np.abs(np.diff(image, axis=a)).mean() / spacing[a] for a in range(3)]
    assert gradients[0] < gradients[1] and gradients[0] < gradients[2]


def test_samples_are_seeded():
    a, b, c = nuclei_image(seed=3), nuclei_image(seed=3), nuclei_image(seed=4)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)
    p1, p2 = ct_phantom(seed=5, shape=(12, 64, 64)), ct_phantom(seed=5, shape=(12, 64, 64))
    np.testing.assert_array_equal(p1.image, p2.image)
    assert not np.array_equal(p1.image, ct_phantom(seed=6, shape=(12, 64, 64)).image)


def test_nuclei_image_is_2d_with_exact_labels():
    sample = nuclei_image(seed=1)
    assert sample.image.shape == (256, 256) and sample.image.dtype == np.uint16
    assert sample.spacing == (0.5, 0.5) and sample.affine.shape == (3, 3)
    assert_exact_labels(sample.labels, min_size=20)
    assert sample.labels.max() >= 20


def test_ct_phantom_geometry_and_labels(phantom):
    assert phantom.image.shape == (32, 128, 128) and phantom.image.dtype == np.int16
    assert phantom.spacing == (3.0, 2.5, 2.5) and phantom.unit == "mm"
    assert phantom.window == (-160.0, 240.0)
    # affine: scale = spacing, the volume centred on the world origin
    np.testing.assert_allclose(np.diag(phantom.affine)[:3], phantom.spacing)
    centre = phantom.affine @ np.r_[(np.asarray(phantom.image.shape) - 1) / 2, 1.0]
    np.testing.assert_allclose(centre[:3], 0, atol=1e-9)
    assert_exact_labels(phantom.labels, min_size=20)
    assert set(phantom.label_names) == set(range(1, phantom.labels.max() + 1))
    expected = {"liver", "liver_lesion", "lung_left", "lung_right", "bone_ring", "spine"}
    assert expected <= set(phantom.label_names.values())


def _median_hu(sample, name):
    label_id = next(i for i, n in sample.label_names.items() if n == name)
    return float(np.median(sample.image[sample.labels == label_id]))


def test_ct_phantom_hounsfield_ranges(phantom):
    image = phantom.image.astype(float)
    assert abs(np.median(image[:, :4, :4]) + 1000) < 40  # air in the corners
    assert -850 < _median_hu(phantom, "lung_left") < -750
    assert -850 < _median_hu(phantom, "lung_right") < -750
    assert _median_hu(phantom, "bone_ring") > 500
    assert 45 < _median_hu(phantom, "liver") < 75
    # fat: between the skin and the muscle, unlabelled, around -100
    body = image > -500
    skin_band = body & ~ndimage.binary_erosion(body, np.ones((1, 3, 3), bool), iterations=3) & (phantom.labels == 0)
    assert -130 < np.median(image[ndimage.binary_erosion(skin_band, np.ones((1, 2, 2), bool))]) < -60
    # the liver lesion is a low-contrast one: darker than the liver by 10-30 HU
    contrast = _median_hu(phantom, "liver") - _median_hu(phantom, "liver_lesion")
    assert 8 < contrast < 30


def test_ct_lesions_sit_inside_their_organ(phantom):
    names = {n: i for i, n in phantom.label_names.items()}
    lesion = phantom.labels == names["liver_lesion"]
    shell = ndimage.binary_dilation(lesion, iterations=1) & ~lesion
    assert np.mean(phantom.labels[shell] == names["liver"]) > 0.9


def test_slice_returns_a_2d_sample_with_renumbered_labels(phantom):
    middle = phantom.slice()
    assert middle.ndim == 2 and middle.image.shape == (128, 128)
    assert middle.spacing == (2.5, 2.5) and middle.affine.shape == (3, 3)
    ids = np.unique(middle.labels)
    np.testing.assert_array_equal(ids, np.arange(ids.size))
    z = int(middle.name.split("z=")[1])
    for new_id, name in middle.label_names.items():
        old_id = next(i for i, n in phantom.label_names.items() if n == name)
        np.testing.assert_array_equal(middle.labels == new_id, phantom.labels[z] == old_id)
    with pytest.raises(IndexError):
        phantom.slice(99)
    with pytest.raises(ValueError, match="3D"):
        middle.slice(0)


def test_relabel_sequential_keeps_objects_and_order():
    labels = np.array([[0, 7, 7], [3, 0, 9]], np.int32)
    np.testing.assert_array_equal(relabel_sequential(labels), [[0, 2, 2], [1, 0, 3]])


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="3D shape"):
        nuclei_stack(shape=(64, 64))
    with pytest.raises(ValueError, match="2D shape"):
        nuclei_image(shape=(4, 64, 64))


@pytest.mark.parametrize("make", [nuclei_stack, ct_phantom, nuclei_image])
def test_each_sample_generates_in_under_a_second(make):
    start = time.process_time()
    make(seed=11)
    assert time.process_time() - start < 1.0
