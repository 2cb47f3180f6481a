"""Last-layer Laplace: the closed-form GGN against laplace-torch and against autograd on the
real decoder, prior precision by marginal likelihood, sampling vs probit, files, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from fixture_models import blob_scene
from napari_ruac.core.boxes import tight_box
from napari_ruac import ImagePredictor
from napari_ruac.uq.ensemble import MissingHeadError
from napari_ruac.uq.laplace import (
    LaplacePosterior,
    diag_ggn,
    fit_laplace,
    hypernetwork_activations,
    load_laplace,
    save_laplace,
    selected_activation,
)


def _linear_problem(seed=0, tokens=1, outputs=4, features=6, pixels=80, prompts=3):
    gen = torch.Generator().manual_seed(seed)
    activation = torch.randn(prompts, tokens, features, generator=gen, dtype=torch.float64).relu()
    upscaled = torch.randn(prompts, outputs, pixels, generator=gen, dtype=torch.float64)
    weight = 0.3 * torch.randn(tokens, outputs, features, generator=gen, dtype=torch.float64)
    bias = 0.1 * torch.randn(tokens, outputs, generator=gen, dtype=torch.float64)
    hyper_in = torch.einsum("tof,btf->bto", weight, activation) + bias
    logits = torch.einsum("bto,bop->btp", hyper_in, upscaled)
    return activation, upscaled, weight, bias, logits


def test_diag_ggn_matches_laplace_torch_diag_posterior_precision():
    """Equivalence used: a Bernoulli logit ℓ equals a 2-class softmax with logits (ℓ, 0); the
    softmax GGN block of class 0's weights is x² p(1−p) = the Bernoulli GGN. So laplace-torch's
    'classification' diag last-layer Laplace on Linear(F·O + O → 2) with row 1 fixed at zero,
    fed one row per pixel with features x_p = [vec(u_p a^T), u_p], must give our precision in row 0."""
    from laplace import Laplace

    activation, upscaled, weight, bias, logits = _linear_problem()
    ggn_w, ggn_b = diag_ggn(activation, upscaled, logits)
    prior = 0.7
    ours = torch.cat([ggn_w[0].reshape(-1), ggn_b[0]]) + prior

    b, o, p = upscaled.shape
    f = activation.shape[-1]
    rows = []
    for i in range(b):
        outer = (upscaled[i][:, None, :] * activation[i, 0][None, :, None]).reshape(o * f, p)
        rows.append(torch.cat([outer, upscaled[i]], dim=0).T)
    x = torch.cat(rows)
    labels = torch.randint(0, 2, (x.shape[0],), generator=torch.Generator().manual_seed(1))
    linear = nn.Linear(o * f + o, 2, bias=False).double()
    with torch.no_grad():
        linear.weight.zero_()
        linear.weight[0] = torch.cat([weight[0].reshape(-1), bias[0]])
    net = nn.Sequential(nn.Flatten(), linear)
    assert torch.allclose(net(x)[:, 0], logits[:, 0].reshape(-1))  # the same model
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, labels), batch_size=32)
    la = Laplace(net, "classification", subset_of_weights="last_layer", hessian_structure="diag", prior_precision=prior)
    la.fit(loader)
    theirs = la.posterior_precision.reshape(2, -1)
    torch.testing.assert_close(theirs[0], ours, rtol=1e-10, atol=1e-10)

    # marginal likelihood: theirs also counts row 1 (θ = 0, same GGN values): remove its log-det terms
    post = LaplacePosterior(num_tokens=1, feature_dim=f, output_dim=o, prior_precision=prior)
    post.ggn_weight.copy_(ggn_w.float())
    post.ggn_bias.copy_(ggn_b.float())
    post.map_weight.copy_(weight.float())
    post.map_bias.copy_(bias.float())
    post.log_likelihood.fill_(float(la.log_likelihood))
    row1 = theirs[1] - prior
    correction = 0.5 * float(torch.log(row1 + prior).sum() - row1.numel() * math.log(prior))
    assert post.log_marginal_likelihood() == pytest.approx(float(la.log_marginal_likelihood()) + correction, rel=1e-5)


def test_closed_form_ggn_matches_autograd_on_the_real_decoder(tiny_model, blob):
    image, labels = blob
    model = tiny_model
    predictor = ImagePredictor(model)
    predictor.set_image(image)
    box = torch.tensor([tight_box(labels == 1)], dtype=torch.float32) * model.image_size / image.shape[0]
    sparse, dense = model.encode_prompts(boxes=box)
    with torch.no_grad():
        out, _ = model.decode(predictor.features, sparse, dense, multimask=False)
    decoder = model.sam2.sam_mask_decoder
    activation = hypernetwork_activations(decoder, out.mask_tokens)
    token = 2
    layer = decoder.output_hypernetworks_mlps[token].layers[-1]
    assert torch.allclose(layer(activation[:, token]), out.hyper_in[:, token], atol=1e-5)

    features = torch.nn.functional.interpolate(out.upscaled, size=(12, 12), mode="area").flatten(2).double()
    logits = torch.einsum("bto,bop->btp", out.hyper_in.double(), features)
    ggn_w, ggn_b = diag_ggn(activation.double(), features, logits)

    a = activation[0, token].double()
    w, b = layer.weight.detach().double(), layer.bias.detach().double()

    def pixel_logits(weight, bias):
        return (weight @ a + bias) @ features[0]

    jac_w, jac_b = torch.func.jacrev(pixel_logits, argnums=(0, 1))(w, b)  # (P, O, F), (P, O)
    p = torch.sigmoid(pixel_logits(w, b))
    lam = p * (1 - p)
    torch.testing.assert_close(ggn_w[token], torch.einsum("p,pof->of", lam, jac_w.square()))
    torch.testing.assert_close(ggn_b[token], torch.einsum("p,po->o", lam, jac_b.square()))


@pytest.fixture(scope="module")
def fitted_posterior(fitted):
    scenes = [blob_scene(seed=s, count=2) for s in (20, 21)]
    return fit_laplace(fitted, [im for im, _ in scenes], [lab for _, lab in scenes])


def test_prior_precision_maximises_the_marginal_likelihood(fitted_posterior):
    post = fitted_posterior
    best = float(post.prior_precision)
    assert post.fit_info["prompts"] == 4 and post.fit_info["prior_precision_from"] == "marginal likelihood"
    grid = np.exp(np.linspace(math.log(best) - 4, math.log(best) + 4, 81))
    values = [post.log_marginal_likelihood(d) for d in grid]
    assert grid[int(np.argmax(values))] == pytest.approx(best, rel=0.11)
    assert post.log_marginal_likelihood() >= max(values) - 1e-6


def _predict_pair(fitted, posterior, **options):
    image, labels = blob_scene(seed=11, count=1)
    predictor = ImagePredictor(fitted, method="laplace", laplace_posterior=posterior)
    predictor.set_image(image)
    return predictor, tight_box(labels == 1)


@pytest.fixture(scope="module")
def selected_blob(fitted, fitted_posterior):
    """(predictor, box, decoder selection) for the held-out blob scene."""
    predictor, box = _predict_pair(fitted, fitted_posterior)
    sparse, dense = fitted.encode_prompts(boxes=torch.tensor([box]) * fitted.image_size / 192)
    with torch.no_grad():
        _, selected = fitted.decode(predictor.features, sparse, dense, multimask=False)
    return predictor, box, selected


def _gaussian_expected_sigmoid(mean, variance, order=64):
    """E[σ(ℓ)], ℓ ~ N(mean, variance), by Gauss–Hermite quadrature (an exact reference)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(order)
    values = 1 / (1 + np.exp(-(mean[..., None] + np.sqrt(variance)[..., None] * nodes)))
    return (values * weights).sum(-1) / weights.sum()


def test_sampling_mean_converges_to_the_exact_and_probit_predictions(fitted, fitted_posterior, selected_blob):
    from napari_ruac.uq import MethodOptions
    from napari_ruac.uq.laplace import LaplaceMethod

    post = LaplacePosterior(**fitted_posterior.config())
    post.load_state_dict(fitted_posterior.state_dict())
    post.prior_precision.fill_(float(fitted_posterior.prior_precision) / 5)  # wider: a visible spread
    _, _, selected = selected_blob
    method = LaplaceMethod()
    sample = MethodOptions(num_samples=2000, batch_size=500, seed=3, extra={"laplace_posterior": post})
    probit = MethodOptions(extra={"laplace_posterior": post, "laplace_mode": "probit"})
    with torch.no_grad():
        _, p_sampled, _ = method.apply(fitted, selected, sample)
        _, p_probit, u_probit = method.apply(fitted, selected, probit)
        activation = selected_activation(fitted.sam2.sam_mask_decoder, selected.mask_token, selected.token_index)
        variance = torch.einsum(
            "bo,bohw->bhw", post.hyper_in_variance(activation, selected.token_index), selected.upscaled.square()
        )
    exact = _gaussian_expected_sigmoid(selected.logit.double().numpy(), variance.double().numpy())
    sampled, approx = p_sampled.double().numpy(), p_probit.double().numpy()
    assert float(variance.mean()) > 0.5 and float(u_probit.mean()) > 0.05  # the posterior matters here
    assert np.abs(sampled - exact).mean() < 0.005  # Monte Carlo → the exact Gaussian expectation
    assert np.abs(sampled - approx).mean() < 0.03  # … and MacKay's probit is close to it
    assert np.corrcoef(sampled.ravel(), approx.ravel())[0, 1] > 0.99


def test_sample_logit_variance_is_the_glm_variance(fitted, fitted_posterior, selected_blob):
    _, _, selected = selected_blob
    decoder = fitted.sam2.sam_mask_decoder
    activation = selected_activation(decoder, selected.mask_token, selected.token_index)
    noise = fitted_posterior.sample_hyper_in_noise(activation, selected.token_index, 4000, torch.Generator().manual_seed(0))
    empirical = noise[:, 0].var(0)
    analytic = fitted_posterior.hyper_in_variance(activation, selected.token_index)[0]
    torch.testing.assert_close(empirical, analytic, rtol=0.1, atol=0)


def test_larger_prior_precision_gives_smaller_variance(fitted, fitted_posterior):
    small, large = (LaplacePosterior(**fitted_posterior.config()) for _ in range(2))
    for post, factor in ((small, 0.1), (large, 10.0)):
        post.load_state_dict(fitted_posterior.state_dict())
        post.prior_precision.mul_(factor)
    var_small, var_large = small.variance()[0], large.variance()[0]
    assert (var_large < var_small).all()
    predictor, box = _predict_pair(fitted, small)
    u_small = predictor.predict(box=box, laplace_mode="probit").uncertainty
    u_large = predictor.predict(box=box, laplace_mode="probit", laplace_posterior=large).uncertainty
    assert u_large.mean() < u_small.mean()
    assert (u_large <= u_small + 1e-6).all()


def test_posterior_file_round_trip(tmp_path, fitted, fitted_posterior):
    weights, config = save_laplace(fitted_posterior, tmp_path / "posterior")
    assert weights.is_file() and config.is_file()
    loaded = load_laplace(tmp_path / "posterior.json")
    for key, value in fitted_posterior.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    predictor, box = _predict_pair(fitted, fitted_posterior)
    a = predictor.predict(box=box, num_samples=8)
    b = predictor.predict(box=box, num_samples=8, laplace_posterior=str(weights))
    np.testing.assert_array_equal(a.probability, b.probability)


def test_clear_errors_without_or_with_a_foreign_posterior(tiny_model, fitted, fitted_posterior, blob):
    image, labels = blob
    predictor = ImagePredictor(tiny_model)
    predictor.set_image(image)
    with pytest.raises(MissingHeadError, match="fit_laplace"):
        predictor.predict(box=tight_box(labels == 1), method="laplace")
    with pytest.raises(ValueError, match="other mask-decoder weights"):
        predictor.predict(box=tight_box(labels == 1), method="laplace", laplace_posterior=fitted_posterior)
    with pytest.raises(ValueError, match="laplace_mode"):
        _predict_pair(fitted, fitted_posterior)[0].predict(box=tight_box(labels == 1), laplace_mode="exact")
