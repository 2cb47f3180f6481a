"""Reading and writing weights safely: ``torch.load(weights_only=True)`` or safetensors only.

Our own format (written by :func:`save_ruac_checkpoint` and by ``ruac-train export``) is a
pair ``NAME.safetensors`` + ``NAME.json``: the tensors, and the config that rebuilds the model.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from ..io.atomic import atomic_path

FORMAT = "napari-ruac"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file that is missing, corrupt, unsafe, or does not fit the model."""


def read_torch_file(path: str | Path) -> Any:
    """``torch.load`` with ``weights_only=True``, turning torch's deep errors into a clear one."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist.")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): the download or copy did not finish.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" not in str(exc).lower():  # not a refused class: the bytes are not a pickle at all
            raise CheckpointError(
                f"{path} is not a readable PyTorch checkpoint (corrupt or truncated file?). "
                "Download or copy it again."
            ) from exc
        detail = next((line.strip() for line in str(exc).splitlines() if "global" in line.lower()), "")
        raise CheckpointError(
            f"{path} is not a weights-only checkpoint (loading it would run code from the file, which we refuse). "
            f"Re-save its state_dict with torch.save, or use safetensors. Detail: {detail}"
        ) from exc
    except Exception as exc:  # RuntimeError, EOFError, BadZipFile, SafetensorError …: all mean "not readable"
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint (corrupt or truncated file?): "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from exc


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {path} does not exist.")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a valid safetensors file: {exc}") from exc


def sam2_state_from(obj: Any, path: str | Path) -> dict[str, torch.Tensor]:
    """The SAM2 state dict inside an official checkpoint (``{"model": state}``) or a bare state dict."""
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(
            f"{path} does not hold a SAM2 state dict (expected a dict of tensors, or {{'model': state_dict}})."
        )
    return obj


def load_into(module: torch.nn.Module, state: dict[str, torch.Tensor], source: str, what: str) -> None:
    """Strict ``load_state_dict`` with an error that names the mismatch instead of torch's wall of keys."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong_shape = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})")
        if wrong_shape:
            parts.append(f"{len(wrong_shape)} with other shapes (e.g. {wrong_shape[:2]})")
        raise CheckpointError(
            f"{source} does not fit the {what}: " + "; ".join(parts) + ". "
            "Is it a checkpoint of a different model size? Pass the matching model name or config."
        )
    module.load_state_dict(state, strict=True)


def ruac_paths(path: str | Path) -> tuple[Path, Path]:
    """(weights, config) paths of our format from either file name or their common stem/folder."""
    path = Path(path)
    if path.is_dir():
        return path / "model.safetensors", path / "model.json"
    if path.suffix in (".json", ".safetensors"):
        stem = path.with_suffix("")
    else:
        stem = path
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def is_ruac_checkpoint(path: str | Path) -> bool:
    weights, config = ruac_paths(path)
    return config.is_file() and (Path(path).suffix in (".json", ".safetensors") or Path(path).is_dir())


def read_ruac_config(path: str | Path) -> dict:
    _, config_path = ruac_paths(path)
    try:
        config = json.loads(Path(config_path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"RUAC config {config_path} is unreadable: {exc}") from exc
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{config_path} is not a napari-ruac model config (format={config.get('format')!r}).")
    if int(config.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"{config_path} was written by a newer napari-ruac (format {config['format_version']}); upgrade napari-ruac."
        )
    return config


def write_ruac_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], config: dict) -> tuple[Path, Path]:
    """Write weights + config, each atomically (``io.atomic``: temp file, then rename)."""
    from safetensors.torch import save_file

    weights_path, config_path = ruac_paths(path)
    contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(weights_path) as temporary:
        save_file(contiguous, str(temporary), metadata={"format": FORMAT})
    with atomic_path(config_path) as temporary:
        temporary.write_text(json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, **config}, indent=2))
    return weights_path, config_path
