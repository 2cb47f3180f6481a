"""``VolumePredictor``: segment objects through a z-stack with SAM2's memory, with uncertainty.

Slices are treated as video frames: an object prompted on one or more slices is tracked
forward from its first prompted slice to the end, then backward to the start (SAM2's
video semantics), fed from the array directly (no JPEG folder, no 8-bit quantisation).
``tracking="projection"`` instead prompts each slice with the box of the previous slice's mask
(volume_projection.py): the default for models whose video memory was not trained (ruac-micro).
Every slice gets the chosen method's probability and uncertainty from the same decoder.
The work is a generator: iterate to get slices as they finish, stop iterating to cancel.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch

from ..models.loading import as_model
from ..models.ruac_model import ImageFeatures, RUACModel
from ..uq import DEFAULT_METHOD, HeadMethod, MethodOptions, one_pass_method
from ..uq.suggest import ClickSuggestion, SuggestionError, edge_width_for, suggest_clicks
from .embedding_cache import EmbeddingCache, image_digest
from .image_predictor import _split_options
from .prediction import upsample
from ..core.intensity import Intensity, to_unit_rgb
from ..models.preprocess import ImageError, check_image, check_not_constant, to_model_input
from .prompts import PromptError, build_prompt_batch
from .volume_projection import TrackingRules, iter_projection
from .volume_result import SliceResult, VolumeAssembly, VolumeResult
from .volume_tracking import ObjectTrack, track_frame

TRACKING = ("auto", "memory", "projection")


class VolumePredictor:
    """Propagate objects through a volume (Z, Y, X) or (Z, Y, X, C) with per-slice uncertainty.

    ``method`` must be a one-pass method (``ruac``, ``ruac-mc``, ``sam2``, ``laplace``,
    ``varnet``); ``cache`` shares slice embeddings with an ImagePredictor and between runs.
    ``tracking``: ``memory`` (SAM2's video memory), ``projection`` (box of the previous slice's
    mask), or ``auto`` (what the model's config says, else memory). ``tracking_rules``: projection's
    refusal and patience rules (``TrackingRules`` or a dict of its fields). ``zoom``,
    ``zoom_context``, ``zoom_min_side``: zoom-in for projection tracking (the window follows the
    object; ``inference/zoom.py``); memory tracking reads whole slices (SAM2's memory is per frame).
    """

    def __init__(
        self,
        model: RUACModel | str | None,
        method: str = DEFAULT_METHOD,
        intensity: Intensity | str | tuple | None = None,
        cache: EmbeddingCache | None = None,
        tracking: str = "auto",
        tracking_rules: TrackingRules | dict | None = None,
        zoom="auto",
        zoom_context: float | None = None,
        zoom_min_side: float | None = None,
        **options,
    ) -> None:
        from .zoom import DEFAULT_CONTEXT, check_context, parse_zoom

        self.model = model = as_model(model)
        self.tracking_rules = TrackingRules.parse(tracking_rules)
        self.zoom = parse_zoom(zoom)
        self._zoom_options = dict(zoom=self.zoom, zoom_context=check_context(zoom_context or DEFAULT_CONTEXT),
                                  zoom_min_side=zoom_min_side)
        self.method = self._volume_method(method)
        self.intensity = Intensity.parse(intensity)
        self._raw_options = dict(options)
        self.options = MethodOptions(**_split_options(options))
        self.cache = cache if cache is not None else EmbeddingCache()
        if tracking not in TRACKING:
            raise ValueError(f"tracking must be one of {', '.join(TRACKING)}, got {tracking!r}")
        if tracking == "auto":
            tracking = str(model.info.notes.get("volume_tracking", "memory"))
        self.tracking = tracking

    @staticmethod
    def _volume_method(name) -> HeadMethod:
        return one_pass_method(name, "volumes")

    # ---- public API --------------------------------------------------------------------
    def segment(
        self,
        volume: np.ndarray,
        prompts: dict[int, dict],
        progress: Callable[[int, int], bool | None] | None = None,
        **kwargs,
    ) -> VolumeResult:
        """One object from ``prompts = {z: dict(box=[x0,y0,x1,y1], points=[[x,y]], labels=[1])}``.

        ``progress(done, total)`` is called per slice; returning False cancels (the result
        then holds the finished slices and ``complete=False``).
        """
        return self.segment_objects(volume, {1: prompts}, progress=progress, **kwargs)

    def segment_objects(
        self,
        volume: np.ndarray,
        objects: dict[int, dict[int, dict]],
        progress: Callable[[int, int], bool | None] | None = None,
        **kwargs,
    ) -> VolumeResult:
        """Several objects ``{object_id: {z: prompt}}`` tracked together (each slice encoded once)."""
        array = self._check_volume(volume)
        assembly = VolumeAssembly(array.shape[:3])
        for item in self.iter_segment_objects(array, objects, **kwargs):
            assembly.add(item)
            if progress is not None and progress(item.done, item.total) is False:
                break
        return assembly.result()

    def iter_segment(self, volume: np.ndarray, prompts: dict[int, dict], **kwargs) -> Iterator[SliceResult]:
        """Generator over slices of one object (see ``segment``); stop iterating to cancel."""
        return self.iter_segment_objects(volume, {1: prompts}, **kwargs)

    @torch.no_grad()
    def iter_segment_objects(
        self,
        volume: np.ndarray,
        objects: dict[int, dict[int, dict]],
        direction: str = "both",
        value_range: tuple[float, float] | None = None,
    ) -> Iterator[SliceResult]:
        """Generator over (slice, object) results: prompted slices first, then forward, then backward."""
        if direction not in ("both", "forward", "backward"):
            raise ValueError(f"direction must be 'both', 'forward' or 'backward', got {direction!r}")
        array = self._check_volume(volume)
        num_slices, height, width = array.shape[:3]
        if value_range is None:
            check_not_constant(array, "volume")
            value_range = self.intensity.value_range(array)
        tracks = {oid: self._make_track(oid, prompts, array.shape) for oid, prompts in objects.items()}
        if not tracks:
            raise PromptError("no objects given: pass at least one {z: prompt} dict.")
        if self.tracking == "projection":
            yield from self._iter_projection(array, objects, direction, value_range)
            return
        forward = [z for z in range(num_slices)] if direction != "backward" else []
        backward = [z for z in range(num_slices - 1, -1, -1)] if direction != "forward" else []
        plan = self._plan(tracks, forward, backward)
        total = sum(len(steps) for _, steps in plan)
        done = 0
        for (z, reverse), steps in plan:
            features = self._slice_features(array[z], value_range)
            for oid, conditioning in steps:
                out = track_frame(
                    self.model, self.method, self.options, tracks[oid], z, features, num_slices, reverse, conditioning
                )
                done += 1
                yield self._to_slice_result(out, z, oid, conditioning, (height, width), done, total)

    def suggest_click(
        self, result: "VolumeResult | SliceResult", z: int | None = None, object_id: int | None = None,
        n: int = 1, points=None, box=None, **rule,
    ) -> list[ClickSuggestion]:
        """Corrective clicks on one slice ``z`` of a volume result (the rule of ``uq/suggest.py``).

        ``object_id`` picks one object of a multi-object result (default: every object); a
        SliceResult needs no ``z``. ``points`` (and ``labels``, passed on) are the clicks already made on
        that slice.
        """
        if isinstance(result, SliceResult):
            probability, uncertainty, mask = result.probability, result.uncertainty, result.mask
        else:
            depth = result.labels.shape[0]
            if z is None or not 0 <= int(z) < depth:
                raise SuggestionError(f"slice z={z!r} is outside the result's {depth} slices (0…{depth - 1}).")
            z = int(z)
            if object_id is None:
                mask = result.labels[z] > 0
            else:
                if not (result.labels == object_id).any():
                    present = sorted(int(i) for i in np.unique(result.labels) if i > 0)
                    raise SuggestionError(f"object id {object_id} is not in the result; its ids are {present}.")
                mask = result.labels[z] == object_id
            probability, uncertainty = result.probability[z], result.uncertainty[z]
        rule.setdefault("edge_width", edge_width_for(probability.shape, self.model.image_size))
        return suggest_clicks(probability, uncertainty, mask, points=points, box=box, n=n, **rule)

    # ---- internals -------------------------------------------------------------------
    def _iter_projection(self, array, objects, direction, value_range) -> Iterator[SliceResult]:
        from .image_predictor import ImagePredictor

        predictor = ImagePredictor(self.model, method=self.method.name, cache=self.cache, **self._zoom_options,
                                   **self._raw_options)
        prompts = {oid: {int(z): dict(p) for z, p in objects[oid].items()} for oid in objects}
        yield from iter_projection(predictor, array, prompts, direction, value_range, self.tracking_rules)

    def _plan(self, tracks: dict[int, ObjectTrack], forward: list[int], backward: list[int]):
        """[((z, reverse), [(object_id, is_conditioning), ...]), ...] in SAM2's processing order."""
        plan = []
        by_slice: dict[int, list] = {}
        for oid, track in tracks.items():
            for z in sorted(track.prompts):
                by_slice.setdefault(z, []).append((oid, True))
        plan += [((z, False), steps) for z, steps in sorted(by_slice.items())]
        for z in forward:
            steps = [(oid, False) for oid, t in tracks.items() if z > t.start and z not in t.prompts]
            if steps:
                plan.append(((z, False), steps))
        for z in backward:
            steps = [(oid, False) for oid, t in tracks.items() if z < t.start]
            if steps:
                plan.append(((z, True), steps))
        return plan

    def _make_track(self, object_id: int, prompts: dict[int, dict], shape: tuple) -> ObjectTrack:
        if not prompts:
            raise PromptError(f"object {object_id} has no prompts: give {{z: dict(box=..., points=...)}}.")
        num_slices, height, width = shape[:3]
        converted = {}
        for z, prompt in prompts.items():
            if not isinstance(z, (int, np.integer)) or not 0 <= z < num_slices:
                raise PromptError(f"prompt slice {z!r} is outside the volume's {num_slices} slices (0…{num_slices - 1}).")
            if not isinstance(prompt, dict) or not ({"box", "points"} & set(prompt)):
                raise PromptError(f"prompt on slice {z} must be a dict with 'box' and/or 'points' (+ 'labels').")
            unknown = set(prompt) - {"box", "points", "labels"}
            if unknown:
                raise PromptError(f"prompt on slice {z} has unknown keys {sorted(unknown)}; use box, points, labels.")
            batch = build_prompt_batch(
                (height, width),
                self.model.image_size,
                self.model.device,
                boxes=None if prompt.get("box") is None else [prompt["box"]],
                points=None if prompt.get("points") is None else [prompt["points"]],
                labels=None if prompt.get("labels") is None else [prompt["labels"]],
                multimask=False,
            )
            coords, labels = [], []
            if batch.boxes is not None:  # a box is two corner points labelled 2 and 3, first
                coords.append(batch.boxes.reshape(1, 2, 2))
                labels.append(torch.tensor([[2, 3]], dtype=torch.int32, device=batch.boxes.device))
            if batch.points is not None:
                coords.append(batch.points)
                labels.append(batch.labels.to(torch.int32))
            converted[int(z)] = {"point_coords": torch.cat(coords, 1), "point_labels": torch.cat(labels, 1)}
        return ObjectTrack(prompts=converted)

    def _slice_features(self, image: np.ndarray, value_range: tuple[float, float]) -> ImageFeatures:
        key = self.cache.key(self.model.signature(), image_digest(image), value_range)
        features = self.cache.get(key)
        if features is None or features.backbone_embed is None:
            model_input = to_model_input(to_unit_rgb(image, value_range), self.model.image_size, self.model.device)
            features = self.model.encode_image(model_input)
            self.cache.put(key, features)
        return features

    def _to_slice_result(self, out, z, object_id, prompted, image_hw, done, total) -> SliceResult:
        logit = upsample(out.mask_logit, image_hw)[0]
        probability = upsample(out.probability, image_hw)[0].clamp(0, 1)
        uncertainty = upsample(out.uncertainty, image_hw)[0].clamp(0, 1)
        return SliceResult(
            z=z,
            object_id=object_id,
            mask=(logit > 0).cpu().numpy(),
            probability=probability.cpu().numpy().astype(np.float32),
            uncertainty=uncertainty.cpu().numpy().astype(np.float32),
            iou=out.iou,
            object_score=out.object_score,
            prompted=prompted,
            done=done,
            total=total,
        )

    @staticmethod
    def _check_volume(volume) -> np.ndarray:
        """A (Z, Y, X) or (Z, Y, X, C) array whose slices are valid images (returns H×W×C slices)."""
        array = np.asarray(volume)
        if array.ndim == 3:
            array = array[..., None]
        if array.ndim != 4:
            raise ImageError(
                f"volume has shape {np.shape(volume)}; VolumePredictor takes (Z, Y, X) or (Z, Y, X, C). "
                "For a single 2D image use ImagePredictor; for time series pick one time point."
            )
        if array.shape[0] < 1:
            raise ImageError("volume has no slices.")
        check_image(array[0], name="volume slice 0")
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            bad = int((~np.isfinite(array)).sum())
            raise ImageError(f"volume contains {bad} NaN or infinite voxels; replace them first (np.nan_to_num).")
        if array.shape[-1] == 4:
            array = array[..., :3]
        return array
