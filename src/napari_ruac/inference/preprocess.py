"""Image preprocessing for the predictors (lives in :mod:`napari_ruac.models.preprocess`)."""

from ..models.preprocess import (  # noqa: F401
    IMAGENET_MEAN,
    IMAGENET_STD,
    MODES,
    ImageError,
    Intensity,
    check_image,
    prepare_image,
    to_model_frame,
    to_model_input,
    to_unit_rgb,
)
