"""``varnet``: a variance network beside SAM2's mask head (UncertSAM §2 (iv), App. C).

A hypernetwork-like MLP on the selected mask token gives a 32-d weight vector; a small CNN
upsamples the decoder's image tokens (bilinear ×2, conv, ×2, conv: no transposed conv, to
avoid checkerboards) to per-pixel features at S/4; their product is the log-variance s,
clamped to [−5, 5]. Trained (decoder frozen) with Kendall & Gal's loss
½·mean[exp(−s)(σ(ℓ) − y)² + s] (ruac_training.posthoc.train_varnet).

Uncertainty map (our decision): U = σ² / (σ² + ¼), monotone in σ², in [0, 1); ¼ is the
largest variance of a Bernoulli, so a pixel as uncertain as a fair coin gets U = ½.
"""

from __future__ import annotations

import torch

from ..models.extra_heads import VarianceHead, clamp_log_variance
from .base import HeadMethod, MethodOptions, register_method
from .ensemble import find_extra

BERNOULLI_MAX_VARIANCE = 0.25
HOW_TO_TRAIN = (
    "Train one on annotated images with ruac_training.posthoc.train_varnet(model, images, masks) "
    "(it attaches the head as model.extras['varnet']; save_ruac_checkpoint keeps it), or pass varnet=head. "
    "On the command line: ruac-train fit-varnet MODEL ANNOTATED_DIR --out STEM, then --model STEM.json."
)


def heteroscedastic_loss(log_variance: torch.Tensor, probability: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """½·mean[exp(−s)(σ(ℓ) − y)² + s] with s clamped to [−5, 5] (Kendall & Gal 2017; UncertSAM App. E)."""
    s = clamp_log_variance(log_variance)
    return 0.5 * (torch.exp(-s) * (probability - target).square() + s).mean()


def variance_to_uncertainty(variance: torch.Tensor) -> torch.Tensor:
    """σ² → U = σ²/(σ² + ¼) ∈ [0, 1)."""
    return variance / (variance + BERNOULLI_MAX_VARIANCE)


def resolve_varnet(model, options: MethodOptions) -> VarianceHead:
    head = find_extra(model, options, "varnet", "The varnet method needs a trained variance network. " + HOW_TO_TRAIN)
    if not isinstance(head, VarianceHead):
        raise TypeError(f"varnet must be a VarianceHead, got {type(head).__name__}")
    return head


class VarianceNetMethod(HeadMethod):
    name = "varnet"
    needs_head = "varnet"
    needs_what = "a trained variance network"
    how_to_get = HOW_TO_TRAIN
    description = "variance network (UncertSAM): a trained head predicts a per-pixel variance (one pass)"
    uncertainty_is_entropy = False  # U comes from the predicted variance, not from H(probability)

    def apply(self, model, selected, options: MethodOptions):
        head = resolve_varnet(model, options)
        log_variance = head(selected.mask_token, selected.image_tokens)
        if log_variance.shape[-2:] != selected.logit.shape[-2:]:
            raise ValueError(
                f"the variance head gives {tuple(log_variance.shape[-2:])} maps but the decoder {tuple(selected.logit.shape[-2:])}: "
                "it was trained for another model size."
            )
        uncertainty = variance_to_uncertainty(torch.exp(log_variance))
        return selected.logit, torch.sigmoid(selected.logit), uncertainty


register_method(VarianceNetMethod())
