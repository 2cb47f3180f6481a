"""The models the segment widget offers: registry checkpoints already on disk, checkpoints
shipped inside the package, or any file the user browses to."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..models import available_models, load_model
from ..models.device import available_devices

BROWSE = "Browse checkpoint…"
CHECKPOINT_FILTER = "Checkpoints (*.pt *.pth *.safetensors);;All files (*)"
AUTO_DEVICE = "auto"


@dataclass(frozen=True)
class ModelEntry:
    """One line of the model menu: what it says and what ``load_model`` gets."""

    label: str
    source: str


def embedded_models() -> list[ModelEntry]:
    """napari-ruac checkpoints shipped in the package (``napari_ruac/weights/*.safetensors``)."""
    try:
        folder = resources.files("napari_ruac") / "weights"
        files = sorted(Path(str(item)) for item in folder.iterdir() if item.name.endswith(".safetensors"))
    except (FileNotFoundError, NotADirectoryError, ModuleNotFoundError):
        return []
    return [ModelEntry(label=f"{path.stem} (shipped)", source=str(path)) for path in files]


def model_entries() -> list[ModelEntry]:
    """Registry models whose checkpoint is present, then shipped ones (the browse entry is added by the menu)."""
    return [ModelEntry(label=name, source=name) for name in available_models()] + embedded_models()


def device_choices() -> list[str]:
    """``auto`` (cuda → mps → cpu) then every device torch can use here."""
    return [AUTO_DEVICE, *available_devices()]


def load_model_job(source: str, device: str):
    """Load a model (runs in a worker thread): a registry name or a checkpoint path."""
    return load_model(source, device=None if device == AUTO_DEVICE else device)


def move_model_job(model, device: str):
    """Move a loaded model to another device (runs in a worker thread)."""
    from ..models import resolve_device

    return model.to(resolve_device(None if device == AUTO_DEVICE else device))
