"""Dense-embedding fusion: shapes, identity start, the ones-map control, refine=True through
ImagePredictor, and a few training steps lower the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fixture_models import blob_scene
from napari_ruac.core.boxes import tight_box
from napari_ruac import ImagePredictor
from napari_ruac.uq import MethodOptions, get_method
from napari_ruac.uq.ensemble import MissingHeadError
from napari_ruac.models.extra_heads import DenseFusion
from ruac_training.posthoc import fusion_batch_loss, iter_train_fusion, prepare_samples, sample_prompt


def _perturbed(seed=0) -> DenseFusion:
    torch.manual_seed(seed)
    fusion = DenseFusion()
    with torch.no_grad():
        fusion.fuse.weight.add_(0.05 * torch.randn_like(fusion.fuse.weight))
    return fusion


def test_shapes_identity_start_and_ones_map_control():
    embedding = torch.randn(2, 256, 16, 16)
    probability, uncertainty = torch.rand(2, 64, 64), torch.rand(2, 64, 64)
    fresh = DenseFusion()
    torch.testing.assert_close(fresh(embedding, probability, uncertainty), embedding)  # starts as a pass-through

    fusion = _perturbed()
    out = fusion(embedding, probability, uncertainty)
    assert out.shape == (2, 256, 16, 16)
    other_u = torch.rand(2, 64, 64)
    assert not torch.allclose(out, fusion(embedding, probability, other_u))  # U is used …
    ones_a = fusion(embedding, probability, uncertainty, ones_map=True)
    ones_b = fusion(embedding, probability, other_u, ones_map=True)
    torch.testing.assert_close(ones_a, ones_b)  # … and ignored by the ones-map control
    torch.testing.assert_close(ones_a, fusion(embedding, probability, torch.ones(2, 64, 64)))
    assert DenseFusion(ones_map=True).config()["ones_map"] is True
    with pytest.raises(ValueError, match="4× the embedding"):
        fusion(embedding, torch.rand(2, 32, 32), torch.rand(2, 32, 32))


def test_refine_through_the_image_predictor(tiny_model, blob):
    image, labels = blob
    predictor = ImagePredictor(tiny_model, method="sam2")
    predictor.set_image(image)
    box = tight_box(labels == 1)
    with pytest.raises(MissingHeadError, match="train_fusion"):
        predictor.predict(box=box, refine=True)
    first = predictor.predict(box=box)
    refined = predictor.predict(box=box, refine=True, fusion=DenseFusion())
    assert refined.method == "sam2+refine" and refined.mask.shape == image.shape
    # an untrained head is a pass-through: refinement = SAM2 fed its own low-res logits as mask prompt
    sam2_again = predictor.predict(box=box, mask_input=first.low_res_logits, multimask=False)
    np.testing.assert_allclose(refined.probability, sam2_again.probability, atol=1e-5)
    changed = predictor.predict(box=box, refine=True, fusion=_perturbed())
    assert np.abs(changed.probability - refined.probability).max() > 1e-4
    ones = predictor.predict(box=box, refine=True, fusion=_perturbed(), fusion_ones_map=True)
    assert np.abs(ones.probability - changed.probability).max() > 1e-6


def test_a_few_fusion_steps_on_a_fixed_batch_lower_the_loss(tiny_model):
    image, labels = blob_scene(seed=5, count=2)
    model = tiny_model
    samples = prepare_samples(model, [image], [labels])
    rng = np.random.default_rng(0)
    batch = [(s, sample_prompt(s, model, rng, box_noise=0.0, point_probability=0.0)) for s in samples]
    method, options = get_method("sam2"), MethodOptions()
    torch.manual_seed(0)
    fusion = DenseFusion()
    with torch.no_grad():
        before = float(fusion_batch_loss(model, fusion, batch, method, options))
    list(
        iter_train_fusion(
            model, None, None, fusion=fusion, steps=4, batch_size=2, lr=1e-3, grad_clip=0,
            box_noise=0.0, attach=False, samples=samples,
        )
    )
    with torch.no_grad():
        after = float(fusion_batch_loss(model, fusion, batch, method, options))
    assert after < before - 0.02, (before, after)
    assert "fusion" not in model.extras
    assert all(p.grad is None for p in model.sam2.parameters())
