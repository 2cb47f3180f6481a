"""Variance network: the heteroscedastic loss and its clamp, the head's shapes and the map to
[0, 1], and a few training steps on a fixed batch lower the loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fixture_models import blob_scene
from napari_ruac.core.boxes import tight_box
from napari_ruac import ImagePredictor
from napari_ruac.uq.ensemble import MissingHeadError
from napari_ruac.models.extra_heads import VarianceHead
from napari_ruac.uq.varnet import heteroscedastic_loss, variance_to_uncertainty
from ruac_training.posthoc import iter_train_varnet, prepare_samples, sample_prompt, varnet_batch_loss


def test_loss_is_the_kendall_gal_formula():
    s = torch.tensor([[-1.0, 0.0], [2.0, 0.5]])
    p = torch.tensor([[0.2, 0.9], [0.5, 0.1]])
    y = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    expected = np.mean([0.5 * (math.exp(-si) * (pi - yi) ** 2 + si) for si, pi, yi in zip(s.flatten().tolist(), p.flatten().tolist(), y.flatten().tolist())])
    assert float(heteroscedastic_loss(s, p, y)) == pytest.approx(expected, rel=1e-6)


def test_log_variance_is_clamped_to_plus_minus_five():
    s = torch.tensor([-9.0, -5.0, 0.0, 5.0, 12.0], requires_grad=True)
    p, y = torch.full((5,), 0.3), torch.zeros(5)
    loss = heteroscedastic_loss(s, p, y)
    clamped = torch.tensor([-5.0, -5.0, 0.0, 5.0, 5.0])
    assert float(loss) == pytest.approx(float(0.5 * (torch.exp(-clamped) * 0.09 + clamped).mean()), rel=1e-6)
    loss.backward()
    assert s.grad[0] == 0 and s.grad[-1] == 0 and s.grad[2] != 0


def test_head_shapes_range_and_uncertainty_map():
    head = VarianceHead()
    out = head(torch.randn(3, 256), 50 * torch.randn(3, 256, 16, 16))
    assert out.shape == (3, 64, 64) and out.min() >= -5 and out.max() <= 5
    variance = torch.tensor([0.0, 0.01, 0.25, 1.0, math.exp(5)])
    u = variance_to_uncertainty(variance)
    assert (u >= 0).all() and (u < 1).all() and (u.diff() > 0).all() and float(u[2]) == pytest.approx(0.5)


def test_a_few_steps_on_a_fixed_batch_lower_the_loss(tiny_model):
    image, labels = blob_scene(seed=4, count=2)
    model = tiny_model
    samples = prepare_samples(model, [image], [labels])
    rng = np.random.default_rng(0)
    batch = [(s, sample_prompt(s, model, rng, box_noise=0.0, point_probability=0.0)) for s in samples]
    torch.manual_seed(0)
    head = VarianceHead()
    with torch.no_grad():
        before = float(varnet_batch_loss(model, head, batch))
    events = list(
        iter_train_varnet(
            model, None, None, head=head, steps=8, batch_size=2, lr=3e-4, grad_clip=0,
            box_noise=0.0, point_probability=0.0, attach=False, samples=samples,
        )
    )
    assert [e["step"] for e in events] == list(range(1, 9)) and "varnet" not in model.extras
    with torch.no_grad():
        after = float(varnet_batch_loss(model, head, batch))
    assert after < before - 0.5, (before, after)
    assert all(p.grad is None for p in model.sam2.parameters())  # SAM2 stayed frozen


def test_prediction_with_a_head_and_a_clear_error_without(tiny_model, blob):
    image, labels = blob
    predictor = ImagePredictor(tiny_model)
    predictor.set_image(image)
    box = tight_box(labels == 1)
    with pytest.raises(MissingHeadError, match="train_varnet"):
        predictor.predict(box=box, method="varnet")
    out = predictor.predict(box=box, method="varnet", varnet=VarianceHead())
    sam2 = predictor.predict(box=box, method="sam2")
    np.testing.assert_array_equal(out.probability, sam2.probability)  # the mean is SAM2's, untouched
    assert 0 < out.uncertainty.min() and out.uncertainty.max() < 1
