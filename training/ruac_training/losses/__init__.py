"""Losses of RUAC training: SAM2's task loss and Uncertainty-Accuracy Alignment (KL: ``model.head.kl``)."""

from .task import TaskLossWeights, actual_iou, dice_loss, focal_loss, task_loss
from .uaa import pixel_error, uaa_loss, uaa_terms

__all__ = [
    "TaskLossWeights",
    "actual_iou",
    "dice_loss",
    "focal_loss",
    "pixel_error",
    "task_loss",
    "uaa_loss",
    "uaa_terms",
]
