"""TensorBoard output of the main process: scalars, and image grids of
image | attacked image | ground-truth mask | probability | uncertainty."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from napari_ruac.models.preprocess import IMAGENET_MEAN, IMAGENET_STD


def to_display(image: torch.Tensor) -> torch.Tensor:
    """A normalised (3, S, S) model input back to [0, 1] RGB."""
    mean = torch.tensor(IMAGENET_MEAN, device=image.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=image.device).view(3, 1, 1)
    return (image.float() * std + mean).clamp(0, 1)


def visual_grid(visuals: dict[str, torch.Tensor]) -> torch.Tensor:
    """One row (3, S, k·S) of the first example's panels, maps resized to the image size."""
    image = to_display(visuals["image"][0])
    size = image.shape[-1]
    panels = [image]
    if "attacked" in visuals:
        panels.append(to_display(visuals["attacked"][0]))
    for key in ("mask", "probability", "uncertainty"):
        m = visuals[key][:1].float()[None]
        panels.append(F.interpolate(m, size=(size, size), mode="bilinear", align_corners=False)[0].expand(3, -1, -1))
    return torch.cat([p.cpu() for p in panels], dim=-1)


class Board:
    """A SummaryWriter that exists only on the main process (every call is a no-op elsewhere)."""

    def __init__(self, folder: Path, enabled: bool, purge_step: int | None = None) -> None:
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(folder), purge_step=purge_step)

    def scalars(self, values: dict[str, float], step: int, prefix: str = "train") -> None:
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"{prefix}/{key}", float(value), step)

    def images(self, visuals: dict[str, torch.Tensor], step: int) -> None:
        if self.writer is not None and visuals:
            self.writer.add_image("train/image|attacked|mask|probability|uncertainty", visual_grid(visuals), step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
