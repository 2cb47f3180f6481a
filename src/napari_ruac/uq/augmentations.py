"""Test-time augmentations for the ``tta`` method: sampled colour jitter / greyscale and
exactly invertible geometry (horizontal flip, zoom-out about the frame centre).

Coordinates follow SAM2's prompt convention: a model-frame coordinate x is the pixel index,
its continuous position is c = x + 0.5 on [0, S]. A zoom by s maps c → s·(c − S/2) + S/2 and
a flip maps c → S − c; images, prompts and output maps are all moved by that one affine map,
so the output of an augmented pass lands exactly where the original pixel was.

Augmentation sets (UncertSAM Table 4; SAM2's training transforms):
``train``: flip p .5, zoom-out, jitter (b .1, c .03, s .03), greyscale p .05, jitter (b .1, c .05, s .05);
``hue``: a hue shift (h .5) followed by the train set (our decision: the brief's "hue + train");
``hue-only``: the hue shift alone (the paper's Table 4 row); ``identity``: nothing (a control).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF

from ..models.preprocess import IMAGENET_MEAN, IMAGENET_STD  # SAM2's input normalisation


@dataclass(frozen=True)
class Jitter:
    """torchvision ColorJitter ranges: factors uniform in [1−x, 1+x] (hue: shift in [−h, h])."""

    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0


@dataclass(frozen=True)
class AugmentationSet:
    """What one TTA set may do; ``steps`` run in order (a Jitter, or a float = greyscale probability)."""

    flip_probability: float = 0.5
    scale_range: tuple[float, float] = (0.75, 1.0)  # zoom-out factor s (content side / frame side)
    steps: tuple = ()


_TRAIN_STEPS = (Jitter(0.1, 0.03, 0.03), 0.05, Jitter(0.1, 0.05, 0.05))
AUGMENTATION_SETS: dict[str, AugmentationSet] = {
    "train": AugmentationSet(steps=_TRAIN_STEPS),
    "hue": AugmentationSet(steps=(Jitter(hue=0.5),) + _TRAIN_STEPS),
    "hue-only": AugmentationSet(flip_probability=0.0, scale_range=(1.0, 1.0), steps=(Jitter(hue=0.5),)),
    "identity": AugmentationSet(flip_probability=0.0, scale_range=(1.0, 1.0), steps=()),
}


def augmentation_set(name: str | AugmentationSet) -> AugmentationSet:
    if isinstance(name, AugmentationSet):
        return name
    if name not in AUGMENTATION_SETS:
        raise ValueError(f"unknown TTA set {name!r}; choose one of {', '.join(AUGMENTATION_SETS)}")
    return AUGMENTATION_SETS[name]


@dataclass(frozen=True)
class Augmentation:
    """One sampled augmentation: geometry (flip, content side in pixels) and colour operations."""

    image_size: int
    flip: bool = False
    content_size: int | None = None  # side of the zoomed image inside the frame; None = no zoom
    colour: tuple[tuple[str, float], ...] = field(default_factory=tuple)

    @property
    def scale(self) -> float:
        return 1.0 if self.content_size is None else self.content_size / self.image_size

    @property
    def is_geometric(self) -> bool:
        return self.flip or self.content_size not in (None, self.image_size)


def content_side(image_size: int, scale: float) -> int:
    """Side S' of the zoomed content, with S − S' even so the centred placement is whole pixels."""
    margin = int(round(image_size * (1.0 - scale) / 2.0))
    return max(2, image_size - 2 * margin)


def sample_augmentations(
    spec: AugmentationSet, count: int, rng: np.random.Generator, image_size: int
) -> list[Augmentation]:
    """``count`` augmentations drawn from ``spec`` (colour steps in random order inside a jitter)."""
    out = []
    for _ in range(count):
        flip = bool(rng.random() < spec.flip_probability)
        lo, hi = spec.scale_range
        side = content_side(image_size, float(rng.uniform(lo, hi))) if hi < 1.0 or lo < 1.0 else None
        colour: list[tuple[str, float]] = []
        for step in spec.steps:
            if isinstance(step, Jitter):
                ops = [(name, getattr(step, name)) for name in ("brightness", "contrast", "saturation", "hue")]
                for index in rng.permutation(len(ops)):
                    name, amount = ops[index]
                    if amount <= 0:
                        continue
                    if name == "hue":
                        colour.append((name, float(rng.uniform(-amount, amount))))
                    else:
                        colour.append((name, float(rng.uniform(max(0.0, 1.0 - amount), 1.0 + amount))))
            elif rng.random() < float(step):
                colour.append(("grey", 1.0))
        out.append(Augmentation(image_size, flip, side, tuple(colour)))
    return out


# ---- images ---------------------------------------------------------------------------
def _stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(IMAGENET_MEAN, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return mean, std


def unnormalise(model_input: torch.Tensor) -> torch.Tensor:
    """SAM2's normalised input (B, 3, S, S) → RGB in [0, 1]."""
    mean, std = _stats(model_input)
    return (model_input * std + mean).clamp(0.0, 1.0)


def normalise(unit_rgb: torch.Tensor) -> torch.Tensor:
    mean, std = _stats(unit_rgb)
    return (unit_rgb - mean) / std


_COLOUR_OPS = {
    "brightness": TF.adjust_brightness,
    "contrast": TF.adjust_contrast,
    "saturation": TF.adjust_saturation,
    "hue": TF.adjust_hue,
}


def apply_colour(unit_rgb: torch.Tensor, aug: Augmentation) -> torch.Tensor:
    """Colour operations on (…, 3, H, W) in [0, 1]."""
    x = unit_rgb
    for name, value in aug.colour:
        x = TF.rgb_to_grayscale(x, num_output_channels=3) if name == "grey" else _COLOUR_OPS[name](x, value)
    return x.clamp(0.0, 1.0)


def _prefilter(x: torch.Tensor, scale: float) -> torch.Tensor:
    """A symmetric 3-tap blur [a, 1−2a, a], a = (1 − s)/2, before shrinking by s: it keeps linear
    ramps exactly in place (torch's antialiased resize shifts them by up to 0.015 px)."""
    a = 0.5 * (1.0 - scale)
    taps = torch.tensor([a, 1.0 - 2.0 * a, a], dtype=x.dtype, device=x.device)
    c = x.shape[1]
    x = F.pad(x, (1, 1, 1, 1), mode="replicate")
    x = F.conv2d(x, taps.view(1, 1, 1, 3).expand(c, 1, 1, 3), groups=c)
    return F.conv2d(x, taps.view(1, 1, 3, 1).expand(c, 1, 3, 1), groups=c)


def warp_image(unit_rgb: torch.Tensor, aug: Augmentation) -> torch.Tensor:
    """(B, C, S, S) → zoomed out about the centre (zero padding) and flipped."""
    x = unit_rgb
    side = aug.content_size
    if side is not None and side != aug.image_size:
        small = F.interpolate(_prefilter(x, aug.scale), size=(side, side), mode="bilinear", align_corners=False)
        pad = (aug.image_size - side) // 2
        x = F.pad(small, (pad, pad, pad, pad))
    return torch.flip(x, dims=(-1,)) if aug.flip else x


def augment_image(unit_rgb: torch.Tensor, aug: Augmentation) -> torch.Tensor:
    return warp_image(apply_colour(unit_rgb, aug), aug)


# ---- low-resolution maps (decoder outputs, mask prompts) ------------------------------
def _zoom_grid(maps: torch.Tensor, factor: float) -> torch.Tensor:
    """out(g) = in(factor·g) in normalised coordinates (align_corners=False: resolution-free)."""
    b, _, h, w = maps.shape
    theta = torch.tensor([[factor, 0.0, 0.0], [0.0, factor, 0.0]], dtype=maps.dtype, device=maps.device)
    grid = F.affine_grid(theta.expand(b, 2, 3), [b, 1, h, w], align_corners=False)
    return F.grid_sample(maps, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def unwarp_maps(maps: torch.Tensor, aug: Augmentation) -> torch.Tensor:
    """(B, h, w) maps of an augmented pass → the original frame (un-flip, un-zoom)."""
    x = torch.flip(maps, dims=(-1,)) if aug.flip else maps
    if aug.content_size is not None and aug.content_size != aug.image_size:
        x = _zoom_grid(x[:, None], aug.scale)[:, 0]
    return x


def warp_maps(maps: torch.Tensor, aug: Augmentation, fill: float = 0.0) -> torch.Tensor:
    """(B, 1, h, w) maps in the original frame → the augmented frame (for mask prompts);
    the area outside the zoomed content gets ``fill``."""
    x = maps
    if aug.content_size is not None and aug.content_size != aug.image_size:
        x = _zoom_grid(x - fill, 1.0 / aug.scale) + fill
    return torch.flip(x, dims=(-1,)) if aug.flip else x


# ---- prompts --------------------------------------------------------------------------
def warp_points(xy: torch.Tensor, aug: Augmentation) -> torch.Tensor:
    """(…, 2) model-frame x, y → the augmented frame."""
    size = float(aug.image_size)
    c = xy + 0.5
    c = aug.scale * (c - size / 2.0) + size / 2.0
    if aug.flip:
        c = torch.stack([size - c[..., 0], c[..., 1]], dim=-1)
    return c - 0.5


def warp_boxes(boxes: torch.Tensor, aug: Augmentation) -> torch.Tensor:
    """(B, 4) x0, y0, x1, y1 → the augmented frame (a flip swaps the x corners)."""
    corners = warp_points(boxes.reshape(-1, 2, 2), aug)
    x0, y0 = corners[:, 0, 0], corners[:, 0, 1]
    x1, y1 = corners[:, 1, 0], corners[:, 1, 1]
    return torch.stack([torch.minimum(x0, x1), y0, torch.maximum(x0, x1), y1], dim=-1)
