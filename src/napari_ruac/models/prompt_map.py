"""The prompt map: a box and clicks also drawn into SAM2's dense mask-prompt channel.

SAM2 localises a box or a click through its sparse prompt tokens alone; a model trained from
scratch on little data (ruac-micro) learns that attention slowly — after 300 steps a plain
from-scratch model still filled no box (IoU ≈ 0.08 on unseen scenes), with the map it reached
0.65 (docs/micro_model.md). Models whose config says ``prompt_map: true`` therefore also get this
map through the mask-prompt input whenever no mask prompt is given; the sparse tokens are
unchanged. Values: inside the box +1, outside −1 (0 with no box); a disk around a positive click
+2, around a negative click −2.
"""

from __future__ import annotations

import torch

CLICK_RADIUS = 1.5  # in mask-prompt pixels (model pixels / 4)


def draw_prompt_map(points: torch.Tensor, labels: torch.Tensor, image_size: int, map_size: int) -> torch.Tensor:
    """(B, N, 2) points in model pixels (x, y) with SAM2 labels (2/3 box corners, 1/0 clicks,
    −1 padding) → (B, 1, map_size, map_size) float map."""
    b = points.shape[0]
    stride = image_size / map_size
    grid = (torch.arange(map_size, device=points.device, dtype=torch.float32) + 0.5) * stride - 0.5
    gy, gx = grid[:, None], grid[None, :]
    out = torch.zeros(b, map_size, map_size, device=points.device, dtype=torch.float32)
    pts = points.float()
    labels = labels.to(pts.device)
    is_tl, is_br = labels == 2, labels == 3
    has_box = is_tl.any(dim=1) & is_br.any(dim=1)
    if has_box.any():
        tl = (pts * is_tl[..., None]).sum(1) / is_tl.sum(1, keepdim=True).clamp_min(1)
        br = (pts * is_br[..., None]).sum(1) / is_br.sum(1, keepdim=True).clamp_min(1)
        inside = ((gx >= tl[:, 0, None, None]) & (gx <= br[:, 0, None, None])
                  & (gy >= tl[:, 1, None, None]) & (gy <= br[:, 1, None, None]))
        box_map = inside.float() * 2 - 1
        out = torch.where(has_box[:, None, None], box_map, out)
    radius = CLICK_RADIUS * stride
    for value, label in ((2.0, 1), (-2.0, 0)):
        chosen = labels == label
        if not chosen.any():
            continue
        d2 = (gx[None, None] - pts[..., 0, None, None]) ** 2 + (gy[None, None] - pts[..., 1, None, None]) ** 2
        near = ((d2 <= radius**2) & chosen[..., None, None]).any(dim=1)
        out = torch.where(near, torch.full_like(out, value), out)
    return out[:, None]


def region_prompt_map(region: torch.Tensor, points: torch.Tensor | None, labels: torch.Tensor | None,
                      image_size: int) -> torch.Tensor:
    """An existing mask as the prompt map of a model trained with it: the region takes the box's
    values (inside +1, outside −1: the box map generalised to the object's shape) and clicks
    keep their ±2 disks on top. ``region``: (B, 1, m, m) bool; points/labels as in
    :func:`draw_prompt_map` (clicks only). Measured on ruac-micro (16 objects of generated
    scenes, a mask missing a third + one click): IoU 0.76 with this map, 0.68 with ±6.9 logits."""
    out = region.float() * 2 - 1
    if points is not None and points.shape[1] > 0:
        clicks = draw_prompt_map(points, labels, image_size, region.shape[-1])
        out = torch.where(clicks != 0, clicks, out)
    return out
