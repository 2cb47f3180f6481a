"""Prompts as the model takes them: a batch in the model's square frame (what ``RUACModel.encode_prompts``
encodes). Checking a user's prompts and moving them here is :mod:`napari_ruac.inference.prompts`."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PromptBatch:
    """B prompts in model pixel coordinates (the square frame of side ``model.image_size``)."""

    points: torch.Tensor | None = None  # (B, N, 2) float, x then y
    labels: torch.Tensor | None = None  # (B, N) int: 1 foreground, 0 background
    boxes: torch.Tensor | None = None  # (B, 4) float: x0, y0, x1, y1
    mask_input: torch.Tensor | None = None  # (B, 1, S/4, S/4) logits of an earlier prediction
    multimask: bool = False  # SAM2's choice: True for one ambiguous click

    @property
    def size(self) -> int:
        for t in (self.boxes, self.points, self.mask_input):
            if t is not None:
                return int(t.shape[0])
        return 0

    def index(self, rows: slice | torch.Tensor) -> "PromptBatch":
        pick = lambda t: None if t is None else t[rows]  # noqa: E731
        return PromptBatch(pick(self.points), pick(self.labels), pick(self.boxes), pick(self.mask_input), self.multimask)

    def repeat(self, n: int) -> "PromptBatch":
        """Each prompt repeated n times (prompt-major), e.g. for n samples per prompt."""
        rep = lambda t: None if t is None else t.repeat_interleave(n, dim=0)  # noqa: E731
        return PromptBatch(rep(self.points), rep(self.labels), rep(self.boxes), rep(self.mask_input), self.multimask)
