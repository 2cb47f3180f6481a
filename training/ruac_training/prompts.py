"""Prompt sampling as SAM2 trains: a noisy box or one click first, then corrective clicks drawn
from the error region of the previous prediction (false negative → positive click, false
positive → negative click; no error → a negative click in the background).

All on-device torch with an explicit ``torch.Generator`` (no global RNG), vectorised over prompts.
Coordinates are model pixels (x = column, y = row), integers as SAM2 uses them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PromptGroup:
    """Prompts decoded together: ``rows`` index the batch's objects; boxes are two corner points
    with labels 2 and 3 before any clicks (how SAM2's prompt encoder takes them)."""

    rows: torch.Tensor  # (G,) long
    points: torch.Tensor  # (G, T, 2) float
    labels: torch.Tensor  # (G, T) int32
    is_box: bool

    @property
    def multimask(self) -> bool:
        """SAM2's rule: three candidate masks for a lone click, one mask otherwise."""
        return not self.is_box and self.points.shape[1] == 1

    def add(self, points: torch.Tensor, labels: torch.Tensor) -> "PromptGroup":
        return PromptGroup(
            self.rows, torch.cat([self.points, points], dim=1), torch.cat([self.labels, labels], dim=1), self.is_box
        )


def mask_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Tight boxes [x0, y0, x1, y1] (x1, y1 one past the last pixel) of (P, H, W) bool masks."""
    p, h, w = masks.shape
    rows, cols = masks.any(dim=2), masks.any(dim=1)
    ys = torch.arange(h, device=masks.device)
    xs = torch.arange(w, device=masks.device)
    y0 = torch.where(rows, ys, h).amin(dim=1)
    y1 = torch.where(rows, ys, -1).amax(dim=1) + 1
    x0 = torch.where(cols, xs, w).amin(dim=1)
    x1 = torch.where(cols, xs, -1).amax(dim=1) + 1
    return torch.stack([x0, y0, x1, y1], dim=1).float()


def noisy_boxes(boxes: torch.Tensor, size: int, noise: float, max_px: float, generator: torch.Generator) -> torch.Tensor:
    """Each corner moved by up to ``noise`` × the box side, at most ``max_px`` (SAM's schedule), clipped."""
    if noise <= 0:
        return boxes
    side = torch.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], dim=1)
    bound = (side * noise).clamp(max=max_px).repeat(1, 2)
    jitter = (2 * torch.rand(boxes.shape, generator=generator, device=boxes.device) - 1) * bound
    out = (boxes + jitter).clamp(0, size)
    # keep a non-empty box
    out[:, 2] = torch.maximum(out[:, 2], out[:, 0] + 1).clamp(max=size)
    out[:, 3] = torch.maximum(out[:, 3], out[:, 1] + 1).clamp(max=size)
    return out


def loosened_boxes(boxes: torch.Tensor, size: int, loose: float, generator: torch.Generator,
                   loose_px: float = 0.0) -> torch.Tensor:
    """Each side moved outward by U(0, ``loose`` × the box side + ``loose_px``) (independently), clipped: users draw
    loose boxes, which often hold parts of neighbours, and the model must find the object inside rather than fill
    the box. ``loose_px`` is a slack in model pixels, the same for every object: a hand's few pixels of slack are
    a large share of a small object's box and a sliver of a large one's (a share of the side taught the model
    to shrink large objects in tight boxes)."""
    if loose <= 0 and loose_px <= 0:
        return boxes
    side = torch.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], dim=1).repeat(1, 2)
    grow = torch.rand(boxes.shape, generator=generator, device=boxes.device) * (loose * side + loose_px)
    sign = torch.tensor([-1.0, -1.0, 1.0, 1.0], device=boxes.device)
    return (boxes + sign * grow).clamp(0, size)


def uniform_points(region: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One pixel per (P, H, W) bool region, uniformly among its True pixels, as (x, y) in its grid."""
    p, h, w = region.shape
    noise = torch.rand(p, h * w, generator=generator, device=region.device) * region.flatten(1)
    index = noise.argmax(dim=1)
    return torch.stack([index % w, index // w], dim=1).float()


def initial_prompts(
    masks: torch.Tensor, box_probability: float, box_noise: float, box_noise_max_px: float, generator: torch.Generator,
    box_loose: float = 0.0,
    box_loose_fraction: float = 1.0,
    box_loose_px: float = 0.0,
) -> list[PromptGroup]:
    """A box (probability ``box_probability``) or one positive click per (P, S, S) mask; a share
    ``box_loose_fraction`` of the boxes is loosened (``loosened_boxes``), the rest stay tight."""
    p, size, _ = masks.shape
    use_box = torch.rand(p, generator=generator, device=masks.device) < box_probability
    boxes = mask_boxes(masks)
    if box_loose > 0 or box_loose_px > 0:
        loose = loosened_boxes(boxes, size, box_loose, generator, box_loose_px)
        if box_loose_fraction < 1:
            pick = torch.rand(p, generator=generator, device=masks.device) < box_loose_fraction
            loose = torch.where(pick[:, None], loose, boxes)
        boxes = loose
    boxes = noisy_boxes(boxes, size, box_noise, box_noise_max_px, generator)
    clicks = uniform_points(masks, generator)
    groups = []
    rows = torch.arange(p, device=masks.device)
    if use_box.any():
        pick = rows[use_box]
        corners = boxes[pick].view(-1, 2, 2)
        labels = torch.tensor([[2, 3]], dtype=torch.int32, device=masks.device).expand(len(pick), 2)
        groups.append(PromptGroup(pick, corners, labels.contiguous(), is_box=True))
    if (~use_box).any():
        pick = rows[~use_box]
        labels = torch.ones(len(pick), 1, dtype=torch.int32, device=masks.device)
        groups.append(PromptGroup(pick, clicks[pick][:, None], labels, is_box=False))
    return groups


def corrective_clicks(
    target: torch.Tensor, predicted: torch.Tensor, image_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """One click per prompt from the error region of ``predicted`` vs ``target`` ((P, h, w) bool).

    Uniform over false negatives (label 1) ∪ false positives (label 0); with no error, a negative
    click in the background. Returns points (P, 1, 2) in model pixels and labels (P, 1) int32.
    """
    p, h, w = target.shape
    false_positive = predicted & ~target
    false_negative = target & ~predicted
    correct = ~(false_positive | false_negative).flatten(1).any(dim=1)
    negative_region = false_positive | (correct[:, None, None] & ~target)
    noise = torch.rand(p, 2, h * w, generator=generator, device=target.device)
    noise = noise * torch.stack([negative_region.flatten(1), false_negative.flatten(1)], dim=1)
    index = noise.flatten(1).argmax(dim=1)
    labels = (index // (h * w)).to(torch.int32)
    pixel = index % (h * w)
    scale = image_size / w
    xy = torch.stack([(pixel % w + 0.5) * scale - 0.5, (pixel // w + 0.5) * scale - 0.5], dim=1)
    return xy[:, None], labels[:, None]
