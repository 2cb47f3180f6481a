"""From a user's array (uint8/uint16/float, grey or colour) to SAM2's normalised input, and from
image pixels to the model's square frame.

Intensities map to [0, 1] first — uint8 by /255 (as SAM2 expects), other types by
percentiles or a given window (e.g. a CT window in HU) — then grey becomes three channels,
the image is resized to the model's square and normalised with ImageNet statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MODES = ("auto", "percentile", "minmax", "window", "none")


class ImageError(ValueError):
    """An image the predictors cannot use; the message says why and what to do."""


@dataclass(frozen=True)
class Intensity:
    """How raw intensities become [0, 1].

    ``auto``: uint8 ÷ 255, anything else by percentiles; ``percentile``: clip to the
    ``percentiles`` of the data; ``minmax``; ``window``: clip to ``window=(low, high)``;
    ``none``: values already in [0, 1].
    """

    mode: str = "auto"
    percentiles: tuple[float, float] = (0.5, 99.5)
    window: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"intensity mode must be one of {MODES}, got {self.mode!r}")
        if self.mode == "window":
            if self.window is None or len(self.window) != 2 or not self.window[0] < self.window[1]:
                raise ValueError(f"intensity window must be (low, high) with low < high, got {self.window!r}")
        lo, hi = self.percentiles
        if not 0 <= lo < hi <= 100:
            raise ValueError(f"percentiles must satisfy 0 ≤ low < high ≤ 100, got {self.percentiles}")

    @classmethod
    def parse(cls, value: "Intensity | str | tuple | None") -> "Intensity":
        """Accept an Intensity, a mode name, or a (low, high) window."""
        if value is None:
            return cls()
        if isinstance(value, Intensity):
            return value
        if isinstance(value, str):
            return cls(mode=value)
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return cls(mode="window", window=(float(value[0]), float(value[1])))
        raise ValueError(f"cannot read intensity setting {value!r}: use a mode name {MODES} or (low, high)")

    def value_range(self, data: np.ndarray) -> tuple[float, float]:
        """(low, high) that map to 0 and 1 for ``data`` (an image, or a whole volume)."""
        if self.mode == "window":
            return float(self.window[0]), float(self.window[1])
        if self.mode == "none":
            return 0.0, 1.0
        if self.mode == "auto" and data.dtype == np.uint8:
            return 0.0, 255.0
        sample = _subsample(data)
        if self.mode == "minmax":
            return float(sample.min()), float(sample.max())
        lo, hi = np.percentile(sample, self.percentiles)
        return float(lo), float(hi)


def _subsample(data: np.ndarray, limit: int = 4_000_000) -> np.ndarray:
    """A strided view with at most ~limit values, so percentiles of big volumes stay cheap."""
    flat = data.reshape(-1)
    step = max(1, flat.size // limit)
    return flat[::step]


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


def to_unit_rgb(image: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """H×W×C array → float32 H×W×3 in [0, 1] with ``value_range`` mapped to [0, 1]."""
    lo, hi = value_range
    scale = 1.0 / (hi - lo) if hi > lo else 0.0
    out = (image.astype(np.float32) - np.float32(lo)) * np.float32(scale)
    np.clip(out, 0.0, 1.0, out=out)
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    return out


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


def to_model_frame(xy: np.ndarray, image_hw: tuple[int, int], image_size: int) -> np.ndarray:
    """Scale x, y pairs from image pixels to the model's square of side ``image_size``."""
    h, w = image_hw
    out = np.array(xy, dtype=np.float64).reshape(-1, 2)
    out[:, 0] *= image_size / w
    out[:, 1] *= image_size / h
    return out
