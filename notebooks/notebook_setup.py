"""Shared set-up of the example notebooks: settings from environment variables, the model to use, small figures.

``NAPARI_RUAC_NOTEBOOK_FAST=1`` runs every notebook small (a random-weight SAM2.1-tiny at 256 px,
few slices, few steps) — the tests do that; ``NAPARI_RUAC_NOTEBOOK_MODEL`` names a model or
checkpoint; ``NAPARI_RUAC_NOTEBOOK_OUT`` is where the notebooks write their files.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

FAST_ENV, MODEL_ENV, OUT_ENV = "NAPARI_RUAC_NOTEBOOK_FAST", "NAPARI_RUAC_NOTEBOOK_MODEL", "NAPARI_RUAC_NOTEBOOK_OUT"


def fast_mode() -> bool:
    """True when the notebooks should run small (tests, CI)."""
    return os.environ.get(FAST_ENV, "").lower() in {"1", "true", "yes"}


def requested_model() -> str | None:
    return os.environ.get(MODEL_ENV) or None


def output_dir(name: str) -> Path:
    """``$NAPARI_RUAC_NOTEBOOK_OUT/<name>`` (default ``outputs/<name>`` beside the notebook), created."""
    folder = Path(os.environ.get(OUT_ENV, "outputs")) / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def notebook_model(name: str | None = None, fast: bool = False):
    """(model, one-line description). The best model usable offline: ``name`` if given, else
    ``default_model_name()`` when its weights are present; otherwise (and with ``fast``) the
    SAM2.1-tiny architecture with random weights at 256 px, whose masks and uncertainty mean nothing."""
    from napari_ruac.models import available_models, default_model_name, load_model

    if not fast:
        chosen = name or default_model_name()
        if name is not None or chosen in available_models():
            model = load_model(chosen)
            return model, f"{model.info.name} ({model.info.source}), input {model.image_size} px"
    torch.manual_seed(0)
    model = load_model("sam2.1_hiera_tiny", pretrained=False, image_size=256)
    reason = "fast mode" if fast else "no pretrained weights available offline"
    return model, f"SAM2.1-tiny architecture with RANDOM weights at 256 px ({reason}): outputs are placeholders"


def small_figures() -> None:
    """Inline figures (whatever MPLBACKEND says), kept small in the stored notebooks."""
    import matplotlib.pyplot as plt

    try:
        from IPython import get_ipython
    except ImportError:  # plain python: nothing to set up
        shell = None
    else:
        shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")

    plt.rcParams.update({"figure.dpi": 50, "savefig.dpi": 80, "font.size": 9, "image.interpolation": "nearest"})
