"""Turning logits (or their moments, or samples) into probability and uncertainty maps.

Uncertainty is binary entropy in bits, so it lies in [0, 1] for every method.
"""

from __future__ import annotations

import math

import torch

LN2 = math.log(2.0)


def binary_entropy(probability: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """H(p)/ln 2 ∈ [0, 1]: 1 where p = 0.5, 0 where p is 0 or 1."""
    p = probability.clamp(eps, 1.0 - eps)
    h = -(p * torch.log(p) + (1.0 - p) * torch.log1p(-p)) / LN2
    return h.clamp(0.0, 1.0)


def mackay_probability(mean_logit: torch.Tensor, logit_variance: torch.Tensor) -> torch.Tensor:
    """MacKay's probit approximation of E[σ(ℓ)]: σ(κ·E[ℓ]), κ = 1/√(1 + πv/8)."""
    kappa = torch.rsqrt(1.0 + math.pi * logit_variance.clamp_min(0.0) / 8.0)
    return torch.sigmoid(kappa * mean_logit)


def entropy_of_mean(probability_samples: torch.Tensor, dim: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(P̄, H(P̄)) from stacked per-sample probabilities (the ensemble rule of all sampling methods)."""
    mean_probability = probability_samples.mean(dim=dim)
    return mean_probability, binary_entropy(mean_probability)
