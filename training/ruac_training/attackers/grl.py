"""Gradient Reversal Layer: identity forward, −λ·grad backward.

Placed between an attacker's output and the segmentation model, it lets one backward pass
train both players of the min-max game: the model descends the loss, the attacker ascends it.
"""

from __future__ import annotations

import torch
from torch import nn


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``x`` unchanged; its gradient multiplied by ``-scale`` on the way back."""
    return _Reverse.apply(x, float(scale))


class GradientReversal(nn.Module):
    """Module form of :func:`reverse_gradient` with a settable ``scale`` (λ)."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return reverse_gradient(x, self.scale)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"
