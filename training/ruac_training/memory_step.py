"""One training forward of ``train.mode: memory``: SAM2's video-memory path on clips of z-stacks.

For each clip (T slices, objects present on the first): the (frozen) image encoder reads the T
slices once; every object gets a box (jittered) on slice 0 and is then tracked through slices
1…T-1 with no prompt by exactly the inference code, ``napari_ruac.inference.volume_tracking.
track_frame`` (memory attention over the memory bank → prompt-less decoder → object pointer →
memory encoder). The loss is taken on every slice: focal (BCE with alpha -1, gamma 0) + dice + IoU
MSE where the object is present, the object-score BCE on every slice (target 0 where it has
vanished), as SAM2 trains. Gradients reach the memory encoder, memory attention, object pointers
and, when trainable, the mask decoder and prompt encoder through the whole clip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from napari_ruac.inference.volume_tracking import ObjectTrack, track_frame
from napari_ruac.models import ImageFeatures, RUACModel
from napari_ruac.uq import MethodOptions

from .losses.task import TaskLossWeights, actual_iou, dice_loss, focal_loss
from .prompts import mask_boxes

class _Capture:
    """A one-pass 'method' for track_frame that keeps the decoder's selected mask (with its graph)."""

    name = "capture"

    def __init__(self) -> None:
        self.selected = None

    def apply(self, model, selected, options):
        self.selected = selected
        probability = torch.sigmoid(selected.logit.float())
        return selected.logit, probability, torch.zeros_like(probability)


@dataclass
class MemoryOutput:
    loss: torch.Tensor
    logs: dict[str, torch.Tensor]
    visuals: None = None


@dataclass
class MemorySettings:
    weights: TaskLossWeights
    box_noise: float = 0.1
    box_noise_max_px: float = 20.0
    encoder_trainable: bool = False

    @classmethod
    def from_config(cls, config: dict, encoder_trainable: bool) -> "MemorySettings":
        loss, prompts = config["loss"], config["prompts"]
        weights = TaskLossWeights(**{k: loss[k] for k in TaskLossWeights.__dataclass_fields__})
        return cls(weights, float(prompts["box_noise"]), float(prompts["box_noise_max_px"]), encoder_trainable)


def jittered_boxes(masks: torch.Tensor, noise: float, max_px: float, generator: torch.Generator | None) -> torch.Tensor:
    """Tight boxes of (P, H, W) masks, each side moved by N(0, noise × side) clipped to ±max_px (SAM's box noise)."""
    boxes = mask_boxes(masks > 0).float()
    if noise <= 0:
        return boxes
    side = torch.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, dim=1)
    where = generator.device if generator is not None else boxes.device
    shift = torch.randn(boxes.shape, generator=generator, device=where).to(boxes.device) * noise * side
    boxes = boxes + shift.clamp(-max_px, max_px)
    h, w = masks.shape[-2:]
    limit = torch.tensor([w, h, w, h], dtype=boxes.dtype, device=boxes.device)
    boxes = torch.minimum(boxes.clamp_min(0), limit)
    lo = torch.minimum(boxes[:, :2], boxes[:, 2:] - 1)  # keep x0 < x1, y0 < y1
    return torch.cat([lo, torch.maximum(boxes[:, 2:], lo + 1)], dim=1)


def track_clip(model: RUACModel, images: torch.Tensor, boxes: torch.Tensor, encoder_grad: bool = False):
    """Track each box's object from slice 0 through the clip ``images`` (T, 3, S, S).

    Returns per object a list over slices of the decoder's SelectedMask (logit, iou, object_score).
    """
    with torch.set_grad_enabled(encoder_grad and torch.is_grad_enabled()):
        features = model.encode_image(images)
    frames = images.shape[0]
    capture, options, outputs = _Capture(), MethodOptions(), []
    for box in boxes:  # one memory bank per object, as VolumePredictor keeps them
        prompt = {"point_coords": box.reshape(1, 2, 2),
                  "point_labels": torch.tensor([[2, 3]], dtype=torch.int32, device=images.device)}
        track, selected = ObjectTrack(prompts={0: prompt}), []
        for t in range(frames):
            track_frame(model, capture, options, track, t, features.index(t), frames, False, t == 0)
            selected.append(capture.selected)
        outputs.append(selected)
    return outputs


def clip_losses(outputs, masks: torch.Tensor, present: torch.Tensor, weights: TaskLossWeights, low: int):
    """SAM2's per-slice losses over objects × slices; ``masks`` (P, T, S, S), ``present`` (P, T)."""
    logits = torch.stack([torch.stack([s.logit.float()[0] for s in obj]) for obj in outputs])  # (P, T, h, w)
    predicted_iou = torch.stack([torch.stack([s.iou.float()[0] for s in obj]) for obj in outputs])
    scores = torch.stack([torch.stack([s.object_score.float()[0] for s in obj]) for obj in outputs])
    target = F.interpolate(masks.float(), size=(low, low), mode="area")  # (P, T, h, w)
    here = present.float()
    focal = focal_loss(logits, target, weights.focal_alpha, weights.focal_gamma)  # (P, T)
    dice = dice_loss(logits, target)
    iou = actual_iou(logits, target)
    iou_error = (predicted_iou - iou) ** 2
    score = F.binary_cross_entropy_with_logits(scores, here, reduction="none")
    count = here.sum().clamp_min(1.0)
    parts = {"focal": (focal * here).sum() / count, "dice": (dice * here).sum() / count,
             "iou": (iou_error * here).sum() / count, "object_score": score.mean()}
    total = sum(getattr(weights, k) * v for k, v in parts.items())
    tracked = here[:, 1:]
    with torch.no_grad():
        absent_ok = ((scores <= 0) == (here == 0)).float().mean()
        logs = {
            "total": total.detach(), "task_clean": total.detach(),
            **{f"{k}_clean": v.detach() for k, v in parts.items()},
            "train_iou": iou[:, 0].mean(),  # the prompted slice
            "track_iou": (iou[:, 1:] * tracked).sum() / tracked.sum().clamp_min(1.0),
            "presence_accuracy": absent_ok,
        }
    return total, logs, iou


class MemoryTrainingStep(nn.Module):
    """The module the trainer (and DDP) calls in memory mode: batch of clips → loss and logs."""

    def __init__(self, model: RUACModel, settings: MemorySettings) -> None:
        super().__init__()
        self.model, self.settings = model, settings

    def forward(self, batch: dict, weights=None, generator: torch.Generator | None = None, visuals: bool = False) -> MemoryOutput:
        # the memory modules' dropout draws from the global RNG: seed it from the step's generator, so
        # that a resumed run draws what the uninterrupted run drew
        device = batch["image"].device
        seed = 0 if generator is None else int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            return self._forward(batch, generator)

    def _forward(self, batch: dict, generator: torch.Generator | None) -> MemoryOutput:
        totals, logs = [], {}
        clips = batch["image"].shape[0]
        for c in range(clips):
            rows = torch.nonzero(batch["valid"][c], as_tuple=True)[0]
            masks, present = batch["masks"][c, rows], batch["present"][c, rows]
            boxes = jittered_boxes(masks[:, 0], self.settings.box_noise, self.settings.box_noise_max_px, generator)
            outputs = track_clip(self.model, batch["image"][c], boxes, self.settings.encoder_trainable)
            total, clip_logs, _ = clip_losses(outputs, masks, present, self.settings.weights, self.model.low_res_size)
            totals.append(total)
            for key, value in clip_logs.items():
                logs[key] = logs.get(key, 0.0) + value / clips
        return MemoryOutput(torch.stack(totals).mean(), logs)


@torch.no_grad()
def validate_memory(model: RUACModel, loader, device: torch.device, max_batches: int | None = None) -> dict[str, float]:
    """Tracking from the exact box on held-out clips: ``iou`` = 3D IoU over each clip (all slices, the
    decoder's grid), ``track_iou`` = mean per-slice IoU of the tracked slices where the object is
    present, ``presence_accuracy`` = object score > 0 exactly where the object is, ``loss``."""
    model.eval()
    weights = TaskLossWeights()
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}

    def add(key: str, value: float, n: float = 1.0) -> None:
        if not math.isnan(value):
            sums[key] = sums.get(key, 0.0) + value * n
            counts[key] = counts.get(key, 0.0) + n

    low = model.low_res_size
    for index, batch in enumerate(loader):
        if max_batches is not None and index >= max_batches:
            break
        for c in range(batch["image"].shape[0]):
            rows = torch.nonzero(batch["valid"][c], as_tuple=True)[0]
            masks, present = batch["masks"][c, rows].to(device), batch["present"][c, rows].to(device)
            outputs = track_clip(model, batch["image"][c].to(device), mask_boxes(masks[:, 0] > 0).float())
            total, logs, _ = clip_losses(outputs, masks, present, weights, low)
            add("loss", float(total))
            add("track_iou", float(logs["track_iou"]), float(present[:, 1:].sum()))
            add("presence_accuracy", float(logs["presence_accuracy"]))
            target = F.interpolate(masks.float(), size=(low, low), mode="area") > 0.5
            for obj, truth in zip(outputs, target):
                predicted = torch.stack([s.logit[0] > 0 for s in obj]) & torch.stack([s.object_score[0] > 0 for s in obj])[:, None, None]
                union = float((predicted | truth).sum())
                add("iou", float((predicted & truth).sum()) / union if union else float("nan"))
    return {k: sums[k] / counts[k] for k in sums}
