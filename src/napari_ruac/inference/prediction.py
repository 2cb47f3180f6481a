"""The result every predictor and every method returns: plain numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..models.uncertainty import binary_entropy
from ..uq.base import MethodOutput


@dataclass
class Prediction:
    """One object's segmentation with its per-pixel uncertainty, at the image's resolution."""

    mask: np.ndarray  # bool (H, W)
    probability: np.ndarray  # float32 (H, W), P(object)
    uncertainty: np.ndarray  # float32 (H, W) in [0, 1]: entropy in bits
    iou: float  # the decoder's predicted IoU of the mask
    method: str
    low_res_logits: np.ndarray | None = None  # (S/4, S/4): feed back as mask_input to refine
    extras: dict = field(default_factory=dict)

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    def mean_uncertainty(self, inside_mask: bool = False) -> float:
        values = self.uncertainty[self.mask] if inside_mask else self.uncertainty
        return float(values.mean()) if values.size else 0.0

    def __repr__(self) -> str:
        return (
            f"Prediction(method={self.method!r}, shape={self.mask.shape}, area={self.area}, "
            f"iou={self.iou:.3f}, mean_uncertainty={self.mean_uncertainty():.3f})"
        )


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, h, w) → (B, H, W) bilinear (SAM2's postprocess_masks resampling)."""
    return F.interpolate(maps[:, None].float(), size=size, mode="bilinear", align_corners=False)[:, 0]


def to_predictions(output: MethodOutput, image_hw: tuple[int, int], method: str) -> list[Prediction]:
    """Upsample a method's low-res maps to the image and split the batch into Predictions."""
    logit = upsample(output.mask_logit, image_hw)
    probability = upsample(output.probability, image_hw).clamp(0.0, 1.0)
    if output.uncertainty_is_entropy:
        uncertainty = binary_entropy(probability)
    else:
        uncertainty = upsample(output.uncertainty, image_hw).clamp(0.0, 1.0)
    low_res = output.mask_logit.clamp(-32.0, 32.0)
    results = []
    for i in range(logit.shape[0]):
        extras = {k: v[i].detach().cpu().numpy() for k, v in output.extras.items()}
        extras = {k: (float(v) if v.ndim == 0 else v) for k, v in extras.items()}
        results.append(
            Prediction(
                mask=(logit[i] > 0).cpu().numpy(),
                probability=probability[i].cpu().numpy().astype(np.float32),
                uncertainty=uncertainty[i].cpu().numpy().astype(np.float32),
                iou=float(output.iou[i]),
                method=method,
                low_res_logits=low_res[i].cpu().numpy().astype(np.float32),
                extras=extras,
            )
        )
    return results
