"""Checking user prompts and moving them into the model's square frame.

Coordinates are pixels of the original image, x = column, y = row (SAM2's convention;
napari's (row, col) points are flipped by the plugin).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..core.boxes import to_model_frame
from ..models.prompts import PromptBatch


class PromptError(ValueError):
    """A prompt the predictors cannot use; the message says why and what to do."""


def _as_float_array(value, name: str, shape_hint: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PromptError(f"{name} must be numbers {shape_hint}, got {value!r}") from exc
    if not np.all(np.isfinite(array)):
        raise PromptError(f"{name} contains NaN or infinite values: {value!r}")
    return array


def check_box(box, image_hw: tuple[int, int]) -> np.ndarray:
    """[x0, y0, x1, y1] inside the image (a box that sticks out is clipped, with a warning)."""
    h, w = image_hw
    array = _as_float_array(box, "box", "[x0, y0, x1, y1]").reshape(-1)
    if array.size != 4:
        raise PromptError(f"box must have 4 numbers [x0, y0, x1, y1], got {array.size}: {box!r}")
    x0, y0, x1, y1 = array
    shown = "[" + ", ".join(f"{v:g}" for v in array) + "]"
    if not (x0 < x1 and y0 < y1):
        raise PromptError(
            f"box {shown} must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1 "
            "(x = column, y = row; napari gives (row, col) corners: swap them)."
        )
    if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
        raise PromptError(f"box {shown} lies entirely outside the {w}×{h} (width×height) image.")
    clipped = np.array([max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)])
    if not np.allclose(clipped, array):
        clipped_text = "[" + ", ".join(f"{v:g}" for v in clipped) + "]"
        warnings.warn(f"box {shown} extends past the {w}×{h} image; clipped to {clipped_text}", stacklevel=3)
    return clipped


def check_points(points, labels, image_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) points inside the image and N labels of 1 (object) or 0 (background)."""
    h, w = image_hw
    array = _as_float_array(points, "points", "[[x, y], ...]")
    if array.ndim == 1 and array.size == 2:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise PromptError(f"points must be a list of [x, y] pairs, got shape {array.shape}")
    if labels is None:
        labels = np.ones(len(array), dtype=np.int64)
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(array):
        raise PromptError(f"got {len(array)} points but {len(labels)} labels; give one label (1 or 0) per point")
    if not np.isin(labels, (0, 1)).all():
        raise PromptError(f"labels must be 1 (object) or 0 (background), got {labels.tolist()}")
    outside = (array[:, 0] < 0) | (array[:, 0] > w) | (array[:, 1] < 0) | (array[:, 1] > h)
    if outside.any():
        raise PromptError(
            f"point(s) {array[outside].tolist()} lie outside the {w}×{h} (width×height) image "
            "(x = column, y = row)."
        )
    return array, labels.astype(np.int64)


def build_prompt_batch(
    image_hw: tuple[int, int],
    image_size: int,
    device: torch.device,
    boxes: list | None = None,
    points: list | None = None,
    labels: list | None = None,
    mask_input: np.ndarray | None = None,
    multimask: bool | None = None,
) -> PromptBatch:
    """B prompts (``boxes``: B boxes; ``points``/``labels``: B point lists) → a PromptBatch.

    ``multimask=None`` follows SAM2: three candidate masks for a lone click, else one.
    """
    count = len(boxes) if boxes is not None else (len(points) if points is not None else 0)
    if count == 0:
        raise PromptError("no prompt given: pass a box=[x0, y0, x1, y1] and/or points=[[x, y]] with labels=[1].")
    batch = PromptBatch()
    if boxes is not None:
        checked = [to_model_frame(check_box(b, image_hw).reshape(2, 2), image_hw, image_size).reshape(4) for b in boxes]
        batch.boxes = torch.tensor(np.stack(checked), dtype=torch.float32, device=device)
    if points is not None:
        if boxes is not None and len(points) != len(boxes):
            raise PromptError(f"{len(boxes)} boxes but {len(points)} point lists; give one point list per box")
        labels = labels if labels is not None else [None] * len(points)
        pairs = [check_points(p, lab, image_hw) for p, lab in zip(points, labels)]
        n = {len(p) for p, _ in pairs}
        if len(n) != 1:
            raise PromptError("every prompt of a batch needs the same number of points")
        batch.points = torch.tensor(
            np.stack([to_model_frame(p, image_hw, image_size) for p, _ in pairs]), dtype=torch.float32, device=device
        )
        batch.labels = torch.tensor(np.stack([lab for _, lab in pairs]), dtype=torch.int32, device=device)
    if mask_input is not None:
        low = image_size // 4
        m = torch.as_tensor(np.asarray(mask_input), dtype=torch.float32, device=device)
        if m.shape[-2:] != (low, low):
            raise PromptError(
                f"mask_input must be the low_res_logits of an earlier prediction ({low}×{low}), got {tuple(m.shape)}"
            )
        batch.mask_input = m.reshape(-1, 1, low, low).expand(count, 1, low, low)
    if multimask is None:
        n_points = 0 if batch.points is None else batch.points.shape[1]
        multimask = batch.boxes is None and n_points == 1
    batch.multimask = bool(multimask)
    return batch


# ---- an existing mask as a prompt ----------------------------------------------------------
# SAM's mask prompt is logits at the decoder's low resolution (model side / 4); a binary mask
# becomes ±log((1 − ε) / ε) with ε = 1e-3 (±6.9), micro-sam's conversion.
MASK_PROMPT_LOGIT = float(np.log((1 - 1e-3) / 1e-3))


def object_mask(labels, object_id: int) -> np.ndarray:
    """The bool mask of ``object_id`` in a label image (any tool's Labels layer or file)."""
    array = np.asarray(labels)
    if not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        raise PromptError(f"labels must hold integer object ids, got dtype {array.dtype}.")
    if object_id is None or int(object_id) <= 0:
        raise PromptError(f"object id must be a positive label id, got {object_id!r} (0 is background).")
    mask = array == int(object_id)
    if not mask.any():
        present = np.unique(array[array > 0])
        shown = ", ".join(str(int(i)) for i in present[:20]) + (" …" if len(present) > 20 else "")
        raise PromptError(f"label id {object_id} is absent from the labels; ids present: {shown or 'none'}.")
    return mask


def low_res_mask(mask, image_hw: tuple[int, int], image_size: int) -> np.ndarray:
    """A bool (H, W) mask on the image grid → bool (S/4, S/4) on the decoder's mask-prompt grid
    (area-resampled, ≥ half covered; an object too small for that keeps the cells it touches)."""
    array = np.asarray(mask)
    if array.shape != tuple(image_hw):
        raise PromptError(
            f"the mask prompt has shape {array.shape} but the image is {image_hw[0]}×{image_hw[1]} (rows×columns); "
            "pass the mask of this image (for a volume, the mask of the slice being segmented)."
        )
    array = array.astype(bool)
    if not array.any():
        raise PromptError("the mask prompt is empty (no object pixels); pass a mask that contains the object.")
    low = image_size // 4
    coverage = torch.nn.functional.interpolate(
        torch.from_numpy(array.astype(np.float32))[None, None], size=(low, low), mode="bilinear", antialias=True,
        align_corners=False,
    )[0, 0].numpy()
    binary = coverage >= 0.5
    return binary if binary.any() else coverage > 0


def adds_clicks_only(before: dict | None, after: dict | None) -> bool:
    """Whether prompt ``after`` is ``before`` plus more clicks: the same box (or none in both) and
    ``before``'s clicks, with their labels, first. That is a correction of the mask ``before`` made, so
    the mask can go back in as the mask prompt (``ImagePredictor.correct``); any other change starts
    afresh. Prompts are dicts with optional ``box``, ``points`` and ``labels`` (the GUI's per-slice prompts)."""
    if not before or not after:
        return False
    box_a, box_b = before.get("box"), after.get("box")
    if (box_a is None) != (box_b is None) or (box_a is not None and not np.allclose(box_a, box_b)):
        return False
    points_a = np.asarray(before.get("points") or [], dtype=np.float64).reshape(-1, 2)
    points_b = np.asarray(after.get("points") or [], dtype=np.float64).reshape(-1, 2)
    if len(points_b) <= len(points_a):
        return False
    labels_a = list(before.get("labels") or [1] * len(points_a))
    labels_b = list(after.get("labels") or [1] * len(points_b))
    return bool(np.allclose(points_a, points_b[: len(points_a)]) and labels_a == labels_b[: len(points_a)])
