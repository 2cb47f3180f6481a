"""``RUACModel``: a SAM2 model plus the RUAC Weibull head (and optional extra heads), exposing
SAM2's three stages (image encoder, prompt encoder, mask decoder) to every method.
Building and loading live in :mod:`.loading`."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .bayesian_head import WeibullMaskHead
from .builders import extra_head_name
from .decoder import DecoderOutput, SelectedMask, decode_masks, select_token_index
from .prompt_map import draw_prompt_map
from .sam2_build import feature_sizes


@dataclass
class ImageFeatures:
    """Image-encoder output for B images: the 1/16 embedding the decoder reads (with SAM2's
    no-memory embedding added), the 1/4 and 1/8 high-res maps, and the raw 1/16 backbone
    map that video-style propagation conditions on memory (None when not needed)."""

    image_embed: torch.Tensor
    high_res: list[torch.Tensor]
    backbone_embed: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> "ImageFeatures":
        raw = None if self.backbone_embed is None else self.backbone_embed.to(device)
        return ImageFeatures(self.image_embed.to(device), [f.to(device) for f in self.high_res], raw)

    def index(self, i: int) -> "ImageFeatures":
        raw = None if self.backbone_embed is None else self.backbone_embed[i : i + 1]
        return ImageFeatures(self.image_embed[i : i + 1], [f[i : i + 1] for f in self.high_res], raw)

    @property
    def nbytes(self) -> int:
        tensors = [self.image_embed, *self.high_res]
        if self.backbone_embed is not None:
            tensors.append(self.backbone_embed)
        return sum(t.numel() * t.element_size() for t in tensors)


@dataclass
class ModelInfo:
    """What a model is and where its weights came from (shown by the CLI and GUI)."""

    name: str
    sam2_config: dict
    image_size: int
    base_model: str | None = None
    source: str = "random"
    pretrained: bool = False
    ruac_trained: bool = False
    prompt_map: bool = False  # box/clicks also drawn into the mask-prompt channel (models/prompt_map.py)
    notes: dict = field(default_factory=dict)


class RUACModel(nn.Module):
    """SAM2 + Weibull head; every method of the predictor API runs on top of this."""

    def __init__(self, sam2: nn.Module, head: WeibullMaskHead, info: ModelInfo) -> None:
        super().__init__()
        self.sam2 = sam2
        self.head = head
        self.extras = nn.ModuleDict()
        self.info = info

    # ---- properties ------------------------------------------------------------------
    @property
    def image_size(self) -> int:
        return int(self.sam2.image_size)

    @property
    def device(self) -> torch.device:
        return next(self.sam2.parameters()).device

    @property
    def feature_sizes(self) -> list[tuple[int, int]]:
        return feature_sizes(self.image_size)

    @property
    def low_res_size(self) -> int:
        return self.image_size // 4

    def signature(self) -> str:
        """Identifies weights + config, for embedding caches."""
        return f"{self.info.name}|{self.info.source}|{self.image_size}|{id(self.sam2)}"

    def encoder_signature(self) -> str:
        """Stable across sessions (for on-disk embedding caches): a hash of the image encoder's weights
        and the input size, the only things an embedding depends on. Computed once per model."""
        cached = self.__dict__.get("_encoder_signature")
        if cached is None:
            import hashlib

            digest = hashlib.blake2b(f"{self.image_size}".encode(), digest_size=16)
            for name, tensor in self.sam2.image_encoder.state_dict().items():
                digest.update(name.encode())
                digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().data)
            cached = self.__dict__["_encoder_signature"] = digest.hexdigest()
        return cached

    # ---- extras ----------------------------------------------------------------------
    def attach(self, name: str, module: nn.Module) -> None:
        """Add an optional head (variance net, fusion, Laplace posterior); it must have ``config()``."""
        if not callable(getattr(module, "config", None)):
            raise TypeError(f"extra head {name!r} needs a config() method so checkpoints can rebuild it")
        self.extras[name] = module.to(self.device)

    def config(self) -> dict:
        """Everything needed to rebuild this model's architecture (weights go separately)."""
        extras = {
            name: {"class": extra_head_name(m), "config": m.config()}
            for name, m in self.extras.items()
        }
        return {
            "name": self.info.name,
            "base_model": self.info.base_model,
            "image_size": self.image_size,
            "sam2_config": self.info.sam2_config,
            "head": self.head.config(),
            "extras": extras,
            "prompt_map": self.info.prompt_map,
        }

    # ---- the three stages of SAM2 ----------------------------------------------------
    def encode_image(self, batch: torch.Tensor) -> ImageFeatures:
        """(B, 3, S, S) normalised images → features (same as SAM2ImagePredictor.set_image)."""
        sam = self.sam2
        backbone_out = sam.forward_image(batch)
        _, vision_feats, _, _ = sam._prepare_backbone_features(backbone_out)
        b = batch.shape[0]
        raw = vision_feats[-1].permute(1, 2, 0).reshape(b, -1, *self.feature_sizes[-1])
        if sam.directly_add_no_mem_embed:
            vision_feats[-1] = vision_feats[-1] + sam.no_mem_embed
        feats = [
            feat.permute(1, 2, 0).reshape(b, -1, *size)
            for feat, size in zip(vision_feats[::-1], self.feature_sizes[::-1])
        ][::-1]
        return ImageFeatures(image_embed=feats[-1], high_res=feats[:-1], backbone_embed=raw)

    def position_encoding(self) -> torch.Tensor:
        """The sine position encoding of the 1/16 feature map (the same for every image), (1, C, h, w)."""
        if getattr(self, "_position_encoding", None) is None or self._position_encoding.device != self.device:
            h, w = self.feature_sizes[-1]
            dummy = torch.zeros(1, self.sam2.hidden_dim, h, w, device=self.device)
            self._position_encoding = self.sam2.image_encoder.neck.position_encoding(dummy).to(dummy.dtype)
        return self._position_encoding

    def encode_prompts(
        self,
        points: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        boxes: torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
        prompt_map: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompts in model pixel coordinates → (sparse, dense) embeddings. Boxes become two
        corner points with labels 2, 3 placed before the clicks, as SAM2 does. Models trained with
        the prompt map (``info.prompt_map``; ``prompt_map`` overrides) also get the box and clicks
        drawn into the mask-prompt channel when no ``mask_input`` is given."""
        concat = None
        if points is not None:
            concat = (points, labels)
        if boxes is not None:
            box_coords = boxes.reshape(-1, 2, 2)
            box_labels = torch.tensor([[2, 3]], dtype=torch.int, device=boxes.device).repeat(boxes.shape[0], 1)
            if concat is not None:
                concat = (torch.cat([box_coords, concat[0]], dim=1), torch.cat([box_labels, concat[1]], dim=1))
            else:
                concat = (box_coords, box_labels)
        use_map = self.info.prompt_map if prompt_map is None else prompt_map
        if use_map and mask_input is None and concat is not None:
            encoder = self.sam2.sam_prompt_encoder
            mask_input = draw_prompt_map(concat[0], concat[1], self.image_size, encoder.mask_input_size[0])
        return self.sam2.sam_prompt_encoder(points=concat, boxes=None, masks=mask_input)

    def decode(
        self,
        features: ImageFeatures,
        sparse: torch.Tensor,
        dense: torch.Tensor,
        multimask: bool,
        repeat_image: bool | None = None,
    ) -> tuple[DecoderOutput, SelectedMask]:
        """Run the mask decoder for B prompts and pick SAM2's output token per prompt."""
        if repeat_image is None:
            repeat_image = features.image_embed.shape[0] == 1 and sparse.shape[0] > 1
        decoder = self.sam2.sam_mask_decoder
        out = decode_masks(
            decoder,
            image_embeddings=features.image_embed,
            image_pe=self.sam2.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            repeat_image=repeat_image,
            high_res_features=features.high_res,
        )
        return out, out.select(select_token_index(decoder, out, multimask))

    def weibull(self, selected: SelectedMask):
        """The Weibull parameters of the RUAC head for the decoder's selected masks."""
        return self.head.params(selected.upscaled, selected.hyper_in, selected.mask_token, selected.image_tokens)
