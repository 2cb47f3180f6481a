"""Dense embedding fusion: uncertainty-guided refinement (UncertSAM §2, App. D).

Beside SAM2's mask-prompt encoder (which embeds the first pass's mask logits), a small CNN
of the same shape encodes [P̄, U] at the mask-input resolution (S/4); the two dense
embeddings are concatenated and a 1×1 convolution brings them back to the embedding width.
A second decoder pass with the fused dense embedding gives the refined mask.
The 1×1 convolution starts as "pass the mask embedding through", so an untrained head
reproduces SAM2's own mask-prompt refinement; training (ruac_training.posthoc.train_fusion)
teaches it to use the maps. Control (the paper's "ones map"): U replaced by a constant 1.
"""

from __future__ import annotations

import torch

from ..models.extra_heads import DenseFusion
from ..models.uncertainty import binary_entropy
from ..models.prompts import PromptBatch
from .base import MethodContext, MethodOptions, MethodOutput
from .ensemble import LOGIT_LIMIT, find_extra

HOW_TO_TRAIN = (
    "Train one with ruac_training.posthoc.train_fusion(model, images, masks, method=...) "
    "(it attaches the head as model.extras['fusion']; save_ruac_checkpoint keeps it), or pass fusion=head."
)


def resolve_fusion(model, options: MethodOptions) -> DenseFusion:
    head = find_extra(model, options, "fusion", "Refinement (refine=True) needs a trained dense-fusion head. " + HOW_TO_TRAIN)
    if not isinstance(head, DenseFusion):
        raise TypeError(f"fusion must be a DenseFusion, got {type(head).__name__}")
    return head


def fused_decode(ctx: MethodContext, prompts: PromptBatch, first: MethodOutput, fusion: DenseFusion, ones_map=None):
    """The second decoder pass for all prompts (no batching); returns SAM2's selected masks."""
    mask_input = first.mask_logit.clamp(-LOGIT_LIMIT, LOGIT_LIMIT)[:, None]
    sparse, dense = ctx.model.encode_prompts(prompts.points, prompts.labels, prompts.boxes, mask_input)
    fused = fusion(dense, first.probability, first.uncertainty, ones_map=ones_map)
    _, selected = ctx.model.decode(ctx.features, sparse, fused, multimask=False)
    return selected


def refine_output(ctx: MethodContext, prompts: PromptBatch, first: MethodOutput) -> MethodOutput:
    """Refine a method's first output with the fusion head; U of the result = H(σ(ℓ₂)).
    ``extra["fusion_ones_map"]`` overrides the head's ones-map setting."""
    fusion = resolve_fusion(ctx.model, ctx.options)
    ones_map = ctx.options.extra.get("fusion_ones_map")
    step = max(1, int(ctx.options.batch_size))
    parts = []
    for start in range(0, prompts.size, step):
        rows = slice(start, start + step)
        chunk_first = MethodOutput(first.mask_logit[rows], first.probability[rows], first.uncertainty[rows], first.iou[rows])
        selected = fused_decode(ctx, prompts.index(rows), chunk_first, fusion, ones_map)
        parts.append((selected.logit, selected.iou, selected.object_score))
    logit = torch.cat([p[0] for p in parts])
    probability = torch.sigmoid(logit)
    return MethodOutput(
        mask_logit=logit,
        probability=probability,
        uncertainty=binary_entropy(probability),
        iou=torch.cat([p[1] for p in parts]),
        extras={"object_score": torch.cat([p[2] for p in parts])},
    )
