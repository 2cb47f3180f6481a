"""The models the segment widget offers: registry checkpoints already on disk, checkpoints
shipped inside the package, or any file the user browses to."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import available_models, embedded_models, load_model
from ..models.device import available_devices

BROWSE = "Browse checkpoint…"
CHECKPOINT_FILTER = "Checkpoints (*.pt *.pth *.safetensors);;All files (*)"
AUTO_DEVICE = "auto"


@dataclass(frozen=True)
class ModelEntry:
    """One line of the model menu: what it says and what ``load_model`` gets."""

    label: str
    source: str


def model_entries() -> list[ModelEntry]:
    """Each model usable without a download, once: shipped ones (marked so), then cached registry
    checkpoints (the browse entry is added by the menu)."""
    shipped = embedded_models()
    return [ModelEntry(label=f"{name} (shipped)" if name in shipped else name, source=name) for name in available_models()]


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
