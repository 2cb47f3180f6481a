"""Style Adversarial Network: an object graph → GCN → per-object AdaIN style parameters.

Each node (background + objects) gets [channel mean, channel std of its pixels, masked-pooled
SAM2 features]; two degree-normalised GCN layers with a 0.1-scaled residual branch refine them;
a head outputs bounded parameters per node and channel — mean scale in [0.8, 1.2], shift
0.3·tanh, std scale in [0.5, 1.5] — and mask-aware AdaIN restyles each node's pixels in the
normalised image space: x' = (x − μ)·std_scale + μ·mean_scale + shift. The output layer starts
at zero, so an untrained attacker is the identity. The parameters pass a Gradient Reversal
Layer before use: the attacker ascends the loss the model descends.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .graph import GraphRule, adjacency, normalise, region_owner
from .grl import reverse_gradient


@dataclass
class StyleOutput:
    image: torch.Tensor  # (B, 3, H, W) restyled normalised image
    mean_scale: torch.Tensor  # (B, K, C) per node (node 0 = background), C = 3 or 1 (shared)
    shift: torch.Tensor
    std_scale: torch.Tensor
    owner: torch.Tensor  # (B, H, W) node index of every pixel


def region_statistics(image: torch.Tensor, owner: torch.Tensor, nodes: int) -> tuple[torch.Tensor, ...]:
    """Per-node channel mean and std of ``image`` (B, C, H, W) over the pixels each node owns:
    (mean (B, K, C), std (B, K, C), count (B, K))."""
    b, c = image.shape[:2]
    flat = image.flatten(2).float()
    index = owner.flatten(1)
    expanded = index[:, None].expand(-1, c, -1)
    sums = flat.new_zeros(b, c, nodes).scatter_add(2, expanded, flat)
    squares = flat.new_zeros(b, c, nodes).scatter_add(2, expanded, flat * flat)
    count = flat.new_zeros(b, nodes).scatter_add(1, index, torch.ones_like(index, dtype=flat.dtype))
    mean = sums / count[:, None].clamp_min(1.0)
    var = (squares / count[:, None].clamp_min(1.0) - mean**2).clamp_min(0.0)
    return mean.transpose(1, 2), (var + 1e-6).sqrt().transpose(1, 2), count


class StyleAdversary(nn.Module):
    """Restyles objects and background of a batch, coherently across related objects."""

    def __init__(
        self,
        feature_dim: int = 256,
        hidden: int = 64,
        layers: int = 2,
        residual_scale: float = 0.1,
        mean_range: float = 0.2,
        shift_range: float = 0.3,
        std_range: float = 0.5,
        background: bool = True,
        shared_channels: bool = False,
        grl_scale: float = 1.0,
        iou_threshold: float = 0.0,
        distance_threshold: float = 1.0,
        distance_max: float = 1.0,
        similarity_threshold: float = 0.5,
        background_weight: float = 0.5,
        graph_resolution: int = 64,
    ) -> None:
        super().__init__()
        self.settings = dict(
            feature_dim=feature_dim, hidden=hidden, layers=layers, residual_scale=residual_scale,
            mean_range=mean_range, shift_range=shift_range, std_range=std_range, background=background,
            shared_channels=shared_channels, grl_scale=grl_scale, iou_threshold=iou_threshold,
            distance_threshold=distance_threshold, distance_max=distance_max,
            similarity_threshold=similarity_threshold, background_weight=background_weight,
            graph_resolution=graph_resolution,
        )
        self.rule = GraphRule(iou_threshold, distance_threshold, distance_max, similarity_threshold,
                              background_weight, graph_resolution)
        self.residual_scale = residual_scale
        self.ranges = (mean_range, shift_range, std_range)
        self.background = background
        self.channels = 1 if shared_channels else 3
        self.grl_scale = grl_scale
        self.embed = nn.Sequential(nn.LayerNorm(6 + feature_dim), nn.Linear(6 + feature_dim, hidden), nn.GELU())
        self.gcn = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
        self.out = nn.Linear(hidden, 3 * self.channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def config(self) -> dict:
        return dict(self.settings)

    def node_inputs(self, image, owner, masks, features):
        """(node features (B, K, 6 + D), object features for semantic edges (B, N, D))."""
        nodes = masks.shape[1] + 1
        mean, std, _ = region_statistics(image, owner, nodes)
        one_hot = F.one_hot(owner, nodes).permute(0, 3, 1, 2).float()
        weights = F.adaptive_avg_pool2d(one_hot, features.shape[-2:])  # (B, K, h, w) region fractions
        pooled = torch.einsum("bkhw,bdhw->bkd", weights, features.float())
        pooled = pooled / weights.flatten(2).sum(-1, keepdim=True).clamp_min(1e-6)
        # semantic edges compare the objects' own masks (an overlapped object keeps its identity)
        object_weights = F.adaptive_avg_pool2d(masks.float(), features.shape[-2:])
        object_features = torch.einsum("bnhw,bdhw->bnd", object_weights, features.float())
        object_features = object_features / object_weights.flatten(2).sum(-1, keepdim=True).clamp_min(1e-6)
        return torch.cat([mean, std, pooled], dim=-1), object_features

    def parameters_for(self, nodes: torch.Tensor, adj: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """GCN over the graph → bounded (mean_scale, shift, std_scale), each (B, K, C)."""
        propagate = normalise(adj)
        h = self.embed(nodes)
        for layer in self.gcn:
            h = h + self.residual_scale * F.gelu(propagate @ layer(h))
        raw = torch.tanh(self.out(h)).view(*h.shape[:2], 3, self.channels)
        if not self.background:
            raw = torch.cat([torch.zeros_like(raw[:, :1]), raw[:, 1:]], dim=1)
        mean_range, shift_range, std_range = self.ranges
        return 1.0 + mean_range * raw[:, :, 0], shift_range * raw[:, :, 1], 1.0 + std_range * raw[:, :, 2]

    def forward(self, image: torch.Tensor, masks: torch.Tensor, valid: torch.Tensor, features: torch.Tensor) -> StyleOutput:
        """``image`` (B, 3, H, W) normalised; ``masks`` (B, N, H, W); ``valid`` (B, N); ``features``
        (B, D, h, w) SAM2 image embedding of the clean image (detached here)."""
        features = features.detach()
        with torch.no_grad():
            owner = region_owner(masks, valid)
            nodes, object_features = self.node_inputs(image.detach(), owner, masks, features)
            adj = adjacency(masks, valid, object_features, self.rule)
        mean_scale, shift, std_scale = self.parameters_for(nodes, adj)
        params = reverse_gradient(torch.stack([mean_scale, shift, std_scale]), self.grl_scale)
        restyled = adain(image, owner, params[0], params[1], params[2])
        return StyleOutput(restyled, mean_scale, shift, std_scale, owner)


def adain(image, owner, mean_scale, shift, std_scale) -> torch.Tensor:
    """x' = (x − μ_k)·std_scale_k + μ_k·mean_scale_k + shift_k for the node k owning each pixel
    (μ_k: the node's channel mean; (x − μ)/σ·(σ·std_scale) simplifies to (x − μ)·std_scale)."""
    b, c, h, w = image.shape
    nodes = mean_scale.shape[1]
    mean, _, _ = region_statistics(image, owner, nodes)  # (B, K, C)
    index = owner.flatten(1)[:, None].expand(-1, c, -1)

    def per_pixel(values: torch.Tensor) -> torch.Tensor:  # (B, K, C or 1) → (B, C, H·W)
        return values.expand(b, nodes, c).transpose(1, 2).gather(2, index)

    flat = image.flatten(2)
    mu = per_pixel(mean)
    out = (flat - mu) * per_pixel(std_scale) + mu * per_pixel(mean_scale) + per_pixel(shift)
    return out.view(b, c, h, w).to(image.dtype)
