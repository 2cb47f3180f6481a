"""Building and loading ``RUACModel``s: from a registry name, an official SAM2 checkpoint,
a training checkpoint, or our safetensors + JSON format; and saving in that format."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from . import checkpoint as ckpt
from .bayesian_head import WeibullMaskHead
from .builders import UnknownBuilderError, build_extra_head
from .device import resolve_device
from .download import ProgressCallback, download_model
from .registry import default_model_name, embedded_models, get_spec
from .ruac_model import ModelInfo, RUACModel
from .sam2_build import build_sam2_from_config, load_config, with_image_size


def _new_head(config: dict | None, sam: nn.Module | None = None) -> WeibullMaskHead:
    """A head sized for ``sam``'s decoder (pixel channels = transformer_dim / 8) unless ``config`` says otherwise."""
    settings = dict(config or {})
    if sam is not None:
        width = int(sam.sam_mask_decoder.transformer_dim)
        settings.setdefault("channels", width // 8)
        settings.setdefault("token_dim", width)
    return WeibullMaskHead(**settings)


def _build_extra(name: str, spec: dict) -> nn.Module:
    try:
        return build_extra_head(name, spec)
    except UnknownBuilderError as exc:
        raise ckpt.CheckpointError(str(exc)) from exc


def build_model(
    sam2_config: str | dict,
    name: str,
    image_size: int | None = None,
    device: torch.device | str = "cpu",
    head_config: dict | None = None,
    base_model: str | None = None,
) -> RUACModel:
    """A RUACModel with random SAM2 weights and a fresh head (nothing loaded)."""
    cfg = with_image_size(load_config(sam2_config), image_size)
    sam = build_sam2_from_config(cfg, device=device)
    info = ModelInfo(name=name, sam2_config=cfg, image_size=int(sam.image_size), base_model=base_model)
    return RUACModel(sam, _new_head(head_config, sam), info).to(device).eval()


def _split_state(state: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    parts: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        prefix, _, rest = key.partition(".")
        if prefix == "extras":
            extra, _, rest = rest.partition(".")
            prefix = f"extras.{extra}"
        parts.setdefault(prefix, {})[rest] = value
    return parts


def _load_ruac(path: Path, device: torch.device, pretrained: bool, progress: ProgressCallback | None) -> RUACModel:
    config = ckpt.read_ruac_config(path)
    weights_path, _ = ckpt.ruac_paths(path)
    state = ckpt.read_safetensors(weights_path)
    parts = _split_state(state)
    base = config.get("base_model")
    model = build_model(
        config["sam2_config"],
        name=config.get("name") or path.stem,
        device="cpu",
        head_config=config.get("head"),
        base_model=base,
    )
    if "sam2" in parts:
        ckpt.load_into(model.sam2, parts["sam2"], str(weights_path), "SAM2 architecture in its config")
        model.info.pretrained = True
    elif base and pretrained:
        base_state = ckpt.sam2_state_from(ckpt.read_torch_file(download_model(base, progress)), base)
        _load_base(model, base_state, base, config)
    if "head" in parts:
        ckpt.load_into(model.head, parts["head"], str(weights_path), "RUAC Weibull head")
        model.info.ruac_trained = True
    for name, spec in (config.get("extras") or {}).items():
        extra = _build_extra(name, spec)
        if f"extras.{name}" in parts:
            ckpt.load_into(extra, parts[f"extras.{name}"], str(weights_path), f"extra head {name!r}")
        model.attach(name, extra)
    decoder_state = parts.get("decoder")
    if decoder_state:  # fine-tuned mask decoder stored over an official base model
        ckpt.load_into(model.sam2.sam_mask_decoder, decoder_state, str(weights_path), "SAM2 mask decoder")
    model.info.source = str(weights_path)
    model.info.prompt_map = bool(config.get("prompt_map", False))
    model.info.notes.update(config.get("notes") or {})
    return model.to(device).eval()


def _load_base(model: RUACModel, state: dict, source: str, config: dict | None = None) -> None:
    ckpt.load_into(model.sam2, state, source, f"SAM2 architecture of {model.info.name!r}")
    model.info.pretrained = True


def load_model(
    model: str | Path | None = None,
    device: str | torch.device | None = None,
    pretrained: bool = True,
    image_size: int | None = None,
    config: str | dict | None = None,
    ruac_checkpoint: str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> RUACModel:
    """Build a model ready for the predictors.

    ``model``: None (the default model: SAM2.1-tiny if its checkpoint is cached, else the
    shipped ``ruac-micro``), a shipped model name, a registry name (``sam2.1_hiera_tiny``…), an official SAM2 ``.pt``
    (then ``config`` names its architecture unless the file name is a registry name), or a
    napari-ruac checkpoint (``.safetensors``/``.json`` pair, or their folder).
    ``pretrained=False`` builds the same architecture with random weights (tests, benchmarks).
    ``ruac_checkpoint`` adds trained RUAC head/decoder weights on top of a SAM2 model.
    """
    dev = resolve_device(device)
    text = default_model_name() if model is None else str(model)
    shipped = embedded_models()
    path = shipped[text] if text in shipped else Path(text).expanduser()
    if ckpt.is_ruac_checkpoint(path):
        result = _load_ruac(path, torch.device("cpu"), pretrained, progress)
        if image_size is not None and image_size != result.image_size:
            raise ValueError(f"{path} was trained at image size {result.image_size}; it cannot run at {image_size}.")
    elif path.suffix in (".pt", ".pth", ".ckpt", ".safetensors", ".json") or path.is_file() or len(path.parts) > 1:
        if path.is_dir():
            raise ckpt.CheckpointError(f"{path} is a folder without a napari-ruac checkpoint (.safetensors + .json) in it.")
        if path.suffix in (".safetensors", ".json") and path.is_file():
            raise ckpt.CheckpointError(
                f"{path} has no {path.with_suffix('.json' if path.suffix == '.safetensors' else '.safetensors').name} "
                "beside it: a napari-ruac checkpoint is a .safetensors + .json pair (ruac-train export writes both)."
            )
        if not path.is_file():
            raise ckpt.CheckpointError(
                f"checkpoint {path} does not exist; check the path, or give a model name (see `napari-ruac info`)."
            )
        obj = ckpt.read_torch_file(path)
        if isinstance(obj, dict) and isinstance(obj.get("ruac_config"), dict):
            result = _from_training_checkpoint(obj, path)
        else:
            if config is None:
                try:
                    spec = get_spec(path.name)
                except KeyError:
                    raise ckpt.CheckpointError(
                        f"cannot tell which SAM2 architecture {path.name} is: pass config= (e.g. "
                        "'configs/sam2.1/sam2.1_hiera_t.yaml') or name the file like an official checkpoint."
                    ) from None
                config, name = spec.config, spec.name
            else:
                name = path.stem
            result = build_model(config, name=name, image_size=image_size, base_model=None)
            if pretrained:
                _load_base(result, ckpt.sam2_state_from(obj, path), str(path))
                result.info.source = str(path)
    else:
        spec = get_spec(text)
        result = build_model(spec.config, name=spec.name, image_size=image_size, base_model=spec.name)
        if pretrained:
            file = download_model(spec.name, progress)
            _load_base(result, ckpt.sam2_state_from(ckpt.read_torch_file(file), file), str(file))
            result.info.source = str(file)
    if ruac_checkpoint is not None:
        load_ruac_weights(result, ruac_checkpoint)
    return result.to(dev).eval()


def _from_training_checkpoint(obj: dict, path: Path) -> RUACModel:
    """A resumable checkpoint written by ``ruac_training`` (``ruac_config`` + ``model`` state)."""
    config = obj["ruac_config"]
    model = build_model(
        config["sam2_config"],
        name=config.get("name", path.stem),
        head_config=config.get("head"),
        base_model=config.get("base_model"),
    )
    for name, spec in (config.get("extras") or {}).items():
        model.attach(name, _build_extra(name, spec))
    state = obj.get("model")
    if not isinstance(state, dict):
        raise ckpt.CheckpointError(f"{path} has a ruac_config but no 'model' state dict.")
    ckpt.load_into(model, state, str(path), "model described by its ruac_config")
    model.info.prompt_map = bool(config.get("prompt_map", False))
    model.info.pretrained = model.info.ruac_trained = True
    model.info.source = str(path)
    return model


def load_ruac_weights(model: RUACModel, path: str | Path) -> None:
    """Load trained head (+ decoder, + extras) weights from a napari-ruac checkpoint into ``model``."""
    path = Path(path)
    if not path.exists():
        raise ckpt.CheckpointError(f"RUAC checkpoint {path} does not exist; check the path.")
    if not ckpt.is_ruac_checkpoint(path):
        raise ckpt.CheckpointError(f"{path} is not a napari-ruac checkpoint (.safetensors + .json).")
    config = ckpt.read_ruac_config(path)
    weights_path, _ = ckpt.ruac_paths(path)
    parts = _split_state(ckpt.read_safetensors(weights_path))
    if "head" not in parts:
        raise ckpt.CheckpointError(f"{weights_path} holds no RUAC head weights.")
    if config.get("head"):
        new_head = _new_head(config["head"], model.sam2).to(model.device)
        model.head = new_head
    ckpt.load_into(model.head, parts["head"], str(weights_path), "RUAC Weibull head")
    if "sam2" in parts:
        ckpt.load_into(model.sam2, parts["sam2"], str(weights_path), f"SAM2 model {model.info.name!r}")
    if "decoder" in parts:
        ckpt.load_into(model.sam2.sam_mask_decoder, parts["decoder"], str(weights_path), "SAM2 mask decoder")
    for name, spec in (config.get("extras") or {}).items():
        extra = _build_extra(name, spec)
        if f"extras.{name}" in parts:
            ckpt.load_into(extra, parts[f"extras.{name}"], str(weights_path), f"extra head {name!r}")
        model.attach(name, extra)
    if "prompt_map" in config:
        model.info.prompt_map = bool(config["prompt_map"])
    model.info.ruac_trained = True
    model.info.notes["ruac_checkpoint"] = str(weights_path)


def save_ruac_checkpoint(
    model: RUACModel, path: str | Path, include_sam2: bool = True, notes: dict | None = None
) -> tuple[Path, Path]:
    """Write ``model`` in our format. ``include_sam2=False`` stores head, decoder and extras only
    (small; the base SAM2 weights then come from the registry model ``info.base_model``)."""
    state = model.state_dict()
    if not include_sam2:
        if not model.info.base_model:
            raise ValueError("include_sam2=False needs a model built from a registry base model.")
        decoder = {f"decoder.{k}": v for k, v in model.sam2.sam_mask_decoder.state_dict().items()}
        state = {k: v for k, v in state.items() if not k.startswith("sam2.")}
        state.update(decoder)
    config = model.config()
    config["notes"] = {**model.info.notes, **(notes or {})}
    return ckpt.write_ruac_checkpoint(path, state, config)


def as_model(model: RUACModel | str | Path | None) -> RUACModel:
    """The predictors' ``model`` argument: a built model as is, or a name / path / None loaded
    with :func:`load_model`'s defaults. Anything else is refused with what to pass instead."""
    if model is None or isinstance(model, (str, Path)):
        return load_model(model)
    if isinstance(model, RUACModel) or all(hasattr(model, name) for name in ("info", "image_size", "encode_image")):
        return model
    raise TypeError(f"model must be a RUACModel (napari_ruac.load_model(...)), a model name such as 'ruac-micro' "
                    f"or a checkpoint path, got {type(model).__name__}")
