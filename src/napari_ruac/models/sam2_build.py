"""Build SAM2 architectures from their configs (the ones inside ``sam2`` or our own), with
random weights; weights are loaded separately by :mod:`.checkpoint`."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

# The same post-processing that ``sam2.build_sam.build_sam2(apply_postprocessing=True)`` applies.
DECODER_POSTPROCESSING = {
    "dynamic_multimask_via_stability": True,
    "dynamic_multimask_stability_delta": 0.05,
    "dynamic_multimask_stability_thresh": 0.98,
}


class ConfigError(ValueError):
    """A model config that cannot be found or built."""


def sam2_config_dir() -> Path:
    import sam2

    return Path(sam2.__file__).parent


def load_config(config: str | Path | dict | DictConfig) -> dict:
    """A SAM2 model config as a plain dict with a top-level ``model`` key.

    ``config`` is a name inside the sam2 package (``configs/sam2.1/sam2.1_hiera_t.yaml``),
    a path to a YAML file, or an already loaded mapping.
    """
    if isinstance(config, (dict, DictConfig)):
        cfg = OmegaConf.to_container(OmegaConf.create(config), resolve=True)
    else:
        path = Path(config)
        if not path.is_file():
            candidate = sam2_config_dir() / str(config)
            if not candidate.suffix:
                candidate = candidate.with_suffix(".yaml")
            path = candidate
        if not path.is_file():
            raise ConfigError(
                f"SAM2 config {config!r} not found (looked for a file and inside the sam2 package at "
                f"{sam2_config_dir()}). Use a name like 'configs/sam2.1/sam2.1_hiera_t.yaml' or a YAML path."
            )
        cfg = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if "model" not in cfg:
        raise ConfigError(f"SAM2 config {config!r} has no top-level 'model' section.")
    return cfg


def with_image_size(cfg: dict, image_size: int | None) -> dict:
    """A copy of ``cfg`` whose model runs at ``image_size`` (multiple of 32), RoPE sizes adjusted."""
    cfg = copy.deepcopy(cfg)
    if image_size is None:
        return cfg
    if image_size % 32 != 0 or image_size < 64:
        raise ConfigError(f"image_size must be a multiple of 32 and ≥ 64, got {image_size}.")
    model = cfg["model"]
    model["image_size"] = int(image_size)
    stride = int(model.get("backbone_stride", 16))
    feat = [image_size // stride, image_size // stride]
    layer = model.get("memory_attention", {}).get("layer", {})
    for key in ("self_attention", "cross_attention"):
        if isinstance(layer.get(key), dict) and "feat_sizes" in layer[key]:
            layer[key]["feat_sizes"] = list(feat)
    return cfg


def build_sam2_from_config(
    config: str | Path | dict,
    image_size: int | None = None,
    device: str | torch.device = "cpu",
    postprocessing: bool = True,
    video: bool = False,
) -> torch.nn.Module:
    """Instantiate a SAM2 model (random weights) from a config, in eval mode.

    ``video=True`` builds ``SAM2VideoPredictor`` (same weights layout) for the reference
    propagation path; our own code uses ``SAM2Base`` either way.
    """
    from hydra.utils import instantiate

    cfg = with_image_size(load_config(config), image_size)
    model_cfg = cfg["model"]
    if postprocessing:
        extra = dict(model_cfg.get("sam_mask_decoder_extra_args") or {})
        extra.update(DECODER_POSTPROCESSING)
        model_cfg["sam_mask_decoder_extra_args"] = extra
    if postprocessing:  # as build_sam2_video_predictor: clicked masks enter memory binarised
        model_cfg["binarize_mask_from_pts_for_mem_enc"] = True
    if video:
        model_cfg["_target_"] = "sam2.sam2_video_predictor.SAM2VideoPredictor"
    try:
        model = instantiate(OmegaConf.create(model_cfg), _recursive_=True)
    except Exception as exc:  # hydra wraps the real cause; surface it plainly
        raise ConfigError(f"could not build the SAM2 model from config {config!r}: {exc}") from exc
    if video:
        model.fill_hole_area = 0  # hole filling needs sam2._C (not built here)
    return model.to(device).eval()


def feature_sizes(image_size: int) -> list[tuple[int, int]]:
    """Backbone feature map sizes for the decoder (strides 4, 8, 16): SAM2's ``_bb_feat_sizes``."""
    return [(image_size // 4,) * 2, (image_size // 8,) * 2, (image_size // 16,) * 2]


def reduced_hiera(embed_dim: int = 16, stages=(1, 1, 2, 1), d_model: int = 256) -> dict:
    """A small SAM2 config (Hiera with ``embed_dim`` and ``stages``; one memory layer) derived from
    the packaged SAM2.1-tiny config: for from-scratch training at 128–256 px and for tests."""
    cfg = load_config("configs/sam2.1/sam2.1_hiera_t.yaml")
    model = cfg["model"]
    trunk = model["image_encoder"]["trunk"]
    stage_ends = [sum(stages[: i + 1]) - 1 for i in range(len(stages))]
    pooled = {end + 1 for end in stage_ends[:-1]}
    # one global-attention block per later stage that is not a pooling block (SAM2 forbids both)
    global_blocks = [end for end in stage_ends[2:] if end not in pooled]
    trunk.update(embed_dim=embed_dim, num_heads=1, stages=list(stages), global_att_blocks=global_blocks,
                 window_pos_embed_bkg_spatial_size=[4, 4], window_spec=[8, 4, 4, 4])
    model["image_encoder"]["neck"]["backbone_channel_list"] = [embed_dim * 2**i for i in (3, 2, 1, 0)]
    model["image_encoder"]["neck"]["d_model"] = d_model
    model["memory_attention"]["num_layers"] = 1
    model["memory_attention"]["layer"]["dim_feedforward"] = 256
    return cfg
