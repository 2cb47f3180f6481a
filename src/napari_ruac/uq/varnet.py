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

import math

import torch
from torch import nn

from .base import HeadMethod, MethodOptions, register_method
from .ensemble import find_extra

LOG_VARIANCE_LIMIT = 5.0
BERNOULLI_MAX_VARIANCE = 0.25
HOW_TO_TRAIN = (
    "Train one on annotated images with ruac_training.posthoc.train_varnet(model, images, masks) "
    "(it attaches the head as model.extras['varnet']; save_ruac_checkpoint keeps it), or pass varnet=head."
)


def clamp_log_variance(log_variance: torch.Tensor) -> torch.Tensor:
    return log_variance.clamp(-LOG_VARIANCE_LIMIT, LOG_VARIANCE_LIMIT)


def heteroscedastic_loss(log_variance: torch.Tensor, probability: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """½·mean[exp(−s)(σ(ℓ) − y)² + s] with s clamped to [−5, 5] (Kendall & Gal 2017; UncertSAM App. E)."""
    s = clamp_log_variance(log_variance)
    return 0.5 * (torch.exp(-s) * (probability - target).square() + s).mean()


def variance_to_uncertainty(variance: torch.Tensor) -> torch.Tensor:
    """σ² → U = σ²/(σ² + ¼) ∈ [0, 1)."""
    return variance / (variance + BERNOULLI_MAX_VARIANCE)


class VarianceHead(nn.Module):
    """Predicts a per-pixel log-variance from the decoder's mask token and image tokens."""

    def __init__(
        self,
        transformer_dim: int = 256,
        feature_dim: int = 32,
        hidden_channels: int = 64,
        initial_variance: float = 0.05,
    ) -> None:
        super().__init__()
        self.transformer_dim, self.feature_dim = int(transformer_dim), int(feature_dim)
        self.hidden_channels, self.initial_variance = int(hidden_channels), float(initial_variance)
        d = self.transformer_dim
        self.token_mlp = nn.Sequential(
            nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d), nn.ReLU(), nn.Linear(d, self.feature_dim)
        )
        self.pixel_net = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(d, self.hidden_channels, 3, padding=1),
            nn.GroupNorm(1, self.hidden_channels),
            nn.GELU(),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(self.hidden_channels, self.feature_dim, 3, padding=1),
            nn.GroupNorm(1, self.feature_dim),
            nn.GELU(),
        )
        self.bias = nn.Parameter(torch.tensor(math.log(self.initial_variance)))
        with torch.no_grad():  # start at the constant log-variance log(initial_variance)
            self.token_mlp[-1].weight.zero_()
            self.token_mlp[-1].bias.zero_()

    def config(self) -> dict:
        return {
            "transformer_dim": self.transformer_dim,
            "feature_dim": self.feature_dim,
            "hidden_channels": self.hidden_channels,
            "initial_variance": self.initial_variance,
        }

    def forward(self, mask_token: torch.Tensor, image_tokens: torch.Tensor) -> torch.Tensor:
        """(B, D) token, (B, D, h, w) image tokens → clamped log-variance (B, 4h, 4w)."""
        weights = self.token_mlp(mask_token)
        pixels = self.pixel_net(image_tokens)
        raw = torch.einsum("bc,bchw->bhw", weights, pixels) + self.bias
        return clamp_log_variance(raw)


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
