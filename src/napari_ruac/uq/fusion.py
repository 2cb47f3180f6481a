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
from sam2.modeling.sam2_utils import LayerNorm2d
from torch import nn

from ..models.uncertainty import binary_entropy
from .base import MethodContext, MethodOptions, MethodOutput, PromptBatch
from .ensemble import LOGIT_LIMIT, find_extra

HOW_TO_TRAIN = (
    "Train one with ruac_training.posthoc.train_fusion(model, images, masks, method=...) "
    "(it attaches the head as model.extras['fusion']; save_ruac_checkpoint keeps it), or pass fusion=head."
)


class DenseFusion(nn.Module):
    """Fuses SAM2's dense mask embedding with an embedding of the [P̄, U] maps."""

    def __init__(self, embed_dim: int = 256, hidden_channels: int = 16, ones_map: bool = False) -> None:
        super().__init__()
        self.embed_dim, self.hidden_channels, self.ones_map = int(embed_dim), int(hidden_channels), bool(ones_map)
        quarter = max(1, self.hidden_channels // 4)
        self.uncertainty_encoder = nn.Sequential(
            nn.Conv2d(2, quarter, kernel_size=2, stride=2),
            LayerNorm2d(quarter),
            nn.GELU(),
            nn.Conv2d(quarter, self.hidden_channels, kernel_size=2, stride=2),
            LayerNorm2d(self.hidden_channels),
            nn.GELU(),
            nn.Conv2d(self.hidden_channels, self.embed_dim, kernel_size=1),
        )
        self.fuse = nn.Conv2d(2 * self.embed_dim, self.embed_dim, kernel_size=1)
        with torch.no_grad():  # start as identity on the mask embedding
            self.fuse.weight.zero_()
            self.fuse.bias.zero_()
            self.fuse.weight[:, : self.embed_dim, 0, 0] = torch.eye(self.embed_dim)

    def config(self) -> dict:
        return {"embed_dim": self.embed_dim, "hidden_channels": self.hidden_channels, "ones_map": self.ones_map}

    def forward(
        self,
        mask_embedding: torch.Tensor,
        probability: torch.Tensor,
        uncertainty: torch.Tensor,
        ones_map: bool | None = None,
    ) -> torch.Tensor:
        """(B, E, h, w) mask embedding, (B, 4h, 4w) maps → fused (B, E, h, w)."""
        use_ones = self.ones_map if ones_map is None else bool(ones_map)
        second = torch.ones_like(uncertainty) if use_ones else uncertainty
        maps = torch.stack([probability, second], dim=1).to(mask_embedding.dtype)
        if maps.shape[-2:] != tuple(4 * s for s in mask_embedding.shape[-2:]):
            raise ValueError(
                f"fusion maps are {tuple(maps.shape[-2:])} but the mask embedding needs "
                f"{tuple(4 * s for s in mask_embedding.shape[-2:])} (4× the embedding size)."
            )
        encoded = self.uncertainty_encoder(maps)
        return self.fuse(torch.cat([mask_embedding, encoded], dim=1))


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
