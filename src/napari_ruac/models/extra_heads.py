"""Heads fitted after training and carried by a model as ``model.extras``: the variance network
(``varnet``, UncertSAM §2 (iv)) and the dense-fusion refinement head (``refine=True``). Their
methods live in :mod:`napari_ruac.uq.varnet` and :mod:`napari_ruac.uq.fusion`; they are fitted by
``ruac_training.posthoc``. Checkpoints name them through :mod:`.builders`.
"""

from __future__ import annotations

import math

import torch
from sam2.modeling.sam2_utils import LayerNorm2d
from torch import nn

LOG_VARIANCE_LIMIT = 5.0


def clamp_log_variance(log_variance: torch.Tensor) -> torch.Tensor:
    return log_variance.clamp(-LOG_VARIANCE_LIMIT, LOG_VARIANCE_LIMIT)


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


class DenseFusion(nn.Module):
    """Fuses SAM2's dense mask embedding with an embedding of the [P̄, U] maps."""

    def __init__(self, embed_dim: int = 256, hidden_channels: int = 16, ones_map: bool = False) -> None:
        super().__init__()
        self.embed_dim, self.hidden_channels, self.ones_map = int(embed_dim), int(hidden_channels), bool(ones_map)
        quarter = max(1, self.hidden_channels // 4)
        self.uncertainty_encoder = nn.Sequential(
            nn.Conv2d(2, quarter, kernel_size=2, stride=2),
            LayerNorm2d(quarter),
            nn.GELU(),
            nn.Conv2d(quarter, self.hidden_channels, kernel_size=2, stride=2),
            LayerNorm2d(self.hidden_channels),
            nn.GELU(),
            nn.Conv2d(self.hidden_channels, self.embed_dim, kernel_size=1),
        )
        self.fuse = nn.Conv2d(2 * self.embed_dim, self.embed_dim, kernel_size=1)
        with torch.no_grad():  # start as identity on the mask embedding
            self.fuse.weight.zero_()
            self.fuse.bias.zero_()
            self.fuse.weight[:, : self.embed_dim, 0, 0] = torch.eye(self.embed_dim)

    def config(self) -> dict:
        return {"embed_dim": self.embed_dim, "hidden_channels": self.hidden_channels, "ones_map": self.ones_map}

    def forward(
        self,
        mask_embedding: torch.Tensor,
        probability: torch.Tensor,
        uncertainty: torch.Tensor,
        ones_map: bool | None = None,
    ) -> torch.Tensor:
        """(B, E, h, w) mask embedding, (B, 4h, 4w) maps → fused (B, E, h, w)."""
        use_ones = self.ones_map if ones_map is None else bool(ones_map)
        second = torch.ones_like(uncertainty) if use_ones else uncertainty
        maps = torch.stack([probability, second], dim=1).to(mask_embedding.dtype)
        if maps.shape[-2:] != tuple(4 * s for s in mask_embedding.shape[-2:]):
            raise ValueError(
                f"fusion maps are {tuple(maps.shape[-2:])} but the mask embedding needs "
                f"{tuple(4 * s for s in mask_embedding.shape[-2:])} (4× the embedding size)."
            )
        encoded = self.uncertainty_encoder(maps)
        return self.fuse(torch.cat([mask_embedding, encoded], dim=1))
