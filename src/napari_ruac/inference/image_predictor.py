"""``ImagePredictor``: one 2D image, any prompt, any uncertainty method, one result type."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..models.ruac_model import ImageFeatures, RUACModel
from ..uq import MethodContext, MethodOptions, get_method
from ..uq.suggest import ClickSuggestion, edge_width_for, suggest_clicks
from .embedding_cache import EmbeddingCache, image_digest
from .prediction import Prediction, to_predictions
from ..models.preprocess import Intensity, check_image, check_not_constant, to_model_input, to_unit_rgb
from .prompts import MASK_PROMPT_LOGIT, build_prompt_batch, check_points, low_res_mask, mask_bounding_box


class NoImageError(RuntimeError):
    pass


class ImagePredictor:
    """Segment objects in one image with a per-pixel uncertainty.

    ``method``: ``ruac`` (default, analytic), ``ruac-mc``, ``sam2`` or a baseline
    (``tta``, ``prompt``, ``laplace``, ``varnet``). Options such as ``num_samples`` and
    ``seed`` are set here and may be overridden per ``predict`` call.
    """

    def __init__(
        self,
        model: RUACModel,
        method: str = "ruac",
        intensity: Intensity | str | tuple | None = None,
        cache: EmbeddingCache | None = None,
        **options,
    ) -> None:
        self.model = model
        self.method = get_method(method)
        self.intensity = Intensity.parse(intensity)
        self.options = MethodOptions(**_split_options(options))
        self.cache = cache if cache is not None else EmbeddingCache()
        self._features: ImageFeatures | None = None
        self._model_input: torch.Tensor | None = None
        self._image_hw: tuple[int, int] | None = None
        self.value_range: tuple[float, float] | None = None

    # ---- image ---------------------------------------------------------------------
    @torch.no_grad()
    def set_image(self, image, value_range: tuple[float, float] | None = None) -> None:
        """Compute (or fetch from the cache) the embedding of ``image``.

        ``value_range``: the (low, high) intensities that map to [0, 1]; by default from
        the predictor's ``intensity`` setting (pass a volume's range to treat slices alike).
        A constant image (without ``value_range``) is refused: it has no object to find.
        """
        array = check_image(image)
        if value_range is None:  # a whole image (a volume's slices come with the volume's range)
            check_not_constant(array)
            value_range = self.intensity.value_range(array)
        model_input = to_model_input(to_unit_rgb(array, value_range), self.model.image_size, self.model.device)
        key = self.cache.key(self.model.signature(), image_digest(array), value_range)
        features = self.cache.get(key)
        if features is None:
            features = self.model.encode_image(model_input)
            self.cache.put(key, features)
        self._features = features
        self._model_input = model_input
        self._image_hw = (array.shape[0], array.shape[1])
        self.value_range = value_range

    @property
    def is_image_set(self) -> bool:
        return self._features is not None

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return self._image_hw

    @property
    def features(self) -> ImageFeatures:
        self._require_image()
        return self._features

    def reset(self) -> None:
        self._features = self._model_input = self._image_hw = None

    def _require_image(self) -> None:
        if self._features is None:
            raise NoImageError("no image set: call predictor.set_image(image) before predict().")

    # ---- prediction ----------------------------------------------------------------
    def predict(
        self,
        box: Sequence[float] | None = None,
        points: Sequence[Sequence[float]] | None = None,
        labels: Sequence[int] | None = None,
        mask_input: np.ndarray | None = None,
        multimask: bool | None = None,
        method: str | None = None,
        refine: bool = False,
        **options,
    ) -> Prediction:
        """Segment one object from a box and/or points (x = column, y = row, image pixels).

        ``refine=True`` runs the dense-fusion refinement (a second decoder pass fed with the
        first pass's probability and uncertainty); it needs a model with a trained fusion head.
        """
        return self.predict_batch(
            boxes=None if box is None else [box],
            points=None if points is None else [points],
            labels=None if labels is None else [labels],
            mask_input=mask_input,
            multimask=multimask,
            method=method,
            refine=refine,
            **options,
        )[0]

    @torch.no_grad()
    def predict_batch(
        self,
        boxes: Sequence[Sequence[float]] | None = None,
        points: Sequence[Sequence[Sequence[float]]] | None = None,
        labels: Sequence[Sequence[int]] | None = None,
        mask_input: np.ndarray | None = None,
        multimask: bool | None = None,
        method: str | None = None,
        refine: bool = False,
        **options,
    ) -> list[Prediction]:
        """Several objects of the same image at once (batched through the decoder)."""
        self._require_image()
        chosen = self.method if method is None else get_method(method)
        prompts = build_prompt_batch(
            self._image_hw,
            self.model.image_size,
            self.model.device,
            boxes=boxes,
            points=points,
            labels=labels,
            mask_input=mask_input,
            multimask=multimask,
        )
        opts = self.options if not options else _merge_options(self.options, options)
        ctx = MethodContext(
            model=self.model, features=self._features, image=self._model_input, options=opts, image_hw=self._image_hw
        )
        output = chosen.run(ctx, prompts)
        name = chosen.name
        if refine:
            from ..uq.fusion import refine_output  # the dense-fusion refinement (UncertSAM)

            output = refine_output(ctx, prompts, output)
            name = f"{name}+refine"
        return to_predictions(output, self._image_hw, name)

    def refine_mask(
        self,
        mask: np.ndarray,
        points: Sequence[Sequence[float]] | None = None,
        labels: Sequence[int] | None = None,
        box: Sequence[float] | str | None = "auto",
        method: str | None = None,
        **options,
    ) -> Prediction:
        """Refine an existing object mask (bool H×W: any tool's, or an earlier commit) with
        corrective clicks. The mask becomes SAM2's mask prompt (logits ±6.9 at the decoder's low
        resolution, as micro-sam; the ±1 region map for models trained with the prompt map) and,
        with ``box="auto"``, its bounding box the box prompt (micro-sam's mask + box + points)."""
        self._require_image()
        low = low_res_mask(mask, self._image_hw, self.model.image_size)
        if isinstance(box, str):
            if box != "auto":
                raise ValueError(f"box must be [x0, y0, x1, y1], None or 'auto', got {box!r}")
            box = mask_bounding_box(np.asarray(mask, dtype=bool))
        if self.model.info.prompt_map:
            from ..models.preprocess import to_model_frame
            from ..models.prompt_map import region_prompt_map

            frame_points = frame_labels = None
            if points is not None:
                checked, checked_labels = check_points(points, labels, self._image_hw)
                frame = to_model_frame(checked, self._image_hw, self.model.image_size)
                frame_points = torch.tensor(frame[None], dtype=torch.float32)
                frame_labels = torch.tensor(checked_labels[None], dtype=torch.int32)
            region = torch.from_numpy(low)[None, None]
            mask_input = region_prompt_map(region, frame_points, frame_labels, self.model.image_size)[0, 0].numpy()
        else:
            mask_input = np.where(low, MASK_PROMPT_LOGIT, -MASK_PROMPT_LOGIT).astype(np.float32)
        return self.predict(
            box=box, points=points, labels=labels, mask_input=mask_input, multimask=False, method=method, **options
        )

    # ---- guided correction -----------------------------------------------------------
    def suggest_click(
        self, prediction: Prediction, n: int = 1, points=None, box=None, **rule
    ) -> list[ClickSuggestion]:
        """Up to ``n`` ranked corrective clicks for ``prediction`` (rule: ``uq/suggest.py``).

        ``points``: the clicks already made ([[x, y], ...]), never suggested again; ``box``: the
        box prompt, if any (it widens the object's extent). Each suggestion has ``x``, ``y``
        (image pixels), ``positive`` (a missed part) or not (a leak), and a ``score``.
        """
        rule.setdefault("edge_width", edge_width_for(prediction.probability.shape[:2], self.model.image_size))
        return suggest_clicks(
            prediction.probability, prediction.uncertainty, prediction.mask, points=points, box=box, n=n, **rule
        )


_OPTION_FIELDS = ("num_samples", "seed", "batch_size", "simplified_variance")


def _split_options(options: dict) -> dict:
    known = {k: v for k, v in options.items() if k in _OPTION_FIELDS}
    extra = {k: v for k, v in options.items() if k not in _OPTION_FIELDS}
    return {**known, "extra": extra}


def _merge_options(base: MethodOptions, overrides: dict) -> MethodOptions:
    split = _split_options(overrides)
    merged = {f: getattr(base, f) for f in _OPTION_FIELDS}
    merged.update({k: v for k, v in split.items() if k != "extra"})
    return MethodOptions(**merged, extra={**base.extra, **split["extra"]})
