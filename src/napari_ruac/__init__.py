"""napari-ruac: SAM2 segmentation with a per-pixel uncertainty that tracks where the mask is wrong.

Three lines from image to mask and uncertainty::

    from napari_ruac import load_model, ImagePredictor
    predictor = ImagePredictor(load_model("sam2.1_hiera_tiny"), method="ruac")
    predictor.set_image(image); out = predictor.predict(box=[x0, y0, x1, y1])
"""

__version__ = "0.1.0"

from .models import load_model  # noqa: E402
from .inference import ImagePredictor, Prediction, VolumePredictor  # noqa: E402

__all__ = ["ImagePredictor", "Prediction", "VolumePredictor", "__version__", "load_model"]
