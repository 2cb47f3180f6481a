"""Predictors: one image (ImagePredictor) or a volume (VolumePredictor), one result type."""

from .embedding_cache import DiskEmbeddings, EmbeddingCache
from .image_predictor import ImagePredictor, NoImageError
from .prediction import Prediction
from ..core.intensity import Intensity
from ..models.preprocess import ImageError
from .prompts import PromptError

__all__ = [
    "DiskEmbeddings",
    "EmbeddingCache",
    "ImageError",
    "ImagePredictor",
    "Intensity",
    "NoImageError",
    "Prediction",
    "PromptError",
]

from .volume_predictor import VolumePredictor  # noqa: E402
from .volume_result import SliceResult, VolumeAssembly, VolumeResult  # noqa: E402

__all__ += ["SliceResult", "VolumeAssembly", "VolumePredictor", "VolumeResult"]
