"""SAM2's task loss: focal + dice + IoU-prediction MSE (+ object score), weights 20 : 1 : 1 (: 1).

With several candidate masks (a lone click), focal and dice are taken on the candidate with the
smallest 20·focal + dice, as SAM2 trains; the IoU head is supervised on that candidate or, with
``supervise_all_iou``, on all of them. Everything is averaged over prompts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class TaskLossWeights:
    focal: float = 20.0
    dice: float = 1.0
    iou: float = 1.0
    object_score: float = 1.0
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    supervise_all_iou: bool = True


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float, gamma: float) -> torch.Tensor:
    """Sigmoid focal loss averaged over pixels: (P, M, H, W) → (P, M). ``target`` may be soft."""
    probability = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = probability * target + (1 - probability) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
    return loss.flatten(2).mean(-1)


def dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 − (2|P∩T| + 1)/(|P| + |T| + 1) per mask: (P, M, H, W) → (P, M)."""
    probability = torch.sigmoid(logits).flatten(2)
    target = target.flatten(2)
    return 1 - (2 * (probability * target).sum(-1) + 1) / (probability.sum(-1) + target.sum(-1) + 1)


def actual_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of (logits > 0) with (target > 0.5): (P, M, H, W) → (P, M), no gradient."""
    with torch.no_grad():
        predicted = logits.flatten(2) > 0
        truth = target.flatten(2) > 0.5
        inter = (predicted & truth).sum(-1).float()
        union = (predicted | truth).sum(-1).float()
        return inter / union.clamp_min(1.0)


def task_loss(
    logits: torch.Tensor,
    predicted_iou: torch.Tensor,
    object_score: torch.Tensor,
    target: torch.Tensor,
    weights: TaskLossWeights = TaskLossWeights(),
) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """(loss, parts, best candidate index (P,)).

    ``logits`` (P, M, H, W) candidate masks; ``predicted_iou`` (P, M); ``object_score`` (P,) logits
    (every training object is present); ``target`` (P, H, W) in [0, 1].
    """
    logits = logits.float()
    target = target.float()[:, None].expand_as(logits)
    focal = focal_loss(logits, target, weights.focal_alpha, weights.focal_gamma)
    dice = dice_loss(logits, target)
    iou_error = (predicted_iou.float() - actual_iou(logits, target)) ** 2
    best = torch.argmin(weights.focal * focal + weights.dice * dice, dim=1)
    rows = torch.arange(len(best), device=logits.device)
    focal_best, dice_best = focal[rows, best], dice[rows, best]
    iou_part = iou_error.mean(dim=1) if weights.supervise_all_iou else iou_error[rows, best]
    score = F.binary_cross_entropy_with_logits(object_score.float(), torch.ones_like(object_score, dtype=torch.float32), reduction="none")
    parts = {
        "focal": focal_best.mean(),
        "dice": dice_best.mean(),
        "iou": iou_part.mean(),
        "object_score": score.mean(),
    }
    total = (
        weights.focal * parts["focal"]
        + weights.dice * parts["dice"]
        + weights.iou * parts["iou"]
        + weights.object_score * parts["object_score"]
    )
    return total, parts, best
