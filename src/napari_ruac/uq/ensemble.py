"""Shared pieces of the sampling baselines: the ensemble rule P̄ → (mask logit, P̄, U) and
the helpers that find an optional head (Laplace posterior, variance net, fusion) for a method."""

from __future__ import annotations

import torch
from torch import nn

from ..models.uncertainty import binary_entropy
from .base import MethodOptions, MethodOutput

LOGIT_LIMIT = 32.0  # same clamp as the predictors apply to low-res logits


class MissingHeadError(RuntimeError):
    """A method needs a fitted/trained extra head that the model does not have."""


def probability_to_logit(probability: torch.Tensor) -> torch.Tensor:
    """logit(P̄), finite: the mask of an ensemble is P̄ > 0.5."""
    p = probability.clamp(1e-7, 1.0 - 1e-7)
    return (torch.log(p) - torch.log1p(-p)).clamp(-LOGIT_LIMIT, LOGIT_LIMIT)


def ensemble_output(
    mean_probability: torch.Tensor, iou: torch.Tensor, object_score: torch.Tensor | None = None
) -> MethodOutput:
    """The UncertSAM rule: mask from P̄, uncertainty U = H(P̄) in bits."""
    extras = {} if object_score is None else {"object_score": object_score}
    return MethodOutput(
        mask_logit=probability_to_logit(mean_probability),
        probability=mean_probability,
        uncertainty=binary_entropy(mean_probability),
        iou=iou,
        extras=extras,
    )


def find_extra(model, options: MethodOptions, name: str, how_to_get: str) -> nn.Module:
    """The head ``name`` from ``options.extra[name]`` (a module, or for some heads a file) or
    ``model.extras[name]``; a clear error saying how to get one otherwise."""
    candidate = options.extra.get(name)
    if candidate is not None:
        return candidate
    if name in model.extras:
        return model.extras[name]
    raise MissingHeadError(f"the model has no {name!r} head. {how_to_get}")
