"""napari-ruac: SAM2 segmentation with a per-pixel uncertainty that tracks where the mask is wrong.

Three lines from image to mask and uncertainty::

    from napari_ruac import load_model, ImagePredictor
    predictor = ImagePredictor(load_model("sam2.1_hiera_tiny"), method="ruac")
    predictor.set_image(image); out = predictor.predict(box=[x0, y0, x1, y1])
"""

__version__ = "0.1.0"

import sys as _sys


def _keep_triton_away_from_mesa_llvm() -> None:
    """napari creates its OpenGL canvas (Mesa loads libLLVM) before importing plugins; triton's
    own LLVM then segfaults on import (torch → torchvision → torch._dynamo → triton). triton
    only serves torch.compile on CUDA, which napari-ruac does not use: hide it in that case."""
    if "triton" in _sys.modules or not _sys.platform.startswith("linux"):
        return
    try:
        with open("/proc/self/maps") as maps:
            if "libLLVM" in maps.read():
                _sys.modules["triton"] = None
    except OSError:
        pass


_keep_triton_away_from_mesa_llvm()

from .models import load_model  # noqa: E402
from .inference import ImagePredictor, Prediction, VolumePredictor  # noqa: E402

__all__ = ["ImagePredictor", "Prediction", "VolumePredictor", "__version__", "load_model"]
