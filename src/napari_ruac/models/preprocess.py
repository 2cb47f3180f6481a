"""From a user's array (uint8/uint16/float, grey or colour) to SAM2's normalised input.

Intensities map to [0, 1] first — uint8 by /255 (as SAM2 expects), other types by
percentiles or a given window (e.g. a CT window in HU) — then grey becomes three channels,
the image is resized to the model's square and normalised with ImageNet statistics. The intensity
setting itself lives in :mod:`napari_ruac.core.intensity`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..core.intensity import Intensity, to_unit_rgb

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageError(ValueError):
    """An image the predictors cannot use; the message says why and what to do."""


def check_image(image, name: str = "image") -> np.ndarray:
    """Validate one 2D image; returns an array H×W×C with C in {1, 3}.

    Accepts H×W, H×W×1, H×W×3, H×W×4 (alpha dropped). Anything else gets an error that
    says what was received and what to pass instead.
    """
    if hasattr(image, "__array__") and not isinstance(image, np.ndarray):
        image = np.asarray(image)
    if not isinstance(image, np.ndarray):
        raise ImageError(f"{name} must be a numpy array, got {type(image).__name__}.")
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
        raise ImageError(f"{name} has dtype {image.dtype}; pass integer or floating-point intensities.")
    if image.ndim == 2:
        image = image[..., None]
    elif image.ndim == 3:
        if image.shape[-1] == 4:
            image = image[..., :3]
        elif image.shape[-1] not in (1, 3):
            hint = ""
            if image.shape[0] in (1, 3, 4):
                hint = " It looks channel-first: pass np.moveaxis(image, 0, -1)."
            elif image.shape[0] > 4:
                hint = " If it is a z-stack, use VolumePredictor or pass one slice, image[z]."
            raise ImageError(
                f"{name} has shape {image.shape}: a 2D image must be H×W or H×W×C with C in 1, 3 or 4.{hint}"
            )
    else:
        raise ImageError(
            f"{name} has {image.ndim} dimensions (shape {image.shape}); ImagePredictor takes one 2D image "
            "(H×W or H×W×C). For a z-stack use VolumePredictor; for time/channel stacks pick one frame first."
        )
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ImageError(f"{name} is {image.shape[0]}×{image.shape[1]} pixels; it needs at least 2×2.")
    if np.issubdtype(image.dtype, np.floating):
        bad = ~np.isfinite(image)
        if bad.any():
            raise ImageError(
                f"{name} contains {int(bad.sum())} NaN or infinite values; replace them first, "
                "e.g. np.nan_to_num(image, nan=np.nanmin(image))."
            )
    return image


def check_not_constant(array: np.ndarray, name: str = "image") -> None:
    """Refuse an image whose every value is the same: it has no object to find (SAM2 would still draw one)."""
    flat = np.asarray(array).reshape(-1)
    if flat.size and flat.min() == flat.max():
        raise ImageError(
            f"{name} is constant (every value is {flat[0].item():g}): there is no object to find. "
            "Check the file (an empty export?), or the channel / time point you picked."
        )


def to_model_input(unit_rgb: np.ndarray, image_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """H×W×3 in [0, 1] → (1, 3, S, S) resized (bilinear, antialiased, like SAM2) and normalised."""
    x = torch.from_numpy(np.ascontiguousarray(unit_rgb)).permute(2, 0, 1)[None].to(device)
    x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def prepare_image(
    image,
    image_size: int,
    intensity: Intensity | str | tuple | None = None,
    value_range: tuple[float, float] | None = None,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, tuple[int, int], tuple[float, float]]:
    """Validate and convert; returns (model input, original (H, W), value range used)."""
    array = check_image(image)
    if value_range is None:
        value_range = Intensity.parse(intensity).value_range(array)
    unit = to_unit_rgb(array, value_range)
    return to_model_input(unit, image_size, device), (array.shape[0], array.shape[1]), value_range
