"""``prompt``: prompt perturbation (UncertSAM §2 (ii)): N jittered copies of each prompt go
through the decoder together (the image embedding is reused); P̄ = mean probability, U = H(P̄).

The jitter is SAM2's training schedule: each box coordinate moves by uniform noise in
[−m, m], m = min(10 % of the box side, 20 image pixels), converted to the model frame;
clicks move by uniform noise of at most ``point_px`` (3) image pixels per axis.
Options: ``num_samples`` (16), ``seed``, ``batch_size``; ``extra``: ``box_noise`` (0.1),
``box_max_px`` (20), ``point_px`` (3), ``image_hw`` (the image's (H, W); the predictors set it).
"""

from __future__ import annotations

import torch

from ..models.prompts import PromptBatch
from .base import Method, MethodContext, MethodOutput, register_method
from .ensemble import ensemble_output


def pixels_per_image_pixel(image_hw: tuple[int, int] | None, image_size: int) -> tuple[float, float]:
    """Model-frame pixels per image pixel along x and y (1 when the image size is unknown)."""
    if image_hw is None:
        return 1.0, 1.0
    h, w = image_hw
    return image_size / float(w), image_size / float(h)


def perturb_prompts(
    prompts: PromptBatch,
    count: int,
    generator: torch.Generator,
    image_size: int,
    image_hw: tuple[int, int] | None = None,
    box_noise: float = 0.1,
    box_max_px: float = 20.0,
    point_px: float = 3.0,
) -> PromptBatch:
    """``count`` jittered copies of every prompt, prompt-major: rows [i·count, (i+1)·count)
    belong to prompt i. Coordinates stay inside the model frame."""
    if count < 1:
        raise ValueError(f"count must be ≥ 1, got {count}")
    sx, sy = pixels_per_image_pixel(image_hw, image_size)
    out = prompts.repeat(count)
    limit = float(image_size - 1)
    if out.boxes is not None:
        boxes = out.boxes
        width = boxes[:, 2] - boxes[:, 0]
        height = boxes[:, 3] - boxes[:, 1]
        max_dx = torch.clamp(width * box_noise, max=box_max_px * sx)
        max_dy = torch.clamp(height * box_noise, max=box_max_px * sy)
        bound = torch.stack([max_dx, max_dy, max_dx, max_dy], dim=-1)
        noise = 2.0 * torch.rand(boxes.shape, generator=generator, dtype=boxes.dtype) - 1.0
        out.boxes = (boxes + noise.to(boxes.device) * bound).clamp(0.0, limit)
    if out.points is not None:
        points = out.points
        scale = torch.tensor([sx, sy], dtype=points.dtype, device=points.device) * point_px
        noise = 2.0 * torch.rand(points.shape, generator=generator, dtype=points.dtype) - 1.0
        out.points = (points + noise.to(points.device) * scale).clamp(0.0, limit)
    return out


def image_hw_of(ctx: MethodContext) -> tuple[int, int] | None:
    hw = getattr(ctx, "image_hw", None) or ctx.options.extra.get("image_hw")
    return None if hw is None else (int(hw[0]), int(hw[1]))


class PromptPerturbation(Method):
    name = "prompt"
    description = "prompt perturbation (UncertSAM): entropy of the mean over N jittered prompts (default 16)"
    supports_volume = False  # N decodes per prompt; VolumePredictor propagates one prompt
    default_samples = 16

    def run(self, ctx: MethodContext, prompts: PromptBatch) -> MethodOutput:
        options = ctx.options
        count = options.samples(self.default_samples)
        generator = torch.Generator().manual_seed(int(options.seed))
        jittered = perturb_prompts(
            prompts,
            count,
            generator,
            ctx.model.image_size,
            image_hw=image_hw_of(ctx),
            box_noise=float(options.extra.get("box_noise", 0.1)),
            box_max_px=float(options.extra.get("box_max_px", 20.0)),
            point_px=float(options.extra.get("point_px", 3.0)),
        )
        chunk_size = max(int(options.batch_size), count)  # one prompt's N samples share a decoder pass
        probabilities, ious, scores = [], [], []
        for start in range(0, jittered.size, chunk_size):
            chunk = jittered.index(slice(start, start + chunk_size))
            sparse, dense = ctx.model.encode_prompts(chunk.points, chunk.labels, chunk.boxes, chunk.mask_input)
            _, selected = ctx.model.decode(ctx.features, sparse, dense, multimask=prompts.multimask)
            probabilities.append(torch.sigmoid(selected.logit))
            ious.append(selected.iou)
            scores.append(selected.object_score)
        probability = torch.cat(probabilities).unflatten(0, (prompts.size, count))
        iou = torch.cat(ious).view(prompts.size, count).mean(1)
        score = torch.cat(scores).view(prompts.size, count).mean(1)
        return ensemble_output(probability.mean(1), iou, score)


register_method(PromptPerturbation())
