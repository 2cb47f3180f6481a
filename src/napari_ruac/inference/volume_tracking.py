"""SAM2's video-memory tracking, one object and one slice at a time, with our decoder path.

This is the arithmetic of ``SAM2Base.track_step`` (memory-conditioned features → prompt
encoder → mask decoder → object pointer → memory encoder), written against the decoder
intermediates so every slice also gets the uncertainty of the chosen method. The memory
bank keeps only what SAM2 can still read (a window of recent slices, the conditioning
slices, and the first slices after the start that the backward pass reads), so memory
does not grow with the number of slices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..models.decoder import SelectedMask
from ..models.ruac_model import ImageFeatures, RUACModel
from ..uq.base import HeadMethod, MethodOptions
from ..models.uncertainty import binary_entropy

NO_OBJECT_SCORE = -1024.0


@dataclass
class FrameOutput:
    """What one tracked slice contributes: maps for the user, memory for later slices."""

    mask_logit: torch.Tensor  # (1, h, w) low-res logit (NO_OBJECT_SCORE where absent)
    probability: torch.Tensor  # (1, h, w)
    uncertainty: torch.Tensor  # (1, h, w)
    iou: float
    object_score: float


@dataclass
class ObjectTrack:
    """One object's SAM2 memory bank (SAM2's ``output_dict``) plus its prompts."""

    prompts: dict[int, dict[str, torch.Tensor]]  # z → {"point_coords": (1,N,2), "point_labels": (1,N)}
    output_dict: dict = field(default_factory=lambda: {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}})

    @property
    def start(self) -> int:
        return min(self.prompts)

    def prune(self, current: int, reverse: bool, window: int) -> None:
        """Forget non-conditioning memories SAM2 will never read again."""
        keep_after_start = set(range(self.start + 1, self.start + window + 1))
        stale = [
            t
            for t in self.output_dict["non_cond_frame_outputs"]
            if (abs(t - current) > window or ((t < current) if reverse else (t > current)))
            and t not in keep_after_start
        ]
        for t in stale:
            del self.output_dict["non_cond_frame_outputs"][t]


def vision_inputs(model: RUACModel, features: ImageFeatures) -> tuple[list[torch.Tensor], list[torch.Tensor], list]:
    """SAM2's flattened (HW, B, C) feature list, the top-level position encoding, and feature sizes."""
    if features.backbone_embed is None:
        raise ValueError("volume tracking needs the raw backbone map; encode slices with model.encode_image")
    flat = [f.flatten(2).permute(2, 0, 1) for f in (*features.high_res, features.backbone_embed)]
    pos = model.position_encoding().flatten(2).permute(2, 0, 1)
    return flat, [pos], model.feature_sizes


def _prompt_embeddings(model: RUACModel, point_inputs: dict | None, batch: int, device: torch.device):
    if point_inputs is not None:  # through the model: prompt-map models also draw the prompts
        return model.encode_prompts(points=point_inputs["point_coords"], labels=point_inputs["point_labels"])
    # SAM2 feeds a single padding point when a slice has no prompt
    coords = torch.zeros(batch, 1, 2, device=device)
    labels = -torch.ones(batch, 1, dtype=torch.int32, device=device)
    return model.sam2.sam_prompt_encoder(points=(coords, labels), boxes=None, masks=None)


def _object_pointer(model: RUACModel, out, selected: SelectedMask, multimask: bool, appearing: torch.Tensor):
    sam = model.sam2
    if multimask and sam.sam_mask_decoder.use_multimask_token_for_obj_ptr:
        token = selected.mask_token
    else:  # SAM2 always uses the single-mask token for the pointer otherwise
        token = out.mask_tokens[:, 0]
    pointer = sam.obj_ptr_proj(token)
    if sam.pred_obj_scores:
        weight = torch.sigmoid(selected.object_score)[:, None] if sam.soft_no_obj_ptr else appearing.float()[:, None]
        if sam.fixed_no_obj_ptr:
            pointer = weight * pointer
        pointer = pointer + (1 - weight) * sam.no_obj_ptr
    return pointer


def track_frame(
    model: RUACModel,
    method: HeadMethod,
    options: MethodOptions,
    track: ObjectTrack,
    z: int,
    features: ImageFeatures,
    num_frames: int,
    reverse: bool,
    is_conditioning: bool,
) -> FrameOutput:
    """Track ``track``'s object on slice ``z`` and add the slice to its memory bank."""
    sam = model.sam2
    device = features.high_res[0].device
    vision_feats, vision_pos, feat_sizes = vision_inputs(model, features)
    point_inputs = track.prompts.get(z) if is_conditioning else None
    pix_feat = sam._prepare_memory_conditioned_features(
        frame_idx=z,
        is_init_cond_frame=is_conditioning,
        current_vision_feats=vision_feats[-1:],
        current_vision_pos_embeds=vision_pos,
        feat_sizes=feat_sizes[-1:],
        output_dict=track.output_dict,
        num_frames=num_frames,
        track_in_reverse=reverse,
    )
    multimask = sam._use_multimask(is_conditioning, point_inputs)
    sparse, dense = _prompt_embeddings(model, point_inputs, 1, device)
    out, selected = model.decode(ImageFeatures(pix_feat, features.high_res), sparse, dense, multimask, False)

    mask_logit, probability, uncertainty = method.apply(model, selected, options)
    appearing = selected.object_score > 0
    if sam.pred_obj_scores:
        presence = torch.sigmoid(selected.object_score)[:, None, None]
        candidate = probability > 0.5
        uncertainty = torch.where(appearing[:, None, None], uncertainty, torch.zeros_like(uncertainty))
        uncertainty = torch.maximum(uncertainty, binary_entropy(presence).expand_as(uncertainty) * candidate)
        probability = probability * presence
        mask_logit = torch.where(appearing[:, None, None], selected.logit, torch.full_like(selected.logit, NO_OBJECT_SCORE))
    low_res = mask_logit.float()[:, None]
    high_res = F.interpolate(low_res, size=(sam.image_size, sam.image_size), mode="bilinear", align_corners=False)
    pointer = _object_pointer(model, out, selected, multimask, appearing)
    memory, memory_pos = sam._encode_new_memory(
        current_vision_feats=vision_feats,
        feat_sizes=feat_sizes,
        pred_masks_high_res=high_res,
        object_score_logits=selected.object_score[:, None],
        is_mask_from_pts=point_inputs is not None,
    )
    entry = {
        "maskmem_features": memory.to(torch.bfloat16),  # stored like SAM2VideoPredictor does
        "maskmem_pos_enc": memory_pos,
        "pred_masks": low_res,
        "obj_ptr": pointer,
        "object_score_logits": selected.object_score[:, None],
    }
    key = "cond_frame_outputs" if is_conditioning else "non_cond_frame_outputs"
    track.output_dict[key][z] = entry
    window = max(sam.num_maskmem, sam.max_obj_ptrs_in_encoder) * max(1, sam.memory_temporal_stride_for_eval)
    track.prune(z, reverse, window)
    return FrameOutput(
        mask_logit=mask_logit,
        probability=probability,
        uncertainty=uncertainty,
        iou=float(selected.iou[0].detach()),
        object_score=float(selected.object_score[0].detach()),
    )
