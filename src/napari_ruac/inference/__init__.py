"""Predictors: one image (ImagePredictor) or a volume (VolumePredictor), one result type."""

from .embedding_cache import EmbeddingCache
from .image_predictor import ImagePredictor, NoImageError
from .prediction import Prediction
from .preprocess import ImageError, Intensity
from .prompts import PromptError

__all__ = [
    "EmbeddingCache",
    "ImageError",
    "ImagePredictor",
    "Intensity",
    "NoImageError",
    "Prediction",
    "PromptError",
]
