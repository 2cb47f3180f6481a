"""``ImagePredictor``: one 2D image, any prompt, any uncertainty method, one result type (correcting an
object — refine_mask, correct, suggest_click — lives in correction.py)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..models.loading import as_model
from ..models.ruac_model import ImageFeatures, RUACModel
from ..uq import DEFAULT_METHOD, MethodContext, MethodOptions, get_method
from .click_proposal import checked_click
from .correction import Correction
from .embedding_cache import EmbeddingCache, image_digest
from .prediction import Prediction, to_predictions
from ..core.boxes import tight_box
from ..core.intensity import Intensity, to_unit_rgb
from ..models.preprocess import check_image, check_not_constant, to_model_input
from .prompts import build_prompt_batch, check_box, check_points
from .zoom import DEFAULT_CONTEXT, Window, ZoomError, as_window, check_context, choose_window, parse_zoom, paste


class NoImageError(RuntimeError):
    pass


class ImagePredictor(Correction):
    """Segment objects in one image with a per-pixel uncertainty.

    ``method``: ``ruac`` (default, analytic), ``ruac-mc``, ``sam2`` or a baseline
    (``tta``, ``prompt``, ``laplace``, ``varnet``). Options such as ``num_samples`` and
    ``seed`` are set here and may be overridden per ``predict`` call.

    ``zoom``: ``"auto"`` (default), ``"on"``/True or ``"off"``/False: predict small objects in a window
    around the prompt at the model's resolution (rule and defaults: ``inference/zoom.py``);
    ``zoom_context``: the window's side in box sides (3); ``zoom_min_side``: the window's least side in
    image pixels (default: the model's input size, so a window is never upsampled); ``point_context``:
    the least side around points-only prompts (default ``zoom_min_side``). ``tracking`` is accepted and
    ignored, so that one options dict serves images and volumes (VolumePredictor uses it).
    ``click_proposal``: check a lone positive click against the image's own object proposal under it and
    take the proposal's box when model and image agree (``inference/click_proposal.py``; ``predict`` only;
    off by default: it helps blob-like objects, coins and cells a lot, and costs real DSB2018 nuclei a little).
    """

    def __init__(
        self,
        model: RUACModel | str | None,
        method: str = DEFAULT_METHOD,
        intensity: Intensity | str | tuple | None = None,
        cache: EmbeddingCache | None = None,
        zoom="auto",
        zoom_context: float = DEFAULT_CONTEXT,
        zoom_min_side: float | None = None,
        point_context: float | None = None,
        tracking: str | None = None,
        click_proposal: bool = False,
        **options,
    ) -> None:
        self.model = model = as_model(model)
        self.zoom = parse_zoom(zoom)
        self.zoom_context = check_context(zoom_context)
        self.zoom_min_side = float(model.image_size if zoom_min_side is None else zoom_min_side)
        self.point_context = None if point_context is None else float(point_context)
        self.click_proposal = bool(click_proposal)
        if self.zoom_min_side < 8 or (self.point_context is not None and self.point_context < 8):
            raise ZoomError("zoom_min_side and point_context are window sides in image pixels and must be ≥ 8, "
                            f"got {zoom_min_side!r} and {point_context!r}")
        self.method = get_method(method)
        self.intensity = Intensity.parse(intensity)
        self.options = MethodOptions(**_split_options(options))
        self.cache = cache if cache is not None else EmbeddingCache()
        self._features: ImageFeatures | None = None
        self._model_input: torch.Tensor | None = None
        self._image_hw: tuple[int, int] | None = None
        self._array: np.ndarray | None = None
        self._digest: str | None = None
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
        digest = image_digest(array)
        self._features, self._model_input = self._encode(array, digest, value_range, None)
        self._image_hw = (array.shape[0], array.shape[1])
        self._array, self._digest = array, digest
        self.value_range = value_range

    def _encode(self, array, digest: str, value_range, window: Window | None):
        """(features, model input) of the image or of one window of it, through the embedding cache."""
        crop = array if window is None else array[window.slices]
        model_input = to_model_input(to_unit_rgb(crop, value_range), self.model.image_size, self.model.device)
        tag = digest if window is None else f"{digest}@{window.as_tuple()}"
        key = self.cache.key(self.model.signature(), tag, value_range)
        features = self.cache.get(key)
        if features is None:
            features = self.model.encode_image(model_input)
            self.cache.put(key, features)
        return features, model_input

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
        self._features = self._model_input = self._image_hw = self._array = self._digest = None

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
        window=None,
        **options,
    ) -> Prediction:
        """Segment one object from a box and/or points (x = column, y = row, image pixels).

        ``refine=True`` runs the dense-fusion refinement (a second decoder pass fed with the
        first pass's probability and uncertainty); it needs a model with a trained fusion head.
        ``window``: (y0, x0, y1, x1) to predict in that image window instead of the zoom rule's
        (pass ``prediction.window`` with its ``low_res_logits`` as ``mask_input`` to refine it).
        """
        args = dict(labels=None if labels is None else [labels], multimask=multimask, method=method, refine=refine,
                    **options)
        prediction = self.predict_batch(boxes=None if box is None else [box],
                                        points=None if points is None else [points],
                                        mask_input=mask_input, window=window, **args)[0]
        if box is None and points is not None and mask_input is None and window is None:
            if prediction.window is None:
                # clicks alone: the first answer measures the object; zoom to it when that gains resolution
                measured = self.window_around_mask(prediction.mask, points)
                if measured is not None:
                    prediction = self.predict_batch(points=[points], window=measured, **args)[0]
            if self.click_proposal:
                one = np.asarray(points, float).reshape(-1, 2)
                if len(one) == 1 and (labels is None or int(np.ravel(labels)[0]) == 1):
                    prediction = checked_click(self, prediction, one[0].tolist(), args)
        return prediction

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
        window=None,
        **options,
    ) -> list[Prediction]:
        """Several objects of the same image at once (batched through the decoder; zoomed objects
        are decoded window by window, see ``inference/zoom.py``)."""
        self._require_image()
        chosen = self.method if method is None else get_method(method)
        opts = self.options if not options else _merge_options(self.options, options)
        windows = self._windows(boxes, points, labels, window)
        if any(w is not None for w in windows):
            return [
                self._predict_in_window(w, chosen, opts, refine, mask_input, multimask,
                                        None if boxes is None else boxes[i], None if points is None else points[i],
                                        None if labels is None else labels[i])
                for i, w in enumerate(windows)
            ]
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
        ctx = MethodContext(
            model=self.model, features=self._features, image=self._model_input, options=opts, image_hw=self._image_hw
        )
        return self._run(chosen, ctx, prompts, refine, self._image_hw)

    def _run(self, chosen, ctx: MethodContext, prompts, refine: bool, hw: tuple[int, int]) -> list[Prediction]:
        output = chosen.run(ctx, prompts)
        name = chosen.name
        if refine:
            from ..uq.fusion import refine_output  # the dense-fusion refinement (UncertSAM)

            output = refine_output(ctx, prompts, output)
            name = f"{name}+refine"
        return to_predictions(output, hw, name)

    # ---- zoom-in ---------------------------------------------------------------------
    def window_for(self, box=None, points=None) -> Window | None:
        """The window the zoom rule picks for one prompt (None: the whole image)."""
        self._require_image()
        return choose_window(self.zoom, self._image_hw, box=box, points=points, context=self.zoom_context,
                             min_side=self.zoom_min_side, point_context=self.point_context)

    def window_around_mask(self, mask: np.ndarray, points=None) -> Window | None:
        """The window the zoom rule picks around an object's mask and its clicks, sized as for a box
        (clicks alone do not say the object's size; a mask does). None: the whole image, also when
        the mask is empty or zoom is off."""
        self._require_image()
        mask = np.asarray(mask, dtype=bool)
        if self.zoom == "off" or mask.shape != tuple(self._image_hw) or not mask.any():
            return None
        return choose_window(self.zoom, self._image_hw, box=tight_box(mask), points=points,
                             context=self.zoom_context, min_side=self.zoom_min_side)

    def _windows(self, boxes, points, labels, window) -> list[Window | None]:
        count = len(boxes) if boxes is not None else (len(points) if points is not None else 0)
        if window is not None:
            return [as_window(window, self._image_hw)] * max(count, 1)
        if self.zoom == "off" or count == 0:
            return [None] * count
        out = []
        for i in range(count):
            box = None if boxes is None else check_box(boxes[i], self._image_hw)
            pts = None
            if points is not None:
                pts, _ = check_points(points[i], None if labels is None else labels[i], self._image_hw)
            out.append(self.window_for(box, pts))
        return out

    def _predict_in_window(self, window: Window | None, chosen, opts, refine, mask_input, multimask, box, points,
                           labels) -> Prediction:
        """One prompt decoded in ``window`` (or the whole image), its maps pasted back into the image."""
        if window is None:
            features, model_input, hw = self._features, self._model_input, self._image_hw
        else:
            features, model_input = self._encode(self._array, self._digest, self.value_range, window)
            hw = window.shape
            if box is not None:
                box = check_box(box, self._image_hw)
                shifted = window.shift_xy(np.asarray(box, dtype=np.float64).reshape(2, 2))
                shifted[:, 0] = shifted[:, 0].clip(0, hw[1])
                shifted[:, 1] = shifted[:, 1].clip(0, hw[0])
                if not (shifted[1] > shifted[0]).all():
                    raise ZoomError(f"the box {list(box)} lies outside the window ({window}); widen the window")
                box = shifted.reshape(4)
            if points is not None:
                points = window.shift_xy(np.asarray(points, dtype=np.float64).reshape(-1, 2))
                outside = (points < 0).any(axis=1) | (points[:, 0] > hw[1]) | (points[:, 1] > hw[0])
                if outside.any():
                    raise ZoomError(f"point(s) {(points[outside] + [window.x0, window.y0]).tolist()} lie outside "
                                    f"the window ({window}); widen the window or give zoom='off'")
        prompts = build_prompt_batch(
            hw, self.model.image_size, self.model.device,
            boxes=None if box is None else [box], points=None if points is None else [points],
            labels=None if labels is None else [labels], mask_input=mask_input, multimask=multimask,
        )
        ctx = MethodContext(model=self.model, features=features, image=model_input, options=opts, image_hw=hw)
        prediction = self._run(chosen, ctx, prompts, refine, hw)[0]
        if window is None:
            return prediction
        full = self._image_hw
        prediction.mask = paste(prediction.mask, window, full, False)
        prediction.probability = paste(prediction.probability, window, full, 0.0)
        prediction.uncertainty = paste(prediction.uncertainty, window, full, 0.0)
        prediction.window = window.as_tuple()
        return prediction


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
