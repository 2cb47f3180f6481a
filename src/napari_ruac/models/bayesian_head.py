"""The RUAC Bayesian mask head: Weibull pixel features × Weibull fg/bg mask-token weights.

It replaces SAM2's final ``hyper_in @ upscaled`` product (METHOD.md §2). The Weibull
*means* are tied to SAM2's own tensors so that, before any RUAC training, the mean logit
equals SAM2's logit exactly (parity at init); the learned, input-dependent Weibull
*shapes* k are what add uncertainty.

    E[z_j]   = upscaled_j + c                 (c = 0.17 makes GELU outputs positive)
    E[W1_j]  = ReLU(h_j) + ε,  E[W0_j] = ReLU(−h_j) + ε   (h = hypernetwork output)
    ℓ        = Σ_j (W1_j − W0_j) z_j + b,   b = −c Σ_j h_j

Our decision (speed): a pixel's shape k_z is shared by its C channels. It comes from the
pixel's own features (a linear read-out) plus the decoder's image tokens around it (a
token-resolution read-out, upsampled), so it stays input-dependent and boundary-aware,
while the analytic variance needs gamma functions per pixel, not per pixel × channel:
    Var ℓ = (1 + r_z)·Σ_j Var(d_j) E[z_j]² + r_z·Σ_j E[d_j]² E[z_j]²,  r = Var/mean² of Weibull(k).
The fg/bg weight shapes are per channel (from the mask token).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import weibull
from .uncertainty import binary_entropy, mackay_probability

FEATURE_OFFSET = 0.17  # GELU(x) ≥ −0.16997 for all x
WEIGHT_EPS = 1e-3


@dataclass
class WeibullParams:
    """Means and shapes of the two Weibull layers for B selected masks (scales derived)."""

    upscaled: torch.Tensor  # (B, C, H, W) SAM2's pixel features u; E[z] = u + c
    pixel_k: torch.Tensor  # (B, 1, H, W), shared by the channels of a pixel
    fg_mean: torch.Tensor  # (B, C)
    fg_k: torch.Tensor  # (B, C)
    bg_mean: torch.Tensor  # (B, C)
    bg_k: torch.Tensor  # (B, C)
    bias: torch.Tensor  # (B,)

    @property
    def pixel_mean(self) -> torch.Tensor:
        return (self.upscaled + FEATURE_OFFSET).clamp_min(1e-6)

    @property
    def pixel_lam(self) -> torch.Tensor:
        return weibull.scale_from_mean(self.pixel_k, self.pixel_mean)

    @property
    def fg_lam(self) -> torch.Tensor:
        return weibull.scale_from_mean(self.fg_k, self.fg_mean)

    @property
    def bg_lam(self) -> torch.Tensor:
        return weibull.scale_from_mean(self.bg_k, self.bg_mean)


def _inverse_softplus(x: float) -> float:
    return float(torch.log(torch.expm1(torch.tensor(x))))


class WeibullMaskHead(nn.Module):
    """Predicts input-dependent Weibull shapes; computes mean logits, variance, samples, KL."""

    def __init__(
        self,
        channels: int = 32,
        token_dim: int = 256,
        k_min: float = 1.0,
        k_max: float = 60.0,
        init_pixel_shape: float = 6.0,
        init_token_shape: float = 6.0,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.token_dim = token_dim
        self.k_min = k_min
        self.k_max = k_max
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.init_pixel_shape = init_pixel_shape
        self.init_token_shape = init_token_shape
        self.pixel_readout = nn.Linear(channels, 1)  # the pixel's own features
        self.token_readout = nn.Linear(token_dim, 1)  # the decoder's image token at the pixel…
        self.context = nn.Conv2d(1, 1, kernel_size=3, padding=1)  # …and around it
        self.token_shape_net = nn.Sequential(  # one k per (fg/bg row, channel) from the mask token
            nn.Linear(token_dim, token_dim // 2),
            nn.GELU(),
            nn.Linear(token_dim // 2, 2 * channels),
        )
        self.reset_parameters()

    def config(self) -> dict:
        """Hyper-parameters needed to rebuild this head (stored in RUAC checkpoints)."""
        return dict(
            channels=self.channels,
            token_dim=self.token_dim,
            k_min=self.k_min,
            k_max=self.k_max,
            init_pixel_shape=self.init_pixel_shape,
            init_token_shape=self.init_token_shape,
            prior_alpha=self.prior_alpha,
            prior_beta=self.prior_beta,
        )

    def reset_parameters(self) -> None:
        """Small weights and biases that put every k near its init value."""
        for module in (self.pixel_readout, self.token_readout, self.context, *self.token_shape_net):
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
        nn.init.constant_(self.pixel_readout.bias, _inverse_softplus(self.init_pixel_shape - self.k_min))
        nn.init.constant_(self.token_shape_net[-1].bias, _inverse_softplus(self.init_token_shape - self.k_min))

    def _shape(self, raw: torch.Tensor) -> torch.Tensor:
        return (self.k_min + F.softplus(raw)).clamp(max=self.k_max)

    def params(
        self,
        upscaled: torch.Tensor,
        hyper_in: torch.Tensor,
        mask_token: torch.Tensor,
        image_tokens: torch.Tensor | None = None,
    ) -> WeibullParams:
        """Weibull parameters for selected masks.

        upscaled: (B, C, H, W) SAM2 pixel features; hyper_in: (B, C) hypernetwork output;
        mask_token: (B, D) the selected mask's output token; image_tokens: (B, D, h, w)
        the decoder's image tokens (context; optional).
        """
        pixel_raw = torch.einsum("bchw,c->bhw", upscaled, self.pixel_readout.weight[0])[:, None]
        pixel_raw = pixel_raw + self.pixel_readout.bias
        if image_tokens is not None:
            tokens = torch.einsum("bdhw,d->bhw", image_tokens, self.token_readout.weight[0])[:, None]
            context = self.context(tokens + self.token_readout.bias)
            pixel_raw = pixel_raw + F.interpolate(context, size=upscaled.shape[-2:], mode="bilinear", align_corners=False)
        token_k = self._shape(self.token_shape_net(mask_token)).view(-1, 2, self.channels)
        return WeibullParams(
            upscaled=upscaled,
            pixel_k=self._shape(pixel_raw),
            fg_mean=F.relu(hyper_in) + WEIGHT_EPS,
            fg_k=token_k[:, 0],
            bg_mean=F.relu(-hyper_in) + WEIGHT_EPS,
            bg_k=token_k[:, 1],
            bias=-FEATURE_OFFSET * hyper_in.sum(dim=-1),
        )

    @staticmethod
    def mean_logit(p: WeibullParams) -> torch.Tensor:
        """E[ℓ] with Weibull means: equals SAM2's ``hyper_in @ upscaled`` at init. (B, H, W)."""
        return torch.einsum("bc,bchw->bhw", p.fg_mean - p.bg_mean, p.pixel_mean) + p.bias[:, None, None]

    @staticmethod
    def logit_variance(p: WeibullParams, simplified: bool = False) -> torch.Tensor:
        """Var(ℓ) with d_j, z_j independent. Full: Σ E[d²]E[z²] − E[d]²E[z]²; simplified: Σ Var d · Var z.

        With E[z] = u + c, Σ_j a_j E[z_j]² = Σ a_j u_j² + 2c Σ a_j u_j + c² Σ a_j: two channel
        contractions over the pixel features, no per-channel map is materialised twice."""
        d_mean = p.fg_mean - p.bg_mean
        d_var = p.fg_mean**2 * weibull.relative_variance(p.fg_k) + p.bg_mean**2 * weibull.relative_variance(p.bg_k)
        weights = torch.stack([d_var, d_mean**2], dim=1)  # (B, 2, C)
        u = p.upscaled
        c = FEATURE_OFFSET
        weighted = (
            torch.einsum("bkc,bchw->bkhw", weights, u * u)
            + 2 * c * torch.einsum("bkc,bchw->bkhw", weights, u)
            + (c * c) * weights.sum(-1)[..., None, None]
        )  # Σ_j a_j E[z_j]² for a = Var d and a = E[d]²
        r = weibull.relative_variance(p.pixel_k)[:, 0]  # (B, H, W)
        if simplified:
            return r * weighted[:, 0]
        # Σ Var d·(E[z]² + Var z) + E[d]²·Var z, with Var z = r E[z]²
        return (1.0 + r) * weighted[:, 0] + r * weighted[:, 1]

    @staticmethod
    def sample_logits(p: WeibullParams, num_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Monte Carlo logits ℓ_s = Σ_j (W1 − W0)_j z_j + b. (S, B, H, W)."""
        pixel_lam, fg_lam, bg_lam = p.pixel_lam, p.fg_lam, p.bg_lam
        logits = []
        for _ in range(num_samples):
            z = weibull.sample(p.pixel_k, pixel_lam, generator)
            d = weibull.sample(p.fg_k, fg_lam, generator) - weibull.sample(p.bg_k, bg_lam, generator)
            logits.append(torch.einsum("bc,bchw->bhw", d, z) + p.bias[:, None, None])
        return torch.stack(logits, dim=0)

    def kl(self, p: WeibullParams) -> torch.Tensor:
        """Mean KL of all Weibull variables to the Gamma(α, β) prior (a scalar)."""
        alpha, beta = self.prior_alpha, self.prior_beta
        kl_pixel = weibull.kl_to_gamma(p.pixel_k, p.pixel_lam, alpha, beta).mean()
        kl_fg = weibull.kl_to_gamma(p.fg_k, p.fg_lam, alpha, beta).mean()
        kl_bg = weibull.kl_to_gamma(p.bg_k, p.bg_lam, alpha, beta).mean()
        return kl_pixel + 0.5 * (kl_fg + kl_bg)

    # ---- maps ---------------------------------------------------------------------------
    def analytic(
        self, p: WeibullParams, simplified: bool = False, mean_logit: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mean logit, MacKay probability, entropy uncertainty): one pass, no sampling.

        ``mean_logit``: SAM2's logit of the same mask, which equals E[ℓ] by construction (saves a pass)."""
        m = self.mean_logit(p) if mean_logit is None else mean_logit
        v = self.logit_variance(p, simplified=simplified)
        probability = mackay_probability(m, v)
        return m, probability, binary_entropy(probability)

    def monte_carlo(
        self, p: WeibullParams, num_samples: int = 20, generator: torch.Generator | None = None, chunk: int = 4
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mean logit, P̄ over samples, H(P̄)) with samples drawn in chunks to bound memory."""
        total = torch.zeros_like(p.upscaled[:, 0])
        done = 0
        while done < num_samples:
            n = min(chunk, num_samples - done)
            total = total + torch.sigmoid(self.sample_logits(p, n, generator)).sum(dim=0)
            done += n
        mean_probability = total / num_samples
        return self.mean_logit(p), mean_probability, binary_entropy(mean_probability)
