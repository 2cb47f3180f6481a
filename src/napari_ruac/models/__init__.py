"""Torch-only model code: SAM2 building, checkpoints, the RUAC Weibull head."""

from .bayesian_head import WeibullMaskHead
from .checkpoint import CheckpointError
from .decoder import DecoderOutput, SelectedMask
from .device import DeviceError, resolve_device
from .download import ChecksumError, DownloadError, download_model
from .registry import DEFAULT_MODEL, MODELS, available_models, cache_dir, default_model_name, embedded_models, get_spec
from .loading import as_model, build_model, load_model, load_ruac_weights, save_ruac_checkpoint
from .prompts import PromptBatch
from .ruac_model import ImageFeatures, ModelInfo, RUACModel

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "CheckpointError",
    "ChecksumError",
    "DecoderOutput",
    "DeviceError",
    "DownloadError",
    "ImageFeatures",
    "ModelInfo",
    "PromptBatch",
    "RUACModel",
    "SelectedMask",
    "WeibullMaskHead",
    "as_model",
    "available_models",
    "build_model",
    "cache_dir",
    "default_model_name",
    "download_model",
    "embedded_models",
    "get_spec",
    "load_model",
    "load_ruac_weights",
    "resolve_device",
    "save_ruac_checkpoint",
]
