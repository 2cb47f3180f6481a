"""Correcting one object (a mix-in of ``ImagePredictor``): refine an existing mask, the correction step
after a click (napari's Enter and S after more clicks, and what ``benchmarks/bench_interactive.py``
measures), and the next-click suggestion (rule: ``uq/suggest.py``).

It uses the predictor's ``predict``, ``window_for``, ``window_around_mask``, ``model`` and image state.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..core.boxes import tight_box, to_model_frame
from ..uq.suggest import ClickSuggestion, edge_width_for, suggest_clicks
from .prediction import Prediction
from .prompts import MASK_PROMPT_LOGIT, check_box, check_points, low_res_mask
from .zoom import Window, as_window, prompt_extent


class Correction:
    """refine_mask, correct and suggest_click of ``ImagePredictor``."""

    def refine_mask(
        self,
        mask: np.ndarray,
        points: Sequence[Sequence[float]] | None = None,
        labels: Sequence[int] | None = None,
        box: Sequence[float] | str | None = "auto",
        method: str | None = None,
        keep_window=None,
        **options,
    ) -> Prediction:
        """Refine an existing object mask (bool H×W: any tool's, or an earlier commit) with
        corrective clicks. The mask becomes SAM2's mask prompt (logits ±6.9 at the decoder's low
        resolution, as micro-sam; the ±1 region map for models trained with the prompt map) and,
        with ``box="auto"``, its bounding box the box prompt (micro-sam's mask + box + points).

        ``keep_window``: the zoom window of the previous step (``prediction.window``). Without a box the
        window follows the mask, which moves a little with every click; this window is kept while the
        zoom rule's window has its size and the mask and the clicks lie inside it, so a correction
        reuses its embedding (the decoder alone runs)."""
        self._require_image()
        full = np.asarray(mask)
        low_res_mask(full, self._image_hw, self.model.image_size)  # checks the shape and that it holds an object
        if isinstance(box, str):
            if box != "auto":
                raise ValueError(f"box must be [x0, y0, x1, y1], None or 'auto', got {box!r}")
            box = tight_box(full.astype(bool))
        checked = None if points is None else check_points(points, labels, self._image_hw)
        # zoom: the mask prompt lives in the frame of the window the prompt is decoded in
        if box is not None:
            window = self.window_for(check_box(box, self._image_hw), None if checked is None else checked[0])
        else:  # no box: the mask says the object's size
            window = self.window_around_mask(full.astype(bool), None if checked is None else checked[0])
            window = _kept_window(window, keep_window, full.astype(bool), None if checked is None else checked[0],
                                  self._image_hw)
        hw = self._image_hw if window is None else window.shape
        low = low_res_mask(full if window is None else full[window.slices], hw, self.model.image_size)
        if self.model.info.prompt_map:
            from ..models.prompt_map import region_prompt_map

            frame_points = frame_labels = None
            if checked is not None:
                xy = checked[0] if window is None else window.shift_xy(checked[0])
                frame = to_model_frame(xy, hw, self.model.image_size)
                frame_points = torch.tensor(frame[None], dtype=torch.float32)
                frame_labels = torch.tensor(checked[1][None], dtype=torch.int32)
            region = torch.from_numpy(low)[None, None]
            mask_input = region_prompt_map(region, frame_points, frame_labels, self.model.image_size)[0, 0].numpy()
        else:
            mask_input = np.where(low, MASK_PROMPT_LOGIT, -MASK_PROMPT_LOGIT).astype(np.float32)
        return self.predict(
            box=box, points=points, labels=labels, mask_input=mask_input, multimask=False, method=method,
            window=window, **options,
        )

    def correct(
        self,
        previous: np.ndarray | Prediction | None,
        box: Sequence[float] | None = None,
        points: Sequence[Sequence[float]] | None = None,
        labels: Sequence[int] | None = None,
        method: str | None = None,
        **options,
    ) -> Prediction:
        """The object after a corrective click: the previous mask (a Prediction or a bool H×W mask)
        goes back in as the mask prompt with the start box, if any, and all clicks so far (micro-sam's
        iterative prompting with ``use_masks=True``; ``benchmarks/bench_interactive.py`` measures this
        very call). No box is made up from the mask: a box drawn around a leaked mask keeps the leak
        (measured). A Prediction's zoom window is kept while it still fits (``refine_mask``'s
        ``keep_window``; pass ``keep_window=`` with a bare mask). An empty or missing previous mask: the
        prompts alone, as ``predict``."""
        mask = previous.mask if isinstance(previous, Prediction) else previous
        if mask is not None and np.asarray(mask).any():
            if isinstance(previous, Prediction):
                options.setdefault("keep_window", previous.window)
            return self.refine_mask(mask, points=points, labels=labels, box=box, method=method, **options)
        options.pop("keep_window", None)
        return self.predict(box=box, points=points, labels=labels, method=method, multimask=False, **options)

    def suggest_click(
        self, prediction: Prediction, n: int = 1, points=None, box=None, **rule
    ) -> list[ClickSuggestion]:
        """Up to ``n`` ranked corrective clicks for ``prediction`` (rule: ``uq/suggest.py``).

        ``points``: the clicks already made ([[x, y], ...]), never suggested again, with their
        ``labels`` (1/0; a part of the mask holding a positive click is kept); ``box``: the box
        prompt, if any (mask beyond it is a leak, a side it does not reach a missed part). Each
        suggestion has ``x``, ``y`` (image pixels), ``positive`` or not, ``score`` and ``reason``.
        """
        rule.setdefault("edge_width", edge_width_for(prediction.probability.shape[:2], self.model.image_size))
        return suggest_clicks(
            prediction.probability, prediction.uncertainty, prediction.mask, points=points, box=box, n=n, **rule
        )


def _kept_window(rule: Window | None, previous, mask: np.ndarray, points, image_hw) -> Window | None:
    """``previous`` (a window or its (y0, x0, y1, x1)) instead of the zoom rule's window when both exist,
    have one size, and the mask and the clicks lie inside ``previous``; else the rule's window."""
    if rule is None or previous is None:
        return rule
    kept = as_window(previous, image_hw)
    if kept.shape != rule.shape:
        return rule
    x0, y0, x1, y1 = prompt_extent(tight_box(mask), points)
    inside = kept.x0 <= x0 and x1 <= kept.x1 and kept.y0 <= y0 and y1 <= kept.y1
    return kept if inside else rule
