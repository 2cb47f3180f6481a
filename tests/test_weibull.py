"""Weibull maths against sampling, scipy and numerical integration (METHOD.md §2)."""

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from napari_ruac.models import weibull


@pytest.mark.parametrize("k,lam", [(1.0, 1.0), (2.0, 0.5), (5.0, 3.0), (12.0, 0.2)])
def test_mean_and_variance_match_scipy_and_sampling(k, lam):
    kt, lt = torch.tensor(k, dtype=torch.float64), torch.tensor(lam, dtype=torch.float64)
    ref = stats.weibull_min(c=k, scale=lam)
    assert float(weibull.mean(kt, lt)) == pytest.approx(ref.mean(), rel=1e-10)
    assert float(weibull.variance(kt, lt)) == pytest.approx(ref.var(), rel=1e-9)
    generator = torch.Generator().manual_seed(0)
    samples = weibull.sample(kt.expand(400_000), lt.expand(400_000), generator)
    assert float(samples.mean()) == pytest.approx(ref.mean(), rel=0.01)
    assert float(samples.var()) == pytest.approx(ref.var(), rel=0.03)
    # the samples follow the distribution, not only its moments
    assert stats.kstest(samples[:20_000].numpy(), ref.cdf).pvalue > 1e-3


def test_scale_from_mean_inverts_mean():
    k = torch.tensor([1.0, 3.0, 40.0])
    target = torch.tensor([0.3, 2.0, 7.0])
    assert torch.allclose(weibull.mean(k, weibull.scale_from_mean(k, target)), target)


@pytest.mark.parametrize("k,lam,alpha,beta", [(1.5, 0.7, 1.0, 1.0), (4.0, 2.0, 2.0, 0.5), (0.8, 0.3, 0.5, 3.0)])
def test_kl_to_gamma_matches_numerical_integration(k, lam, alpha, beta):
    p = stats.weibull_min(c=k, scale=lam)
    q = stats.gamma(a=alpha, scale=1.0 / beta)
    numeric, _ = integrate.quad(lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)), 0, np.inf, limit=400)
    closed = weibull.kl_to_gamma(
        torch.tensor(k, dtype=torch.float64), torch.tensor(lam, dtype=torch.float64), alpha, beta
    )
    assert float(closed) == pytest.approx(numeric, rel=1e-6, abs=1e-8)
    assert float(closed) >= 0


def test_log_pdf_matches_scipy():
    x = torch.linspace(0.05, 4, 50, dtype=torch.float64)
    k, lam = torch.tensor(2.5, dtype=torch.float64), torch.tensor(1.3, dtype=torch.float64)
    expected = stats.weibull_min(c=2.5, scale=1.3).logpdf(x.numpy())
    assert np.allclose(weibull.log_pdf(x, k, lam).numpy(), expected)


def test_samples_are_reparameterised():
    k = torch.tensor([3.0], requires_grad=True)
    lam = torch.tensor([2.0], requires_grad=True)
    weibull.sample(k.expand(1000), lam.expand(1000), torch.Generator().manual_seed(1)).mean().backward()
    assert lam.grad is not None and lam.grad.item() > 0  # a larger scale gives larger samples
    assert k.grad is not None and torch.isfinite(k.grad).all()
