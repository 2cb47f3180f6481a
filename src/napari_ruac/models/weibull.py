"""Weibull distribution maths for the RUAC Bayesian decoder (METHOD.md §2).

All functions are elementwise torch ops on shape ``k`` and scale ``lam`` tensors,
differentiable, and computed in log space where gamma functions appear.
"""

from __future__ import annotations

import torch

EULER_GAMMA = 0.5772156649015329


def gamma_ratio_1(k: torch.Tensor) -> torch.Tensor:
    """Γ(1 + 1/k): the Weibull mean of a unit-scale variable."""
    return torch.exp(torch.lgamma(1.0 + 1.0 / k))


def relative_variance(k: torch.Tensor) -> torch.Tensor:
    """Var/mean² of a Weibull with shape k: Γ(1+2/k)/Γ(1+1/k)² − 1 (scale-free)."""
    log_ratio = torch.lgamma(1.0 + 2.0 / k) - 2.0 * torch.lgamma(1.0 + 1.0 / k)
    return torch.expm1(log_ratio)


def mean(k: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """E[X] = λ Γ(1 + 1/k)."""
    return lam * gamma_ratio_1(k)


def variance(k: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """Var[X] = λ² [Γ(1+2/k) − Γ(1+1/k)²]."""
    return mean(k, lam) ** 2 * relative_variance(k)


def scale_from_mean(k: torch.Tensor, mean_value: torch.Tensor) -> torch.Tensor:
    """λ such that a Weibull(k, λ) has the given mean."""
    return mean_value / gamma_ratio_1(k)


def sample(
    k: torch.Tensor, lam: torch.Tensor, generator: torch.Generator | None = None, eps: float = 1e-6
) -> torch.Tensor:
    """Reparameterised sample λ(−log(1−u))^{1/k}, u ~ U(eps, 1−eps); gradients reach k and λ."""
    u = torch.rand(lam.shape, generator=generator, device=lam.device, dtype=lam.dtype)
    u = u.clamp(eps, 1.0 - eps)
    return lam * torch.pow(-torch.log1p(-u), 1.0 / k)


def kl_to_gamma(
    k: torch.Tensor, lam: torch.Tensor, alpha: float | torch.Tensor = 1.0, beta: float | torch.Tensor = 1.0
) -> torch.Tensor:
    """KL(Weibull(k, λ) ‖ Gamma(α, rate β)), elementwise (BNDL's closed form)."""
    alpha = torch.as_tensor(alpha, dtype=lam.dtype, device=lam.device)
    beta = torch.as_tensor(beta, dtype=lam.dtype, device=lam.device)
    lam = lam.clamp_min(1e-12)
    return (
        EULER_GAMMA * alpha / k
        - alpha * torch.log(lam)
        + torch.log(k)
        + beta * lam * gamma_ratio_1(k)
        - EULER_GAMMA
        - 1.0
        - alpha * torch.log(beta)
        + torch.lgamma(alpha)
    )


def log_pdf(x: torch.Tensor, k: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """log density of Weibull(k, λ) at x > 0 (used by tests and diagnostics)."""
    z = x / lam
    return torch.log(k / lam) + (k - 1.0) * torch.log(z) - torch.pow(z, k)
