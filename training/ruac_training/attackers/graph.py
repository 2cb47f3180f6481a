"""The object graph of the Style Adversarial Network (RUAC appendix, METHOD.md §2).

Nodes: the background (node 0) and the objects of an image (node i + 1 for object i).
Edges between objects: IoU(M_i, M_j) if > τ_IoU; proximity max(0, 1 − d/d_max) if d < τ_d
(d = smallest distance between the two masks, as a fraction of the image diagonal); semantic
cos(f_i, f_j) if > τ_sim; the weight is their sum. Self-loops weigh 1, background edges 0.5.
Geometry runs on masks max-pooled to a small grid, with an exact Euclidean distance transform
computed separably in torch (no per-object Python loops, no CPU round trip).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

_FAR = 1e8


@dataclass(frozen=True)
class GraphRule:
    """Thresholds and weights of the edges (defaults: the public RUAC code's values)."""

    iou_threshold: float = 0.0
    distance_threshold: float = 1.0  # τ_d as a fraction of the diagonal
    distance_max: float = 1.0  # d_max as a fraction of the diagonal
    similarity_threshold: float = 0.5
    background_weight: float = 0.5
    resolution: int = 64


def region_owner(masks: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B, H, W) long: 1 + the index of the smallest valid object covering each pixel, 0 for background."""
    covered = (masks > 0) & valid[:, :, None, None]
    area = covered.flatten(2).sum(-1).float()  # (B, N)
    cost = torch.where(covered, area[:, :, None, None], torch.full_like(area[:, :, None, None], math.inf))
    best = cost.argmin(dim=1)
    return torch.where(covered.any(dim=1), best + 1, torch.zeros_like(best))


def distance_transform(masks: torch.Tensor) -> torch.Tensor:
    """Euclidean distance (grid pixels) from every pixel to the nearest True pixel of each mask.

    ``masks``: (..., h, w) bool. Separable brute force: min over columns, then over rows.
    """
    *lead, h, w = masks.shape
    far = torch.where(masks, 0.0, _FAR).float()
    xs = torch.arange(w, device=masks.device, dtype=torch.float32)
    ys = torch.arange(h, device=masks.device, dtype=torch.float32)
    dx2 = (xs[:, None] - xs[None, :]) ** 2  # (w, w')
    dy2 = (ys[:, None] - ys[None, :]) ** 2  # (h, h')
    along_x = (far[..., :, None, :] + dx2).amin(dim=-1)  # (..., h, w)
    along_y = (along_x[..., None, :, :] + dy2[:, :, None]).amin(dim=-2)  # (..., h, w)
    return along_y.clamp(max=_FAR).sqrt()


def pooled_masks(masks: torch.Tensor, resolution: int) -> torch.Tensor:
    """(B, N, H, W) → (B, N, r, r) bool by max pooling (thin objects survive)."""
    r = min(resolution, masks.shape[-1])
    return F.adaptive_max_pool2d(masks.float(), (r, r)) > 0


def pair_iou(small: torch.Tensor) -> torch.Tensor:
    """IoU of every pair of (B, N, r, r) bool masks: (B, N, N)."""
    flat = small.flatten(2).float()
    inter = flat @ flat.transpose(1, 2)
    area = flat.sum(-1)
    union = area[:, :, None] + area[:, None, :] - inter
    return inter / union.clamp_min(1.0)


def pair_distance(small: torch.Tensor) -> torch.Tensor:
    """Smallest distance between every pair of (B, N, r, r) bool masks, as a fraction of the diagonal."""
    b, n, h, w = small.shape
    dist = distance_transform(small)  # (B, N, h, w)
    # d(i, j) = min over pixels of mask j of the distance to mask i
    masked = torch.where(small[:, None], dist[:, :, None], torch.full_like(dist[:, :, None], _FAR))
    d = masked.flatten(3).amin(dim=-1)  # (B, N, N)
    return d / math.hypot(h, w)


def adjacency(
    masks: torch.Tensor, valid: torch.Tensor, node_features: torch.Tensor, rule: GraphRule = GraphRule()
) -> torch.Tensor:
    """Weighted adjacency (B, N + 1, N + 1) with node 0 the background.

    ``node_features``: (B, N, D) object features for the semantic edges (masked-pooled SAM2 features).
    """
    b, n = valid.shape
    small = pooled_masks(masks, rule.resolution)
    pair_valid = valid[:, :, None] & valid[:, None, :]
    iou = pair_iou(small)
    distance = pair_distance(small)
    features = F.normalize(node_features.float(), dim=-1)
    similarity = features @ features.transpose(1, 2)
    weight = torch.where(iou > rule.iou_threshold, iou, 0.0)
    proximity = (1.0 - distance / rule.distance_max).clamp_min(0.0)
    weight = weight + torch.where(distance < rule.distance_threshold, proximity, 0.0)
    weight = weight + torch.where(similarity > rule.similarity_threshold, similarity, 0.0)
    eye = torch.eye(n, dtype=torch.bool, device=masks.device)
    weight = torch.where(pair_valid & ~eye, weight, 0.0)
    full = torch.zeros(b, n + 1, n + 1, device=masks.device)
    full[:, 1:, 1:] = weight
    full[:, 0, 1:] = rule.background_weight * valid.float()
    full[:, 1:, 0] = rule.background_weight * valid.float()
    return full + torch.eye(n + 1, device=masks.device)  # self-loops (also keep empty nodes well-defined)


def normalise(adj: torch.Tensor) -> torch.Tensor:
    """D^{-1/2} A D^{-1/2} (the GCN propagation matrix)."""
    inv_sqrt = adj.sum(-1).clamp_min(1e-12).rsqrt()
    return inv_sqrt[:, :, None] * adj * inv_sqrt[:, None, :]
