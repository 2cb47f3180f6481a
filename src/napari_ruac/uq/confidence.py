"""``sam2``: SAM2's own probability, with its binary entropy as the uncertainty.

The confidence-only baseline: what a user gets from plain SAM2.
"""

from __future__ import annotations

import torch

from .base import HeadMethod, MethodOptions, register_method
from ..models.uncertainty import binary_entropy


class Sam2Confidence(HeadMethod):
    name = "sam2"
    description = "SAM2's own probability; uncertainty = its binary entropy (confidence only)"

    def apply(self, model, selected, options: MethodOptions):
        probability = torch.sigmoid(selected.logit)
        return selected.logit, probability, binary_entropy(probability)


register_method(Sam2Confidence())
