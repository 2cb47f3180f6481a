"""Procedural scenes (ruac_training.synthetic): determinism, exact aligned labels, a shifted domain
that differs in statistics but keeps masks aligned, datasets indexable and writable as folders."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from scipy import ndimage, stats

from ruac_training.synthetic import (
    KINDS,
    SyntheticDataset,
    elastic_deform,
    generate_scene,
    generate_volume,
    iter_write_dataset,
    min_object_size,
    read_scene_files,
    write_dataset,
)

SIZE = 160


def grey(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32).mean(axis=-1) if image.ndim == 3 else image.astype(np.float32)


def assert_exact_labels(labels: np.ndarray, min_size: int) -> None:
    """ids 1..N, each one 4-connected piece of at least ``min_size`` pixels."""
    assert labels.dtype == np.int32
    count = int(labels.max())
    np.testing.assert_array_equal(np.unique(labels), np.arange(count + 1))
    for label_id, box in enumerate(ndimage.find_objects(labels), start=1):
        mask = labels[box] == label_id
        assert mask.sum() >= min_size, f"label {label_id}: {mask.sum()} px"
        assert ndimage.label(mask)[1] == 1, f"label {label_id} is in several pieces"


def boundary_gradient(image: np.ndarray, labels: np.ndarray) -> float:
    """Mean gradient magnitude on the label boundaries: high when masks sit on image edges."""
    g = ndimage.gaussian_filter(grey(image), 1.0)
    magnitude = np.hypot(ndimage.sobel(g, 0), ndimage.sobel(g, 1))
    edges = labels != ndimage.grey_erosion(labels, size=3)
    return float(magnitude[edges].mean())


@pytest.fixture(scope="module")
def scenes():
    """Four scenes per kind and domain (SIZE², seeds 0-3)."""
    return {(kind, shifted): [generate_scene(kind, seed, SIZE, shifted) for seed in range(4)]
            for kind in KINDS for shifted in (False, True)}


@pytest.mark.parametrize("shifted", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_scene_other_seed_other_scene(kind, shifted, scenes):
    first = scenes[(kind, shifted)][1]
    again = generate_scene(kind, 1, SIZE, shifted)
    np.testing.assert_array_equal(first.image, again.image)
    np.testing.assert_array_equal(first.labels, again.labels)
    assert first.params == again.params
    other = scenes[(kind, shifted)][2]
    assert not np.array_equal(first.image, other.image)


@pytest.mark.parametrize("shifted", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_labels_are_exact_instance_masks(kind, shifted, scenes):
    minimum = min_object_size((SIZE, SIZE))
    for scene in scenes[(kind, shifted)]:
        assert scene.image.dtype == np.uint8
        assert scene.image.shape[:2] == scene.labels.shape == (SIZE, SIZE)
        assert scene.image.ndim == 2 or scene.image.shape[2] == 3
        assert scene.count >= 1 and scene.params["kind"] == kind
        assert_exact_labels(scene.labels, minimum)
        if not shifted:  # the canvas builds valid labels: nothing needed fixing
            assert scene.params["label_pixels_fixed"] == 0


@pytest.mark.parametrize("shifted", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_masks_sit_on_the_image_edges(kind, shifted, scenes):
    """Label boundaries coincide with image edges; the same labels moved by 6 px do not."""
    aligned = moved = 0.0
    for scene in scenes[(kind, shifted)]:
        aligned += boundary_gradient(scene.image, scene.labels)
        moved += boundary_gradient(scene.image, np.roll(scene.labels, (6, -6), axis=(0, 1)))
    assert aligned > 1.3 * moved


def test_fluorescent_nuclei_differ_from_the_ring_around_them():
    checked = good = 0
    for seed in range(6):
        scene = generate_scene("nuclei", seed, 192)
        image = grey(scene.image)
        sign = -1.0 if scene.params["dark_on_bright"] else 1.0
        objects = scene.labels > 0
        noise = np.std(image - ndimage.median_filter(image, 3))
        for label_id in range(1, scene.count + 1):
            mask = scene.labels == label_id
            ring = ndimage.binary_dilation(mask, iterations=4) & ~ndimage.binary_dilation(objects, iterations=1)
            if ring.sum() < 10:
                continue  # buried inside a cluster: no background around it
            checked += 1
            good += bool(sign * (image[mask].mean() - image[ring].mean()) > 0.5 * noise)
    assert checked > 20
    assert good >= 0.9 * checked


def _features(scene):
    """(intensity spread, global object/background contrast, colourfulness, median per-object contrast)."""
    g = grey(scene.image) / 255
    objects = scene.labels > 0
    background = ~ndimage.binary_dilation(objects, iterations=3)
    contrast = abs(g[objects].mean() - g[background].mean()) / (g.std() + 1e-6) if background.any() else 0.0
    colour = scene.image.std(axis=-1).mean() / 255 if scene.image.ndim == 3 else 0.0
    # per object: colour distance between the object's mean and the mean of a 3 px ring around it
    image = scene.image.astype(np.float32)
    image = image if image.ndim == 3 else image[..., None]
    spread = image.reshape(-1, image.shape[-1]).std(axis=0).mean() + 1.0
    separations = []
    for label_id in range(1, scene.count + 1):
        mask = scene.labels == label_id
        ring = ndimage.binary_dilation(mask, iterations=3) & ~mask
        separations.append(np.linalg.norm(image[mask].mean(0) - image[ring].mean(0)) / spread)
    return g.std(), contrast, colour, float(np.median(separations))


def test_shifted_domain_differs_in_statistics_but_stays_segmentable():
    train_scenes = [generate_scene(k, seed, 96, False) for k in KINDS for seed in range(10)]
    shifted_scenes = [generate_scene(k, seed, 96, True) for k in KINDS for seed in range(10)]
    train = np.array([_features(s) for s in train_scenes])
    shifted = np.array([_features(s) for s in shifted_scenes])
    # intensity spread (compressed range) and object contrast differ in distribution; more colour
    for column in (0, 1):
        assert stats.ks_2samp(train[:, column], shifted[:, column]).pvalue < 0.01
    assert shifted[:, 0].mean() < train[:, 0].mean() and shifted[:, 1].mean() < train[:, 1].mean()
    assert shifted[:, 2].mean() > 2 * train[:, 2].mean()
    # still segmentable: in nearly every scene the objects stand out from the ring around them
    assert np.mean(shifted[:, 3] > 0.4) >= 0.9 and np.mean(train[:, 3] > 0.4) >= 0.9
    # and every shifted scene records its deformation and new degradations
    for scene in shifted_scenes:
        style = scene.params["style"]
        assert style["elastic"] > 0 and style["noise"] in ("speckle", "salt_pepper", "stripes")


def test_elastic_deformation_moves_image_and_labels_together():
    rng = np.random.default_rng(0)
    image = np.zeros((128, 128, 3), np.float32)
    labels = np.zeros((128, 128), np.int32)
    for label_id, (row, col) in enumerate([(30, 30), (30, 90), (90, 60)], start=1):
        image[row - 8: row + 8, col - 8: col + 8] = 1.0  # planted markers
        labels[row - 8: row + 8, col - 8: col + 8] = label_id
    warped_image, warped_labels = elastic_deform(rng, image, labels, amplitude=6.0, grid=4)
    assert warped_labels.dtype == np.int32 and set(np.unique(warped_labels)) == {0, 1, 2, 3}
    assert not np.array_equal(warped_labels, labels)  # something moved
    moved = [np.abs(np.subtract(ndimage.center_of_mass(warped_labels == i), ndimage.center_of_mass(labels == i))).max()
             for i in (1, 2, 3)]
    assert max(moved) > 1.0
    bright = warped_image[..., 0] > 0.5
    marked = warped_labels > 0
    assert (bright & marked).sum() / (bright | marked).sum() > 0.9
    np.testing.assert_array_equal(warped_image[..., 0], warped_image[..., 2])  # channels warp alike


def test_objects_vary_widely_in_size(scenes):
    fractions = [np.bincount(s.labels.ravel())[1:] / s.labels.size for k in KINDS for s in scenes[(k, False)]]
    fractions = np.concatenate(fractions)
    assert fractions.min() < 0.01 and fractions.max() > 0.15


def test_sizes_and_bad_arguments():
    wide = generate_scene("cells", 0, (128, 224))
    assert wide.image.shape[:2] == wide.labels.shape == (128, 224)
    with pytest.raises(ValueError, match="unknown scene kind"):
        generate_scene("galaxies", 0)
    with pytest.raises(ValueError, match="at least 64"):
        generate_scene("nuclei", 0, 16)


def test_scene_time_on_one_core():
    generate_scene("nuclei", 100, 256)  # warm caches
    start = time.process_time()
    for seed, kind in enumerate(KINDS * 2):
        generate_scene(kind, seed, 256)
    assert (time.process_time() - start) / (2 * len(KINDS)) < 0.1


def test_dataset_items_depend_only_on_seed_and_index():
    dataset = SyntheticDataset(12, seed=7, size=128)
    assert len(dataset) == 12
    late = dataset[9]
    fresh = SyntheticDataset(12, seed=7, size=128)
    for index in range(12):
        fresh[index]
    np.testing.assert_array_equal(late.image, fresh[9].image)
    np.testing.assert_array_equal(dataset[-3].labels, late.labels)
    assert late.params["index"] == 9
    assert len({dataset.plan(i)[0] for i in range(12)}) >= 3  # kinds are mixed
    assert not np.array_equal(SyntheticDataset(12, seed=8, size=128)[9].image, late.image)
    with pytest.raises(IndexError):
        dataset[12]


def test_dataset_kinds_weights_and_size_range():
    only_coins = SyntheticDataset(5, seed=1, kinds=["coins"], size=128)
    assert {only_coins[i].kind for i in range(5)} == {"coins"}
    weighted = SyntheticDataset(200, seed=1, kinds={"ct": 3.0, "shapes": 1.0})
    counts = {k: sum(weighted.plan(i)[0] == k for i in range(200)) for k in ("ct", "shapes")}
    assert counts["ct"] > 2 * counts["shapes"] > 0
    ranged = SyntheticDataset(6, seed=2, kinds=["shapes"], size_range=(96, 200))
    for i in range(6):
        height, width = ranged[i].labels.shape
        assert 96 <= height <= 200 and 96 <= width <= 200
    with pytest.raises(ValueError, match="kinds"):
        SyntheticDataset(3, kinds=["dogs"])


def test_write_dataset_reads_back(tmp_path):
    folder = write_dataset(tmp_path / "synthetic", 4, seed=5, size=128)
    images = sorted(p.name for p in (folder / "images").iterdir())
    assert images == ["0000.png", "0001.png", "0002.png", "0003.png"]
    assert sorted(p.name for p in (folder / "masks").iterdir()) == images
    dataset = SyntheticDataset(4, seed=5, size=128)
    for index in range(4):
        image, labels = read_scene_files(folder, index)
        np.testing.assert_array_equal(labels, dataset[index].labels)
        np.testing.assert_array_equal(image, dataset[index].image)
    manifest = json.loads((folder / "scenes.json").read_text())
    assert manifest["n"] == 4 and [s["file"] for s in manifest["scenes"]] == images
    with pytest.raises(FileExistsError, match="overwrite"):
        write_dataset(folder, 2, seed=5, size=128)


def test_write_dataset_scores_at_most_max_objects_per_image(tmp_path):
    folder = write_dataset(tmp_path / "few", 3, seed=5, size=128, max_objects=2)
    dataset = SyntheticDataset(3, seed=5, size=128)
    manifest = json.loads((folder / "scenes.json").read_text())
    for index in range(3):
        image, labels = read_scene_files(folder, index)
        np.testing.assert_array_equal(image, dataset[index].image)  # the others stay in the image
        ids = sorted(np.unique(labels[labels > 0]))
        assert ids == list(range(1, len(ids) + 1)) and 1 <= len(ids) <= 2  # relabelled 1…k
        full = dataset[index].labels
        for kept in ids:  # each kept mask is one whole object of the scene
            assert len(np.unique(full[labels == kept])) == 1 and (full == full[labels == kept][0]).sum() == (labels == kept).sum()
        assert manifest["scenes"][index]["objects"] == len(ids)


def test_writing_yields_progress_and_can_stop(tmp_path):
    progress = []
    for done, total in iter_write_dataset(tmp_path, 10, seed=0, size=96):
        progress.append((done, total))
        if done == 3:
            break
    assert progress == [(1, 10), (2, 10), (3, 10)]
    assert len(list((tmp_path / "masks").iterdir())) == 3


@pytest.mark.parametrize("kind", ["nuclei", "ct"])
def test_volumes_are_seeded_valid_and_shiftable(kind):
    shape = (10, 64, 64) if kind == "nuclei" else (12, 64, 64)
    volume = generate_volume(kind, 3, shape=shape)
    again = generate_volume(kind, 3, shape=shape)
    np.testing.assert_array_equal(volume.image, again.image)
    assert volume.image.dtype == (np.uint16 if kind == "nuclei" else np.int16)
    assert volume.image.shape == volume.labels.shape == shape
    assert_exact_labels_3d(volume.labels)
    shifted = generate_volume(kind, 3, shape=shape, shifted=True)
    assert_exact_labels_3d(shifted.labels)
    assert not np.array_equal(shifted.labels, volume.labels)  # deformed
    # lower contrast-to-noise: object vs background difference over the background's spread
    def contrast_to_noise(scene):
        image = scene.image.astype(float)
        objects = scene.labels > 0
        core = ndimage.binary_erosion(objects, iterations=1)
        background = ~ndimage.binary_dilation(objects, iterations=3) & (image > image.min() + 1)
        return abs(image[core].mean() - image[background].mean()) / image[background].std()
    assert contrast_to_noise(shifted) < contrast_to_noise(volume)


def assert_exact_labels_3d(labels):
    count = int(labels.max())
    assert count >= 1
    np.testing.assert_array_equal(np.unique(labels), np.arange(count + 1))
    for label_id, box in enumerate(ndimage.find_objects(labels), start=1):
        assert ndimage.label(labels[box] == label_id)[1] == 1
