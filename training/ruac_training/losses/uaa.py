"""Uncertainty-Accuracy Alignment with the dual stop-gradient (METHOD.md §2).

e = |σ(ℓ) − GT| per pixel (ℓ: the mean logit, the prediction the user sees), u ∈ [0, 1] the
analytic uncertainty:
    L_e = e·exp(−sg[u]) + (1 − e)·exp(sg[u])      gradient reaches e only
    L_u = sg[e]·exp(−u) + (1 − sg[e])·exp(u)      gradient reaches u only
Loss = mean(L_e + L_u). sg[u] in L_e: the attacker cannot win by moving u; sg[e] in L_u: u rises
only where an error is observed (no uniform collapse).
"""

from __future__ import annotations

import torch


def pixel_error(mean_logit: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """e = |σ(ℓ) − GT| ∈ [0, 1]."""
    return (torch.sigmoid(mean_logit.float()) - target.float()).abs()


def uaa_terms(error: torch.Tensor, uncertainty: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel (L_e, L_u) with the dual stop-gradient."""
    u_stopped = uncertainty.detach()
    e_stopped = error.detach()
    l_e = error * torch.exp(-u_stopped) + (1 - error) * torch.exp(u_stopped)
    l_u = e_stopped * torch.exp(-uncertainty) + (1 - e_stopped) * torch.exp(uncertainty)
    return l_e, l_u


def uaa_loss(error: torch.Tensor, uncertainty: torch.Tensor) -> torch.Tensor:
    """mean(L_e + L_u) over all pixels (a scalar)."""
    l_e, l_u = uaa_terms(error.float(), uncertainty.float())
    return (l_e + l_u).mean()
