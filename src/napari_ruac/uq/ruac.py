"""``ruac`` (analytic, one pass) and ``ruac-mc`` (Monte Carlo) uncertainty from the Weibull head, and
``ruac-hyp``: the analytic map joined with the disagreement of SAM2's own mask hypotheses.

``ruac-hyp`` (one decoder pass, like ``ruac``). SAM2's decoder always computes several mask tokens
(its answer to ambiguous prompts: a part, the object, a larger whole); the prompt then selects one.
Where the selected mask and the hypotheses' mean probability p̄ = mean_m σ(ℓ_m) disagree, a whole
part could as well be in or out: the error a reviewer cares about, which the entropy of the chosen
mask alone (bright only on its edge) does not show. The map is

    U = max( H(p̂)/ln 2 ,  min(1, 2·|p̂ − p̄|) )

with p̂ the RUAC MacKay probability and H(p̂) the ``ruac`` map; the mask and probability are
``ruac``'s. Measured in docs/shift_study.md (issue 13): it lifts object ρ and review coverage over
``ruac`` on shifted and real sets, at the cost of a few more flagged pixels.
"""

from __future__ import annotations

import torch

from .base import HeadMethod, MethodOptions, register_method


def hypothesis_disagreement(probability: torch.Tensor, all_logits: torch.Tensor) -> torch.Tensor:
    """min(1, 2·|p − p̄|) with p̄ the mean probability of all mask tokens: (B, H, W), (B, M, H, W) → (B, H, W)."""
    consensus = torch.sigmoid(all_logits.float()).mean(dim=1)
    return (2.0 * (probability - consensus).abs()).clamp(0.0, 1.0)


class RUACAnalytic(HeadMethod):
    name = "ruac"
    description = "RUAC Bayesian decoder, analytic variance + MacKay probit (one pass)"

    def apply(self, model, selected, options: MethodOptions):
        params = model.weibull(selected)
        return model.head.analytic(params, simplified=options.simplified_variance, mean_logit=selected.logit)


class RUACMonteCarlo(HeadMethod):
    name = "ruac-mc"
    description = "RUAC Bayesian decoder, entropy of the mean over Weibull samples (default 20)"
    default_samples = 20

    def apply(self, model, selected, options: MethodOptions):
        params = model.weibull(selected)
        generator = options.generator(params.upscaled.device)
        return model.head.monte_carlo(params, options.samples(self.default_samples), generator)


class RUACHypotheses(HeadMethod):
    name = "ruac-hyp"
    description = "RUAC analytic map joined with the disagreement of SAM2's mask hypotheses (one pass)"
    uncertainty_is_entropy = False

    def apply(self, model, selected, options: MethodOptions):
        logit, probability, uncertainty = RUACAnalytic().apply(model, selected, options)
        if selected.all_logits is None or selected.all_logits.shape[1] < 2:
            return logit, probability, uncertainty
        return logit, probability, torch.maximum(uncertainty, hypothesis_disagreement(probability, selected.all_logits))


register_method(RUACAnalytic())
register_method(RUACMonteCarlo())
register_method(RUACHypotheses())
