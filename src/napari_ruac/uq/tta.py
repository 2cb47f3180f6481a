"""``tta``: test-time augmentation (UncertSAM §2 (i)): N augmented copies of the image are
encoded and decoded with consistently moved prompts; the outputs are moved back to the
original frame and averaged. P̄ = mean probability, U = H(P̄).

Options: ``num_samples`` (default 16), ``seed``, ``batch_size`` (images per encoder pass),
``extra["tta_set"]``: ``train`` (default) | ``hue`` | ``hue-only`` | ``identity`` (see augmentations).
"""

from __future__ import annotations

import numpy as np
import torch

from .augmentations import (
    Augmentation,
    augment_image,
    augmentation_set,
    normalise,
    sample_augmentations,
    unnormalise,
    unwarp_maps,
    warp_boxes,
    warp_maps,
    warp_points,
)
from ..models.prompts import PromptBatch
from .base import Method, MethodContext, MethodOutput, register_method
from .ensemble import ensemble_output

MASK_PROMPT_FILL = -10.0  # logit given to mask-prompt pixels that a zoom-out moves into view


def augment_prompts(prompts: PromptBatch, aug: Augmentation) -> PromptBatch:
    """The same prompts in the augmented frame."""
    return PromptBatch(
        points=None if prompts.points is None else warp_points(prompts.points, aug),
        labels=prompts.labels,
        boxes=None if prompts.boxes is None else warp_boxes(prompts.boxes, aug),
        mask_input=None if prompts.mask_input is None else warp_maps(prompts.mask_input, aug, MASK_PROMPT_FILL),
        multimask=prompts.multimask,
    )


class TTAMethod(Method):
    name = "tta"
    description = "test-time augmentation (UncertSAM): entropy of the mean over N augmented passes (default 16)"
    supports_volume = False  # every sample re-encodes the image; no propagation variant
    default_samples = 16

    def augmentations(self, ctx: MethodContext) -> list[Augmentation]:
        spec = augmentation_set(ctx.options.extra.get("tta_set", "train"))
        rng = np.random.default_rng(int(ctx.options.seed))
        count = ctx.options.samples(self.default_samples)
        return sample_augmentations(spec, count, rng, ctx.model.image_size)

    def run(self, ctx: MethodContext, prompts: PromptBatch) -> MethodOutput:
        if ctx.image is None:
            raise ValueError("tta re-encodes the image: it needs the model input (predictor.set_image first).")
        model = ctx.model
        augs = self.augmentations(ctx)
        unit = unnormalise(ctx.image)
        probability_sum = iou_sum = score_sum = None
        step = max(1, int(ctx.options.batch_size))
        for start in range(0, len(augs), step):
            chunk = augs[start : start + step]
            batch = torch.cat([augment_image(unit, aug) for aug in chunk], dim=0)
            features = model.encode_image(normalise(batch))
            for k, aug in enumerate(chunk):
                moved = augment_prompts(prompts, aug)
                sparse, dense = model.encode_prompts(moved.points, moved.labels, moved.boxes, moved.mask_input)
                _, selected = model.decode(features.index(k), sparse, dense, multimask=prompts.multimask)
                probability = torch.sigmoid(unwarp_maps(selected.logit, aug))
                if probability_sum is None:
                    probability_sum, iou_sum, score_sum = probability, selected.iou, selected.object_score
                else:
                    probability_sum = probability_sum + probability
                    iou_sum = iou_sum + selected.iou
                    score_sum = score_sum + selected.object_score
        n = float(len(augs))
        return ensemble_output(probability_sum / n, iou_sum / n, score_sum / n)


register_method(TTAMethod())
