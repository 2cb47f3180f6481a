"""Test-time augmentation: exact geometry, prompts that move with the image, the identity set
reproduces plain SAM2, seeded sampling within the paper's ranges."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from napari_ruac.core.boxes import tight_box
from napari_ruac import ImagePredictor
from napari_ruac.uq import get_method
from napari_ruac.uq.augmentations import (
    AUGMENTATION_SETS,
    Augmentation,
    content_side,
    sample_augmentations,
    unwarp_maps,
    warp_boxes,
    warp_image,
    warp_maps,
    warp_points,
)

S = 256


def _ramp(size: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij")
    return (0.7 * xx - 0.4 * yy + 3.0)[None, None]


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("side", [None, 192, 226])
def test_output_maps_return_exactly_to_the_original_frame(flip, side):
    """Image → augmented image → decoder grid (S/4, 4×4 means) → un-augmented: a linear ramp
    comes back exactly (bilinear resampling is exact on linear functions, so any half-pixel
    misalignment would show as an error of ≥ 0.2 here)."""
    aug = Augmentation(S, flip=flip, content_size=side)
    image = _ramp(S)
    low = F.avg_pool2d(warp_image(image, aug), 4)[:, 0]
    back = unwarp_maps(low, aug)[0]
    expected = F.avg_pool2d(image, 4)[0, 0]
    # trust only pixels whose source lies ≥ 2 low-res pixels inside the zoomed content
    g = (torch.arange(S // 4, dtype=torch.float64) + 0.5) / (S // 4) * 2 - 1
    inside = (g.abs() * aug.scale) < aug.scale - 2 * 2 / (S // 4)
    keep = inside[:, None] & inside[None, :]
    assert keep.sum() > 0.5 * keep.numel()
    torch.testing.assert_close(back[keep], expected[keep], atol=1e-6, rtol=0)


def test_flip_round_trip_is_bit_exact_and_zoom_maps_invert():
    maps = torch.rand(2, 1, 64, 64, dtype=torch.float64)
    flip = Augmentation(S, flip=True)
    assert torch.equal(unwarp_maps(warp_maps(maps, flip)[:, 0], flip), maps[:, 0])
    zoom = Augmentation(S, flip=True, content_size=content_side(S, 0.8))
    linear = _ramp(64)
    back = unwarp_maps(warp_maps(linear, zoom)[:, 0], zoom)[0]
    torch.testing.assert_close(back[4:-4, 4:-4], linear[0, 0, 4:-4, 4:-4], atol=1e-6, rtol=0)


@pytest.mark.parametrize("flip", [False, True])
def test_prompts_move_with_the_image(flip):
    aug = Augmentation(S, flip=flip, content_size=content_side(S, 0.75))
    mask = torch.zeros(1, 1, S, S, dtype=torch.float64)
    x0, y0, x1, y1 = 40, 60, 150, 201  # pixel indices of the first and last object pixels
    mask[..., y0 : y1 + 1, x0 : x1 + 1] = 1
    moved = warp_image(mask, aug)[0, 0] > 0.5
    ys, xs = torch.nonzero(moved, as_tuple=True)
    found = torch.tensor([xs.min(), ys.min(), xs.max(), ys.max()], dtype=torch.float64)
    box = warp_boxes(torch.tensor([[x0, y0, x1, y1]], dtype=torch.float64), aug)[0]
    assert torch.allclose(box, found, atol=1.0), (box, found)
    centre = warp_points(torch.tensor([[(x0 + x1) / 2, (y0 + y1) / 2]], dtype=torch.float64), aug)[0]
    assert torch.allclose(centre, found.view(2, 2).mean(0), atol=1.0)


def test_sampled_augmentations_are_seeded_and_within_the_paper_ranges():
    spec = AUGMENTATION_SETS["train"]
    augs = sample_augmentations(spec, 200, np.random.default_rng(0), S)
    again = sample_augmentations(spec, 200, np.random.default_rng(0), S)
    assert augs == again and augs != sample_augmentations(spec, 200, np.random.default_rng(1), S)
    assert 60 < sum(a.flip for a in augs) < 140
    assert all(0.74 <= a.scale <= 1.0 and (S - a.content_size) % 2 == 0 for a in augs)
    ops = [op for a in augs for op in a.colour]
    for name, low, high in (("brightness", 0.9, 1.1), ("contrast", 0.95, 1.05), ("saturation", 0.95, 1.05)):
        values = [v for n, v in ops if n == name]
        assert values and low <= min(values) and max(values) <= high
    assert not any(n == "hue" for n, _ in ops)
    greys = sum(any(n == "grey" for n, _ in a.colour) for a in augs)
    assert 1 <= greys <= 25  # p = .05
    hues = [v for a in sample_augmentations(AUGMENTATION_SETS["hue"], 50, np.random.default_rng(0), S) for n, v in a.colour if n == "hue"]
    assert len(hues) == 50 and max(map(abs, hues)) <= 0.5 and max(map(abs, hues)) > 0.3


@pytest.fixture(scope="module")
def blob_predictor(tiny_model):
    from fixture_models import blob_scene

    image, labels = blob_scene(seed=11, count=1)
    predictor = ImagePredictor(tiny_model)
    predictor.set_image(image)
    return predictor, tight_box(labels == 1)


def test_identity_set_reproduces_sam2(blob_predictor):
    predictor, box = blob_predictor
    sam2 = predictor.predict(box=box, method="sam2")
    tta = predictor.predict(box=box, method="tta", tta_set="identity", num_samples=2, batch_size=2)
    np.testing.assert_allclose(tta.probability, sam2.probability, atol=1e-5)
    np.testing.assert_array_equal(tta.mask, sam2.mask)


def test_tta_is_seeded_and_changes_the_prediction(blob_predictor):
    predictor, box = blob_predictor
    a = predictor.predict(box=box, method="tta", num_samples=2, seed=5)
    b = predictor.predict(box=box, method="tta", num_samples=2, seed=5)
    c = predictor.predict(box=box, method="tta", num_samples=2, seed=6, tta_set="hue")
    np.testing.assert_array_equal(a.probability, b.probability)
    assert np.abs(a.probability - c.probability).max() > 1e-4
    assert 0 <= a.uncertainty.min() and a.uncertainty.max() <= 1
    assert get_method("tta").supports_volume is False
    with pytest.raises(ValueError, match="unknown TTA set"):
        predictor.predict(box=box, method="tta", tta_set="sepia")
