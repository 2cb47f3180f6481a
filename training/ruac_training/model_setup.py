"""Building what trains: the RUACModel (registry name or SAM2 config), the attackers, which parts
are frozen, and the optimizer's parameter groups (one learning rate per part)."""

from __future__ import annotations

import torch
from torch import nn

from napari_ruac.models import RUACModel, build_model, load_model, load_ruac_weights
from napari_ruac.models.builders import UnknownBuilderError, build_extra_head, resolve_sam2_config

from .attackers import DeformationAdversary, StyleAdversary
from .config import ConfigError

PARTS = ("image_encoder", "prompt_encoder", "mask_decoder", "head", "extras")
#: SAM2's video-memory modules (top-level attributes of SAM2Base): the ``memory`` part, trained only in
#: ``train.mode: memory`` (image mode never touches it, so its optimizer groups stay as they were).
MEMORY_MODULES = ("memory_encoder", "memory_attention", "obj_ptr_proj", "obj_ptr_tpos_proj", "maskmem_tpos_enc",
                  "no_mem_pos_enc", "no_obj_ptr", "no_obj_embed_spatial", "mask_downsample")


def _extra_head(name: str, spec: dict) -> nn.Module:
    try:
        return build_extra_head(name, spec)
    except UnknownBuilderError as exc:
        raise ConfigError(f"model.extras.{name}: {exc}") from exc


def build_training_model(model_cfg: dict) -> RUACModel:
    """The RUACModel a run trains, on the CPU (the trainer moves it)."""
    size = model_cfg.get("image_size")
    if model_cfg.get("sam2_config"):
        model = build_model(
            resolve_sam2_config(model_cfg["sam2_config"]),
            name=model_cfg.get("name") or "ruac-custom",
            image_size=size,
            head_config=model_cfg.get("head") or None,
        )
    else:
        model = load_model(model_cfg["name"], device="cpu", pretrained=bool(model_cfg.get("pretrained", True)), image_size=size)
        if model_cfg.get("head"):
            from napari_ruac.models import WeibullMaskHead

            model.head = WeibullMaskHead(**model_cfg["head"])
    if model_cfg.get("init_checkpoint"):
        load_ruac_weights(model, model_cfg["init_checkpoint"])
    if model_cfg.get("prompt_map") is not None:
        model.info.prompt_map = bool(model_cfg["prompt_map"])
    for name, spec in (model_cfg.get("extras") or {}).items():
        if name not in model.extras:
            model.attach(name, _extra_head(name, spec))
    return model


def build_attackers(attack_cfg: dict, feature_dim: int) -> nn.ModuleDict:
    """The enabled attackers (``style``, ``deformation``) as a ModuleDict (possibly empty)."""
    attackers = nn.ModuleDict()
    style = dict(attack_cfg.get("style") or {})
    if style.pop("enabled", False):
        attackers["style"] = StyleAdversary(feature_dim=feature_dim, **style)
    deformation = dict(attack_cfg.get("deformation") or {})
    if deformation.pop("enabled", False):
        attackers["deformation"] = DeformationAdversary(feature_dim=feature_dim, **deformation)
    return attackers


def model_parts(model: RUACModel) -> dict[str, list[nn.Parameter]]:
    """The model's parameters by part; ``memory`` holds SAM2's video-memory modules."""
    sam = model.sam2
    encoder = list(sam.image_encoder.parameters())
    if hasattr(sam, "no_mem_embed"):
        encoder.append(sam.no_mem_embed)  # added to the image embedding in single-frame mode
    return {
        "image_encoder": encoder,
        "prompt_encoder": list(sam.sam_prompt_encoder.parameters()),
        "mask_decoder": list(sam.sam_mask_decoder.parameters()),
        "head": list(model.head.parameters()),
        "extras": list(model.extras.parameters()),
        "memory": [p for name, p in sam.named_parameters() if name.split(".")[0] in MEMORY_MODULES],
    }


def apply_freeze(model: RUACModel, freeze: list[str], memory: bool = False) -> list[str]:
    """Set requires_grad by part; returns the trainable parts. Frozen parts run in eval mode.
    The ``memory`` part can train only when ``memory`` (train.mode: memory)."""
    for p in model.parameters():
        p.requires_grad_(False)
    trainable = [part for part in (*PARTS, "memory") if part not in set(freeze) and (memory or part != "memory")]
    for part, params in model_parts(model).items():
        for p in params:
            p.requires_grad_(part in trainable)
    return trainable


def set_train_mode(model: RUACModel, trainable: list[str]) -> None:
    """Train mode only for trainable parts (a frozen encoder keeps eval behaviour, e.g. no drop-path)."""
    model.eval()
    modules = {
        "image_encoder": model.sam2.image_encoder,
        "prompt_encoder": model.sam2.sam_prompt_encoder,
        "mask_decoder": model.sam2.sam_mask_decoder,
        "head": model.head,
        "extras": model.extras,
        "memory": nn.ModuleList([getattr(model.sam2, name) for name in ("memory_encoder", "memory_attention")
                                 if isinstance(getattr(model.sam2, name, None), nn.Module)]),
    }
    for part in trainable:
        modules[part].train()


def parameter_groups(model: RUACModel, attackers: nn.Module, trainable: list[str], optim_cfg: dict) -> list[dict]:
    """AdamW groups, one per trainable part and one for the attackers, each with its lr and decay."""
    lrs, decay = optim_cfg["lr"], optim_cfg.get("weight_decay") or {}
    parts = model_parts(model)
    groups = []
    for part in trainable:
        params = [p for p in parts[part] if p.requires_grad]
        if params:
            wd = decay.get(part, decay.get("default", 0.0))
            groups.append({"name": part, "params": params, "lr": float(lrs[part]), "weight_decay": float(wd)})
    attacker_params = [p for p in attackers.parameters() if p.requires_grad]
    if attacker_params:
        wd = decay.get("attackers", decay.get("default", 0.0))
        groups.append({"name": "attackers", "params": attacker_params, "lr": float(lrs["attackers"]), "weight_decay": float(wd)})
    if not groups:
        raise ConfigError("nothing to train: every part is in model.freeze and no attacker is enabled.")
    for group in groups:
        group["initial_lr"] = group["lr"]
    return groups


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 for ``bf16`` (any device) and ``auto`` on CUDA; None (fp32) otherwise."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None
