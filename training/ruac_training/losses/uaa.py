"""Uncertainty-Accuracy Alignment with the dual stop-gradient (METHOD.md §2).

e = |σ(ℓ) − GT| per pixel (ℓ: the mean logit, the prediction the user sees), u ∈ [0, 1] the
analytic uncertainty:
    L_e = e·exp(−sg[u]) + (1 − e)·exp(sg[u])      gradient reaches e only ("paper" form)
    L_e = e·exp(−sg[u])                            ("confident" form, METHOD.md §2 correction)
    L_u = sg[e]·exp(−u) + (1 − sg[e])·exp(u)      gradient reaches u only
Loss = mean(L_e + L_u). sg[u] in L_e: the attacker cannot win by moving u; sg[e] in L_u: u rises
only where an error is observed (no uniform collapse).

Error side: as the paper writes it, ∂L_e/∂e = e^(−u) − e^(u) ≤ 0 for u ≥ 0, which pushes the model
towards errors where it is uncertain (and the attacker, through the GRL, away from them). The
"confident" form keeps only e·e^(−sg[u]): ∂/∂e = e^(−u) > 0, confident errors cost the model most and
the attacker wins by creating them. Both stay selectable (config ``uaa.error_form``).
"""

from __future__ import annotations

import torch


def pixel_error(mean_logit: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """e = |σ(ℓ) − GT| ∈ [0, 1]."""
    return (torch.sigmoid(mean_logit.float()) - target.float()).abs()


ERROR_FORMS = ("paper", "confident")


def uaa_terms(error: torch.Tensor, uncertainty: torch.Tensor, error_form: str = "paper") -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel (L_e, L_u) with the dual stop-gradient; ``error_form`` chooses L_e (see the module text)."""
    if error_form not in ERROR_FORMS:
        raise ValueError(f"uaa.error_form must be one of {', '.join(ERROR_FORMS)}, got {error_form!r}")
    u_stopped = uncertainty.detach()
    e_stopped = error.detach()
    l_e = error * torch.exp(-u_stopped)
    if error_form == "paper":
        l_e = l_e + (1 - error) * torch.exp(u_stopped)
    l_u = e_stopped * torch.exp(-uncertainty) + (1 - e_stopped) * torch.exp(uncertainty)
    return l_e, l_u


def uaa_loss(error: torch.Tensor, uncertainty: torch.Tensor, error_form: str = "paper") -> torch.Tensor:
    """mean(L_e + L_u) over all pixels (a scalar)."""
    l_e, l_u = uaa_terms(error.float(), uncertainty.float(), error_form)
    return (l_e + l_u).mean()
