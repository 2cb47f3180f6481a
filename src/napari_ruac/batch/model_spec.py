"""A picklable description of the model a batch run uses, and a per-process cache of loaded models.

Dask workers receive the ``ModelSpec`` (a few strings), not the model: each worker process
builds the model once and reuses it for every volume it is given.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class ModelSpec:
    """Arguments of ``napari_ruac.models.load_model``; ``seed`` fixes random weights (``pretrained=False``)."""

    name: str | None = None
    device: str | None = None
    pretrained: bool = True
    image_size: int | None = None
    config: str | None = None
    ruac_checkpoint: str | None = None
    seed: int = 0

    def load(self, device: str | None = None):
        """Build the model (on ``device`` if given, else the spec's device; None/'auto' picks one)."""
        from ..models import load_model

        with torch.random.fork_rng(devices=[]):  # random weights are the same in every process
            torch.manual_seed(self.seed)
            return load_model(
                self.name,
                device=device if device is not None else self.device,
                pretrained=self.pretrained,
                image_size=self.image_size,
                config=self.config,
                ruac_checkpoint=self.ruac_checkpoint,
            )

    def describe(self) -> dict:
        """What determines the results (for the run settings a resumed run is checked against): not the device."""
        fields = asdict(self)
        fields.pop("device")
        return fields


_MODELS: dict[tuple, object] = {}
_LOCK = threading.Lock()


def cached_model(spec: ModelSpec, device: str | None = None):
    """The model for ``spec`` in this process, built on first use (thread-safe)."""
    key = (spec, device)
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = spec.load(device)
        return _MODELS[key]
