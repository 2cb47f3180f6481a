"""SAM2's mask decoder, run so that its intermediates stay visible.

``decode_masks`` computes exactly what ``MaskDecoder.predict_masks`` computes, but also
returns the per-pixel features (``upscaled``) and hypernetwork outputs (``hyper_in``)
that the Bayesian head, Laplace and the variance network need. ``select_masks`` then
applies SAM2's choice of output token (single, multimask-best, or stability fallback).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from sam2.modeling.sam.mask_decoder import MaskDecoder


@dataclass
class DecoderOutput:
    """Everything the decoder produced for B prompts (M = number of mask tokens)."""

    logits: torch.Tensor  # (B, M, H, W) SAM2 mask logits at 1/4 of the model resolution
    iou: torch.Tensor  # (B, M) predicted IoU per token
    hyper_in: torch.Tensor  # (B, M, C) hypernetwork outputs (C = 32)
    upscaled: torch.Tensor  # (B, C, H, W) per-pixel features
    mask_tokens: torch.Tensor  # (B, M, D) transformer output tokens of the masks
    object_score: torch.Tensor  # (B, 1) object-presence logit
    image_tokens: torch.Tensor  # (B, D, h, w) transformer output image tokens (before upscaling)

    def select(self, index: torch.Tensor) -> "SelectedMask":
        """Keep one mask token per batch item (``index``: (B,) long)."""
        rows = torch.arange(self.logits.shape[0], device=self.logits.device)
        return SelectedMask(
            logit=self.logits[rows, index],
            iou=self.iou[rows, index],
            hyper_in=self.hyper_in[rows, index],
            mask_token=self.mask_tokens[rows, index],
            upscaled=self.upscaled,
            object_score=self.object_score[:, 0],
            token_index=index,
            image_tokens=self.image_tokens,
            all_logits=self.logits,
        )


@dataclass
class SelectedMask:
    """The decoder's chosen mask per prompt, with the tensors every uncertainty head uses."""

    logit: torch.Tensor  # (B, H, W)
    iou: torch.Tensor  # (B,)
    hyper_in: torch.Tensor  # (B, C)
    mask_token: torch.Tensor  # (B, D)
    upscaled: torch.Tensor  # (B, C, H, W)
    object_score: torch.Tensor  # (B,)
    token_index: torch.Tensor  # (B,)
    image_tokens: torch.Tensor  # (B, D, h, w)
    all_logits: torch.Tensor | None = None  # (B, M, H, W) every mask token's logits (SAM2's hypotheses)


def decode_masks(
    decoder: MaskDecoder,
    image_embeddings: torch.Tensor,
    image_pe: torch.Tensor,
    sparse_prompt_embeddings: torch.Tensor,
    dense_prompt_embeddings: torch.Tensor,
    repeat_image: bool,
    high_res_features: list[torch.Tensor] | None = None,
) -> DecoderOutput:
    """Run the two-way transformer and heads of a SAM2 ``MaskDecoder`` (same maths as predict_masks)."""
    s = 1 if decoder.pred_obj_scores else 0
    weights = [decoder.iou_token.weight, decoder.mask_tokens.weight]
    if decoder.pred_obj_scores:
        weights.insert(0, decoder.obj_score_token.weight)
    output_tokens = torch.cat(weights, dim=0)
    output_tokens = output_tokens.unsqueeze(0).expand(sparse_prompt_embeddings.size(0), -1, -1)
    tokens = torch.cat((output_tokens, sparse_prompt_embeddings), dim=1)

    if repeat_image:
        src = torch.repeat_interleave(image_embeddings, tokens.shape[0], dim=0)
    else:
        src = image_embeddings
    src = src + dense_prompt_embeddings
    pos_src = torch.repeat_interleave(image_pe, tokens.shape[0], dim=0)
    b, c, h, w = src.shape

    hs, src = decoder.transformer(src, pos_src, tokens)
    iou_token_out = hs[:, s, :]
    mask_tokens_out = hs[:, s + 1 : (s + 1 + decoder.num_mask_tokens), :]

    image_tokens = src.transpose(1, 2).reshape(b, c, h, w)
    if not decoder.use_high_res_features:
        upscaled = decoder.output_upscaling(image_tokens)
    else:
        dc1, ln1, act1, dc2, act2 = decoder.output_upscaling
        feat_s0, feat_s1 = high_res_features
        if feat_s0.shape[0] not in (1, b):
            feat_s0 = torch.repeat_interleave(feat_s0, b // feat_s0.shape[0], dim=0)
            feat_s1 = torch.repeat_interleave(feat_s1, b // feat_s1.shape[0], dim=0)
        upscaled = act1(ln1(dc1(image_tokens) + feat_s1))
        upscaled = act2(dc2(upscaled) + feat_s0)

    hyper_in = torch.stack(
        [decoder.output_hypernetworks_mlps[i](mask_tokens_out[:, i, :]) for i in range(decoder.num_mask_tokens)],
        dim=1,
    )
    bu, cu, hu, wu = upscaled.shape
    logits = (hyper_in @ upscaled.view(bu, cu, hu * wu)).view(bu, -1, hu, wu)
    iou = decoder.iou_prediction_head(iou_token_out)
    if decoder.pred_obj_scores:
        object_score = decoder.pred_obj_score_head(hs[:, 0, :])
    else:
        object_score = 10.0 * iou.new_ones(iou.shape[0], 1)
    return DecoderOutput(
        logits=logits,
        iou=iou,
        hyper_in=hyper_in,
        upscaled=upscaled,
        mask_tokens=mask_tokens_out,
        object_score=object_score,
        image_tokens=image_tokens,
    )


def stability_score(logits: torch.Tensor, delta: float) -> torch.Tensor:
    """IoU of the masks thresholded at +delta and −delta (SAM2's stability score). (B,)."""
    flat = logits.flatten(-2)
    area_i = (flat > delta).sum(-1).float()
    area_u = (flat > -delta).sum(-1).float()
    return torch.where(area_u > 0, area_i / area_u.clamp_min(1), torch.ones_like(area_u))


def select_token_index(decoder: MaskDecoder, out: DecoderOutput, multimask: bool) -> torch.Tensor:
    """SAM2's token choice: best of tokens 1..3 by IoU (multimask), else token 0 with the
    stability fallback of ``dynamic_multimask_via_stability`` when the decoder has it on."""
    best_multi = torch.argmax(out.iou[:, 1:], dim=-1) + 1
    if multimask:
        return best_multi
    single = torch.zeros_like(best_multi)
    if decoder.dynamic_multimask_via_stability and not decoder.training:
        stable = stability_score(out.logits[:, 0], decoder.dynamic_multimask_stability_delta)
        return torch.where(stable >= decoder.dynamic_multimask_stability_thresh, single, best_multi)
    return single
