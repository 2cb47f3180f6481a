"""The result every predictor and every method returns: plain numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

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
    # zoom-in: the (y0, x0, y1, x1) image window the model saw (None: the whole image). low_res_logits
    # are in that window's frame: pass window=prediction.window with mask_input to refine.
    window: tuple[int, int, int, int] | None = None

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
    """Upsample a method's low-res maps to the image (one resampling pass for the three maps)
    and split the batch into Predictions. Uncertainty and probability are resampled alike, so
    U = H(P) holds at the model's resolution and approximately on the image grid."""
    maps = torch.stack([output.mask_logit.float(), output.probability.float(), output.uncertainty.float()], dim=1)
    maps = F.interpolate(maps, size=image_hw, mode="bilinear", align_corners=False).cpu()
    maps[:, 1:].clamp_(0.0, 1.0)  # bilinear weights can round a saturated 1.0 to 1 + 1 ulp
    low_res = output.mask_logit.clamp(-32.0, 32.0).float().cpu()
    results = []
    for i in range(maps.shape[0]):
        extras = {k: v[i].detach().cpu().numpy() for k, v in output.extras.items()}
        extras = {k: (float(v) if v.ndim == 0 else v) for k, v in extras.items()}
        results.append(
            Prediction(
                mask=(maps[i, 0] > 0).numpy(),
                probability=maps[i, 1].numpy(),
                uncertainty=maps[i, 2].numpy(),
                iou=float(output.iou[i]),
                method=method,
                low_res_logits=low_res[i].numpy(),
                extras=extras,
            )
        )
    return results
