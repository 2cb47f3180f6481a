"""The RUAC Weibull head: SAM2 parity at init, variance, Monte Carlo agreement, KL."""

import numpy as np
import pytest
import torch
from skimage import data

from napari_ruac import ImagePredictor
from napari_ruac.models import build_model, get_spec
from napari_ruac.models.uncertainty import binary_entropy, mackay_probability


def _selected(model, image_size, boxes, seed=0):
    torch.manual_seed(seed)
    batch = torch.randn(1, 3, image_size, image_size)
    with torch.no_grad():
        features = model.encode_image(batch)
        sparse, dense = model.encode_prompts(boxes=torch.tensor(boxes, dtype=torch.float32))
        return model.decode(features, sparse, dense, multimask=False)


@pytest.mark.parametrize("name", ["sam2.1_hiera_tiny", "sam2.1_hiera_small"])
def test_mean_logit_equals_sam2_logit_at_init(name):
    torch.manual_seed(0)
    model = build_model(get_spec(name).config, name=name, image_size=256)
    # random weights give tiny logits; scale the hypernetworks so parity is tested on large logits too
    with torch.no_grad():
        for mlp in model.sam2.sam_mask_decoder.output_hypernetworks_mlps:
            mlp.layers[-1].weight.mul_(200.0)
        features = model.encode_image(torch.randn(1, 3, 256, 256))
        boxes = torch.tensor([[30.0, 40.0, 150.0, 200.0], [0.0, 0.0, 255.0, 255.0]])
        sparse, dense = model.encode_prompts(boxes=boxes)
        _, selected = model.decode(features, sparse, dense, multimask=False)
        # SAM2's own decoder, untouched, on the same inputs
        sam2_logits, *_ = model.sam2.sam_mask_decoder.predict_masks(
            features.image_embed, model.sam2.sam_prompt_encoder.get_dense_pe(), sparse, dense,
            repeat_image=True, high_res_features=features.high_res,
        )
        mean_logit = model.head.mean_logit(model.weibull(selected))
    expected = sam2_logits[torch.arange(2), selected.token_index]
    assert expected.abs().max() > 5  # the test is not about ~0 logits
    assert torch.allclose(selected.logit, expected, atol=1e-5)
    assert torch.allclose(mean_logit, expected, atol=1e-4)


def test_variance_is_positive_and_simplified_is_rank_equivalent(fitted):
    _, selected = _selected(fitted, 256, [[60.0, 60.0, 180.0, 180.0]])
    params = fitted.weibull(selected)
    full = fitted.head.logit_variance(params)
    simplified = fitted.head.logit_variance(params, simplified=True)
    assert (simplified > 0).all() and (full >= simplified).all()
    assert np.corrcoef(full.flatten(), simplified.flatten())[0, 1] > 0.99


def test_variance_matches_monte_carlo_moments(fitted):
    _, selected = _selected(fitted, 256, [[60.0, 60.0, 180.0, 180.0]])
    params = fitted.weibull(selected)
    samples = fitted.head.sample_logits(params, 3000, torch.Generator().manual_seed(0))
    mean_logit = fitted.head.mean_logit(params)
    variance = fitted.head.logit_variance(params)
    scale = variance.sqrt().mean()
    assert (samples.mean(0) - mean_logit).abs().mean() < 0.1 * scale
    ratio = samples.var(0) / variance
    assert 0.85 < float(ratio.median()) < 1.15


def test_analytic_uncertainty_tracks_100_sample_monte_carlo_on_a_real_image(fitted):
    """The paper's check: analytic vs 100-sample Monte Carlo uncertainty, Pearson > 0.90 (coins)."""
    predictor = ImagePredictor(fitted, method="ruac")
    predictor.set_image(data.coins())
    box = [65, 40, 115, 90]
    analytic = predictor.predict(box=box)
    monte_carlo = predictor.predict(box=box, method="ruac-mc", num_samples=100)
    assert analytic.uncertainty.std() > 0.01  # a map with structure, not a constant
    assert np.corrcoef(analytic.uncertainty.ravel(), monte_carlo.uncertainty.ravel())[0, 1] > 0.9


def test_mackay_and_entropy_basics():
    m = torch.tensor([-4.0, 0.0, 4.0])
    assert torch.allclose(mackay_probability(m, torch.zeros(3)), torch.sigmoid(m))
    shrunk = mackay_probability(m, torch.full((3,), 50.0))
    assert shrunk[2] < torch.sigmoid(m[2]) and shrunk[0] > torch.sigmoid(m[0]) and shrunk[1] == 0.5
    h = binary_entropy(torch.tensor([0.0, 0.5, 1.0]))
    assert torch.allclose(h, torch.tensor([0.0, 1.0, 0.0]), atol=1e-5)


def test_kl_is_finite_and_trains_the_shape_networks(fitted):
    head = type(fitted.head)(**fitted.head.config())
    _, selected = _selected(fitted, 256, [[60.0, 60.0, 180.0, 180.0]])
    params = head.params(selected.upscaled, selected.hyper_in, selected.mask_token, selected.image_tokens)
    kl = head.kl(params)
    assert torch.isfinite(kl)
    kl.backward()
    grads = [p.grad for p in head.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_shapes_are_input_dependent_and_bounded(fitted):
    _, selected = _selected(fitted, 256, [[60.0, 60.0, 180.0, 180.0]])
    params = fitted.weibull(selected)
    head = fitted.head
    assert params.pixel_k.min() >= head.k_min and params.pixel_k.max() <= head.k_max
    assert params.pixel_k.std() > 0  # k depends on the pixel features
