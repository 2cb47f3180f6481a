"""Dataset loaders for the four on-disk layouts, object extraction, splits, samplers and prompts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ruac_training.data import (
    DataError, FolderSource, MoseSource, NiftiSource, ResumableSampler, TiffStackSource, build_datasets,
    build_loader, extract_objects, split_items,
)
from napari_ruac.core.intensity import ct_normalise, ct_range
from napari_ruac.core.objects import connected_objects
from ruac_training.data.dataset import to_tensors
from ruac_training.prompts import corrective_clicks, initial_prompts, mask_boxes, noisy_boxes
from training_support import write_blob_folder


def _square(shape, y0, y1, x0, x1):
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


# ---- objects ------------------------------------------------------------------------------------
def test_components_rule_closes_gaps_ands_with_original_and_drops_small():
    mask = _square((40, 40), 5, 15, 5, 12) | _square((40, 40), 5, 15, 13, 20)  # a 1-px gap at column 12
    mask |= _square((40, 40), 30, 33, 30, 33)  # 9 px: too small
    objects = connected_objects(mask, min_area=20)
    assert len(objects) == 1  # closing bridged the gap: one object
    assert np.array_equal(objects[0], mask & ~_square((40, 40), 30, 33, 30, 33))  # AND: the gap stays background


def test_extract_objects_modes():
    labels = np.zeros((30, 30), np.uint16)
    labels[2:10, 2:10] = 7
    labels[15:25, 15:25] = 300
    objects = extract_objects(labels, "auto", min_area=10)
    assert len(objects) == 2 and objects[1].sum() == 100
    rgb = np.zeros((30, 30, 3), np.uint8)
    rgb[2:10, 2:10] = (255, 0, 0)
    rgb[15:25, 15:25] = (0, 0, 255)
    rgb[15:25, 26:29] = (255, 0, 0)  # the same colour twice, apart: two objects (components within a colour)
    colour_objects = extract_objects(rgb, "auto", min_area=10)
    assert sorted(o.sum() for o in colour_objects) == [30, 64, 100]
    binary = ((labels > 0) * 255).astype(np.uint8)
    assert len(extract_objects(binary, "auto", min_area=10)) == 2  # binary → connected components
    with pytest.raises(DataError, match="colour"):
        extract_objects(labels, "colour")


# ---- the four layouts ---------------------------------------------------------------------------------
def test_folder_source_reads_png_and_16bit_tiff_labels(tmp_path):
    import tifffile

    write_blob_folder(tmp_path, count=2, size=64, objects=2)
    labels = np.array(Image.open(tmp_path / "masks" / "scene01.png")).astype(np.uint16) * 1000
    tifffile.imwrite(tmp_path / "masks" / "scene01.tif", labels)
    (tmp_path / "masks" / "scene01.png").unlink()
    source = FolderSource(tmp_path, min_area=5)
    assert len(source) == 2
    sample = source.load(1)
    assert sample.image.shape == (64, 64, 3) and sample.image.dtype == np.float32 and sample.image.max() <= 1
    assert len(sample.objects) == 2 and sample.objects.shape[1:] == (64, 64)
    assert np.array_equal(sample.objects.any(0), labels > 0)


def test_folder_source_rejects_stacks_and_nan_with_a_clear_error(tmp_path):
    import tifffile

    for name in ("images", "masks"):
        (tmp_path / name).mkdir()
    tifffile.imwrite(tmp_path / "images" / "stack.tif", np.zeros((5, 32, 32), np.float32))
    tifffile.imwrite(tmp_path / "images" / "nan.tif", np.full((32, 32), np.nan, np.float32))
    for stem in ("stack", "nan"):
        tifffile.imwrite(tmp_path / "masks" / f"{stem}.tif", np.ones((32, 32), np.uint8))
    source = FolderSource(tmp_path, intensity=[0, 1])
    with pytest.raises(DataError, match="NaN"):
        source.load(0)
    with pytest.raises(DataError, match="tiff_stack"):
        source.load(1)


def test_tiff_stack_source_keeps_foreground_slices(tmp_path):
    import tifffile

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    rng = np.random.default_rng(0)
    volume = rng.integers(0, 4000, (6, 32, 32)).astype(np.uint16)
    labels = np.zeros((6, 32, 32), np.uint8)
    labels[1, 4:14, 4:14] = 1
    labels[4, 10:20, 10:30] = 2
    tifffile.imwrite(tmp_path / "images" / "stack.tif", volume)
    tifffile.imwrite(tmp_path / "masks" / "stack.tif", labels)
    source = TiffStackSource(tmp_path, min_area=5)
    assert [source.name(i) for i in range(len(source))] == ["stack[1]", "stack[4]"]
    sample = source.load(1)
    assert np.array_equal(sample.objects[0], labels[4] == 2)
    lo, hi = np.percentile(volume, (0.5, 99.5))  # one range for the whole stack
    np.testing.assert_allclose(sample.image[..., 0], np.clip((volume[4] - lo) / (hi - lo), 0, 1), atol=1e-5)


def test_nifti_source_slices_axially_with_ct_normalisation(tmp_path):
    import nibabel as nib

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    rng = np.random.default_rng(1)
    ct = rng.normal(40, 300, (24, 20, 5)).astype(np.int16)  # (X, Y, Z) as NIfTI stores it
    seg = np.zeros(ct.shape, np.uint8)
    seg[3:12, 4:15, 2] = 1
    seg[14:20, 2:8, 2] = 2
    seg[5:10, 5:10, 4] = 1
    nib.save(nib.Nifti1Image(ct, np.eye(4)), tmp_path / "images" / "case.nii.gz")
    nib.save(nib.Nifti1Image(seg, np.eye(4)), tmp_path / "labels" / "case.nii.gz")
    source = NiftiSource(tmp_path, window=[-200, 400], min_area=5)
    assert [source.name(i) for i in range(len(source))] == ["case[2]", "case[4]"]
    sample = source.load(0)
    cached = NiftiSource(tmp_path, window=[-200, 400], min_area=5, cache=tmp_path / "cache").load(0)
    assert len(list((tmp_path / "cache").glob("case-*.npy"))) == 2  # decoded once, memory-mapped after
    assert np.array_equal(cached.image, sample.image) and np.array_equal(cached.objects, sample.objects)
    assert sample.image.shape == (20, 24, 3)  # axial slice as (Y, X)
    assert len(sample.objects) == 2 and np.array_equal(sample.objects[1], seg[:, :, 2].T == 2)
    # reference: window, then percentiles of the foreground voxels, then z-score → [0, 1]
    values = np.clip(ct[seg > 0].astype(float), -200, 400)
    lo, hi = np.percentile(values, (0.05, 99.95))
    assert ct_range(np.transpose(ct, (2, 1, 0)), np.transpose(seg, (2, 1, 0)) > 0, window=(-200, 400)) == pytest.approx((lo, hi))
    np.testing.assert_allclose(sample.image[..., 0], np.clip((ct[:, :, 2].T - lo) / (hi - lo), 0, 1), atol=1e-5)
    z = ct_normalise(ct, seg > 0, window=(-200, 400))
    assert abs(z[seg > 0].mean()) < 1e-4 and abs(z[seg > 0].std() - 1) < 1e-3


def test_mose_source_uses_the_first_annotated_frame(tmp_path):
    for video, shift in (("cats", 0), ("dogs", 5)):
        (tmp_path / "JPEGImages" / video).mkdir(parents=True)
        (tmp_path / "Annotations" / video).mkdir(parents=True)
        for frame in range(2):
            Image.fromarray(np.full((40, 50, 3), 90 + frame, np.uint8)).save(tmp_path / "JPEGImages" / video / f"{frame:05d}.jpg")
            ids = np.zeros((40, 50), np.uint8)
            ids[5 + shift:15 + shift, 5:20] = 1
            ids[20:30, 25:45] = 2
            ids[0:2, :] = 255  # void
            palette = Image.fromarray(ids, mode="P")
            palette.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [255] * (256 * 3 - 9))
            palette.save(tmp_path / "Annotations" / video / f"{frame:05d}.png")
    source = MoseSource(tmp_path, min_area=5)
    assert [source.name(i) for i in range(2)] == ["cats", "dogs"]
    sample = source.load(1)
    assert len(sample.objects) == 2 and sample.objects[0][5 + 5:15 + 5, 5:20].all() and sample.objects[0].sum() == 150
    assert abs(sample.image.mean() - 90 / 255) < 0.02  # frame 00000, not 00001


def test_synthetic_source_reads_the_generator():
    pytest.importorskip("ruac_training.synthetic")
    from ruac_training import synthetic

    if not hasattr(synthetic, "SyntheticDataset"):
        pytest.fail("ruac_training.synthetic has no SyntheticDataset yet: the 'synthetic' dataset type cannot load")
    from ruac_training.data import SyntheticSource

    source = SyntheticSource(n=3, seed=2, size=96, min_area=5)
    sample = source.load(0)
    scene = synthetic.SyntheticDataset(n=3, seed=2, size=96)[0]
    assert sample.image.shape == (96, 96, 3) and 0 <= sample.image.min() and sample.image.max() <= 1
    assert np.array_equal(sample.objects.any(0), np.isin(scene.labels, [i for i in np.unique(scene.labels) if i > 0 and (scene.labels == i).sum() > 5]))


# ---- dataset, split, sampler ------------------------------------------------------------------
def test_dataset_items_are_seeded_per_index_and_epoch(tmp_path):
    write_blob_folder(tmp_path, count=4, size=64, objects=3)
    data = {"train": [{"type": "folder", "root": str(tmp_path)}], "val_fraction": 0.25, "split_seed": 0,
            "max_objects": 2, "min_area": 5, "flip": {"horizontal": 0.5, "vertical": 0.5}}
    train, val = build_datasets(data, 64, seed=3)
    assert len(train) == 3 and len(val) == 1
    first = train[0]
    assert first["image"].shape == (3, 64, 64) and first["masks"].shape == (2, 64, 64) and first["valid"].all()
    assert torch.equal(train[0]["image"], first["image"])  # same (seed, epoch, index) → same item
    epochs = [train.__getitem__(0) for train.epoch in range(6)]
    assert any(not torch.equal(e["image"], first["image"]) for e in epochs[1:])  # flips differ per epoch
    train.set_epoch(1)
    loaders = [build_loader(train, 1, workers, False, 0, 1, 3, train=True)[0] for workers in (0, 2)]
    batches = [[b["image"] for b in loader] for loader in loaders]
    assert all(torch.equal(a, b) for a, b in zip(*batches))  # workers don't change the data


@pytest.mark.parametrize("side", [100, 330, 517])
def test_resized_targets_stay_on_the_image(side):
    """Masks are resized like the image: a disk keeps its centre and area (old "nearest": +½ model pixel)."""
    yy, xx = np.mgrid[:side, :side]
    centre = (0.37 * side, 0.61 * side)
    radius = 0.2 * side
    disk = (yy + 0.5 - centre[0]) ** 2 + (xx + 0.5 - centre[1]) ** 2 <= radius**2
    image = np.repeat(disk[..., None], 3, axis=2).astype(np.float32)
    out = to_tensors(image, disk[None], 256, max_objects=2)
    mask = out["masks"][0].numpy().astype(bool)
    scale = 256 / side
    ys, xs = np.nonzero(mask)
    assert abs((ys.mean() + 0.5) - centre[0] * scale) < 0.15
    assert abs((xs.mean() + 0.5) - centre[1] * scale) < 0.15
    assert abs(mask.sum() / (np.pi * (radius * scale) ** 2) - 1) < 0.03
    assert out["valid"].tolist() == [True, False]


def test_split_keeps_volumes_whole_and_is_deterministic():
    class Fake:
        def __init__(self, groups):
            self.groups = groups

        def __len__(self):
            return len(self.groups)

        def group(self, i):
            return self.groups[i]

    source = Fake([f"vol{i // 3}" for i in range(30)])  # 10 volumes × 3 slices
    train, val = split_items([source], 0.2, seed=0)
    assert len(val) == 6 and len(train) == 24
    assert not {source.group(i) for _, i in val} & {source.group(i) for _, i in train}
    assert split_items([source], 0.2, seed=0) == (train, val)


def test_sampler_shards_ranks_and_resumes_mid_epoch():
    shards = [ResumableSampler(10, rank, 3, seed=1) for rank in range(3)]
    for s in shards:
        s.set_epoch(2)
    indices = [list(s) for s in shards]
    assert sorted(sum(indices, []))[:10] != [] and set(sum(indices, [])) == set(range(10))
    assert all(len(i) == 4 for i in indices)
    shards[0].set_epoch(2, start=2)
    assert list(shards[0]) == indices[0][2:] and len(shards[0]) == 2


# ---- prompts ---------------------------------------------------------------------------------------
def test_box_noise_follows_sams_schedule():
    masks = torch.zeros(2, 128, 128, dtype=torch.bool)
    masks[0, 10:30, 20:60] = True  # 40 × 20 box: noise ≤ 4 px in x, 2 px in y
    masks[1, 0:128, 0:128] = True  # full image: noise capped at 20 px, clipped to the image
    boxes = mask_boxes(masks)
    assert boxes.tolist() == [[20, 10, 60, 30], [0, 0, 128, 128]]
    generator = torch.Generator().manual_seed(0)
    noisy = torch.stack([noisy_boxes(boxes, 128, 0.1, 20, generator) for _ in range(200)])
    delta = (noisy - boxes).abs()
    assert delta[:, 0, [0, 2]].max() <= 4 and delta[:, 0, [1, 3]].max() <= 2
    assert delta[:, 0].max() > 1  # it is noisy
    assert noisy[:, 1].min() >= 0 and noisy[:, 1].max() <= 128 and delta[:, 1].max() <= 20


def test_initial_clicks_fall_inside_and_corrections_target_errors():
    masks = torch.zeros(64, 32, 32, dtype=torch.bool)
    masks[:, 8:20, 4:12] = True
    generator = torch.Generator().manual_seed(0)
    groups = initial_prompts(masks, 0.5, 0.1, 20, generator)
    assert sorted(torch.cat([g.rows for g in groups]).tolist()) == list(range(64)) and len(groups) == 2
    clicks = next(g for g in groups if not g.is_box)
    assert clicks.multimask and clicks.labels.eq(1).all()
    xy = clicks.points[:, 0].long()
    assert masks[0][xy[:, 1], xy[:, 0]].all()
    # corrective clicks on an 8×8 low-res grid (model size 32): FN → positive, FP → negative
    target = torch.zeros(3, 8, 8, dtype=torch.bool)
    target[:, 2:5, 1:3] = True
    predicted = target.clone()
    predicted[0, 2:5, 1:3] = False  # all false negatives
    predicted[1, 6:8, 6:8] = True  # false positives only
    points, labels = corrective_clicks(target, predicted, 32, generator)
    assert labels[:, 0].tolist() == [1, 0, 0]
    cell = (points[:, 0] + 0.5) / 4 - 0.5
    assert target[0, int(cell[0, 1]), int(cell[0, 0])] and predicted[1, int(cell[1, 1]), int(cell[1, 0])]
    assert not target[2, int(cell[2, 1]), int(cell[2, 0])]  # no error: a negative click in the background
