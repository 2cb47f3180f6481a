"""Deformation Network: a smooth, bounded, dense offset field from (detached) SAM2 features.

raw (B, 2, h, w) at the embedding's resolution → offsets = (σ(raw) − 0.5)·2ε feature pixels
(ε = 0.15, i.e. ±2.4 image pixels at stride 16) → bilinear upsampling (smooth) → minus the
mean offset over the image's objects (no net translation of the objects) → through a Gradient
Reversal Layer → ``grid_sample`` (bilinear, border, align_corners=True) of the image AND its
masks (masks re-binarised at 0.5). The last layer starts at zero: an untrained attacker is the
identity warp.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .grl import reverse_gradient


@dataclass
class DeformationOutput:
    image: torch.Tensor  # (B, 3, H, W) warped image
    masks: torch.Tensor  # (B, N, H, W) warped masks, {0, 1}
    offsets: torch.Tensor  # (B, 2, H, W) (dx, dy) in image pixels: output(p) = input(p + offset(p))


class DeformationAdversary(nn.Module):
    """Predicts and applies a non-rigid warp that the model must stay robust (and calibrated) to."""

    def __init__(self, feature_dim: int = 256, hidden: int = 64, epsilon: float = 0.15, grl_scale: float = 1.0) -> None:
        super().__init__()
        self.feature_dim, self.hidden, self.epsilon, self.grl_scale = feature_dim, hidden, epsilon, grl_scale
        self.net = nn.Sequential(
            nn.Conv2d(feature_dim, hidden, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(hidden, 2, 1),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def config(self) -> dict:
        return dict(feature_dim=self.feature_dim, hidden=self.hidden, epsilon=self.epsilon, grl_scale=self.grl_scale)

    def offsets(self, raw: torch.Tensor, masks: torch.Tensor, valid: torch.Tensor, size: int) -> torch.Tensor:
        """Bounded, smooth, object-centred offsets (B, 2, S, S) in image pixels from a raw field."""
        stride = size / raw.shape[-1]
        bounded = (torch.sigmoid(raw.float()) - 0.5) * (2 * self.epsilon)  # feature pixels, |·| ≤ ε
        field = F.interpolate(bounded, size=(size, size), mode="bilinear", align_corners=False) * stride
        objects = ((masks > 0) & valid[:, :, None, None]).any(dim=1, keepdim=True).float()  # (B, 1, S, S)
        area = objects.flatten(2).sum(-1)  # (B, 1)
        mean = (field * objects).flatten(2).sum(-1) / area.clamp_min(1.0)  # (B, 2)
        return field - torch.where(area > 0, mean, torch.zeros_like(mean))[:, :, None, None]

    def forward(self, image: torch.Tensor, masks: torch.Tensor, valid: torch.Tensor, features: torch.Tensor) -> DeformationOutput:
        raw = self.net(features.detach())
        offsets = self.offsets(raw, masks, valid, image.shape[-1])
        warped_image, warped_masks = warp(image, masks, reverse_gradient(offsets, self.grl_scale))
        return DeformationOutput(warped_image, warped_masks, offsets)


def warp(image: torch.Tensor, masks: torch.Tensor, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``image`` and ``masks`` at p + offsets(p) (pixels): one geometry for both."""
    b, _, h, w = image.shape
    ys = torch.linspace(-1.0, 1.0, h, device=image.device)
    xs = torch.linspace(-1.0, 1.0, w, device=image.device)
    base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (H, W, 2) as (x, y)
    scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=image.device)
    grid = base[None] + offsets.permute(0, 2, 3, 1).float() * scale
    sample = dict(mode="bilinear", padding_mode="border", align_corners=True)
    warped = F.grid_sample(image.float(), grid, **sample).to(image.dtype)
    with torch.no_grad():
        warped_masks = (F.grid_sample(masks.float(), grid.detach(), **sample) > 0.5).to(masks.dtype)
    return warped, warped_masks
