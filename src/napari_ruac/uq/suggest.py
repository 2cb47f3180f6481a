"""The next-click suggestion: where a corrective click most likely helps, and its likely sign.

The rule (numpy/scipy only, the same for every method, 2D image or volume slice). Each kind of
**error candidate** is a region of pixels with a sign and a score, its expected wrong area in pixels:

1. **Outside the box** (box prompt): mask pixels more than ``box_tolerance`` px outside the box →
   a leak, sign **negative**, score = area. (A box is tight: nothing of the object lies outside.)
2. **A part without a click** (no box): the mask split into parts (8-connected components, and a
   watershed of its distance transform on its h-maxima, h = max(2, ¼ × the inscribed radius)); a part
   that holds no positive click is most likely a neighbour the mask ran into → **negative**.
3. **A box side the mask does not reach** (by more than ``side_tolerance`` px): the object touches
   every side of a tight box, so a part is missing between → **positive**, at the component of
   highest probability in that strip; score = ½ × gap × side length.
4. **Protrusions and concavities**: the mask minus its opening by a disk of ``shape_radius`` × the
   mask's inscribed radius (a protrusion holding no positive click), and its closing by the same
   disk minus the mask, inside the box if any (a concavity or hole); score = area. Sign: where the
   region is uncertain (mean uncertainty ≥ ½ × the map's maximum) a protrusion reads as a leak
   (**negative**) and a concavity as a missed part (**positive**); a confident one gets the model's
   own answer at the point (probability ≥ 0.5 → positive) — on the tuning scenes the truth at
   protrusions / concavities agreed with that answer 59 % / 67 % of the time (uncertain ones: about
   a coin flip, so the reading costs nothing there).
5. **Uncertain regions**: ``uncertainty ≥ max(min_uncertainty, relative × max)`` beyond the edge
   band (``edge_width`` px on either side of the mask's edge: the normal blur of any boundary). Outside
   the mask, touching it and inside the object's extent (the box of the mask, the clicks and the
   box prompt grown by ``margin`` × its size) → a likely **missed part, positive**; inside the mask →
   a likely **leak, negative**; score = uncertainty mass (sum of uncertainty) × ``uncertainty_weight``.
6. **Fallback** (only when 1–5 give nothing): the regions of ``uncertainty ≥ ½ × max`` beyond the
   edge band, sign by the model's answer at the point, score = 1 % of their uncertainty mass.

Regions under ``min_area`` px (shape kinds 2–4: also under 1 % of the mask's area) are dropped, and
so are pixels within ``exclude_radius`` of an earlier click. Candidates are ranked by score; the
suggested point of a region is its most interior pixel (maximum of the distance transform; ties to
the more uncertain pixel) — a pixel of the region, so inside the image and away from earlier clicks.
``[]`` means nothing is left to correct (no candidate, and the map is confident beyond the edge band).

Tuned on generated scenes only (``generate_scene`` seeds 880001 + 10·k for k = 0, 2, 3, never the
benchmark's k = 1; 61 objects, box and one-click starts, 8 clicks, the previous mask fed back as the
mask prompt), ruac-micro: NoC@85 box 2.33 / click 4.57 with kinds 1–6 against 2.69 / 5.98 for rule 5
alone (the earlier rule; oracle 1.84 / 3.79, random-in-uncertainty 2.66 / 6.03); iterations without a
suggestion 68 of 976 (rule 5 alone: 829); sign flipped by the oracle 31 % (rule 5 alone: 65 %).
``shape_radius`` 0.3 / 0.5 / 0.7 / 1.0 gave click NoC@85 5.67 / 4.95 / 4.57 / 5.30; weighting each
kind's score by how often it was right did not help (box 2.28, click 4.70). Sign right, by kind:
outside the box 100 %, part without a click 83 %, box side 66 %, protrusion / concavity by the
model's answer 59 % / 67 %; the uncertain regions of rule 5 only 11–25 % (n = 18: for ruac-micro an uncertain pixel
most often keeps the model's answer — the missed-part / leak reading is the issue's, kept for its
clear cases, a lobe or a leak well beyond the edge band). ``benchmarks/bench_interactive.py``
measures it on held-out scenes and real images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..core.boxes import tight_box

_EIGHT = np.ones((3, 3), dtype=bool)
_MAX_REGIONS = 32  # candidates of one kind kept (the largest): more never reach the top n


class SuggestionError(ValueError):
    """Inputs a suggestion cannot be computed from; the message says why and what to do."""


@dataclass(frozen=True)
class ClickSuggestion:
    """One suggested click at the centre of a pixel — ``x`` = column + 0.5, ``y`` = row + 0.5 (the
    predictors' convention: pixel i covers [i, i + 1)) — its likely sign, and why."""

    x: float
    y: float
    positive: bool  # True: a likely missed part (click label 1); False: a likely leak (label 0)
    score: float  # expected wrong area of the region, in pixels (uncertain regions: uncertainty mass)
    area: int  # pixels of the region
    reason: str = ""  # the candidate kind, e.g. "outside the box" (see the module docstring)

    @property
    def label(self) -> int:
        """SAM2's click label: 1 (object) or 0 (background)."""
        return 1 if self.positive else 0

    @property
    def sign(self) -> str:
        return "positive" if self.positive else "negative"

    def flipped(self) -> "ClickSuggestion":
        """The same point with the other sign (the user's ``T``)."""
        return ClickSuggestion(self.x, self.y, not self.positive, self.score, self.area, self.reason)


# a candidate: (region, sign, score, reason, shape kind); sign None: the model's answer at the point,
# or for an uncertain region of a shape kind its reading (a protrusion a leak, a concavity a missed part)
_Candidate = tuple


def suggest_clicks(
    probability: np.ndarray,
    uncertainty: np.ndarray,
    mask: np.ndarray | None = None,
    points=None,
    box=None,
    n: int = 1,
    *,
    labels=None,
    min_uncertainty: float = 0.1,
    relative: float = 0.85,
    edge_width: float = 1.0,
    margin: float = 0.5,
    exclude_radius: float | None = None,
    min_area: int = 4,
    shape_radius: float = 0.7,
    box_tolerance: float = 2.0,
    side_tolerance: float = 3.0,
    uncertainty_weight: float = 1.0,
) -> list[ClickSuggestion]:
    """Up to ``n`` ranked suggestions for one object (see the module docstring for the rule).

    ``mask`` defaults to ``probability ≥ 0.5``; ``points`` are the clicks already made
    ([[x, y], ...], image pixels) and ``labels`` their SAM2 labels (1 object, 0 background;
    default: all positive); ``box`` [x0, y0, x1, y1] is the box prompt, if any.
    Returns ``[]`` when nothing is left to correct.
    """
    probability = np.asarray(probability, dtype=np.float32)
    uncertainty = np.asarray(uncertainty, dtype=np.float32)
    if probability.ndim != 2 or uncertainty.shape != probability.shape:
        raise SuggestionError(
            f"probability and uncertainty must be two 2D maps of one shape, got {probability.shape} and "
            f"{uncertainty.shape}; for a volume pass one slice (or use VolumePredictor.suggest_click)."
        )
    if probability.size == 0:
        raise SuggestionError("the prediction is empty (0 pixels); predict an object before asking for a click.")
    mask = probability >= 0.5 if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != probability.shape:
        raise SuggestionError(f"mask has shape {mask.shape} but the maps have {probability.shape}; they must match.")
    if not mask.any():
        raise SuggestionError(
            "the prediction is empty (no object pixels): there is no mask to correct; "
            "place a box or a positive click on the object first."
        )
    if int(n) < 1:
        raise SuggestionError(f"n must be at least 1, got {n}.")
    uncertainty = np.nan_to_num(uncertainty, nan=0.0)
    clicks = _as_points(points)
    click_labels = np.ones(len(clicks), dtype=int) if labels is None else np.asarray(labels, dtype=int).reshape(-1)
    if click_labels.shape[0] != len(clicks):
        raise SuggestionError(f"{len(click_labels)} labels for {len(clicks)} points; give one label per point.")
    positives = clicks[click_labels == 1]
    box = None if box is None else np.asarray(box, dtype=np.float64).reshape(4)
    inside_depth = ndimage.distance_transform_edt(mask)
    outside_depth = ndimage.distance_transform_edt(~mask)
    beyond_edge = (inside_depth > edge_width) | (outside_depth > edge_width) if edge_width > 0 else np.ones_like(mask)

    candidates: list[_Candidate] = []
    in_box = None if box is None else _box_region(mask.shape, box, box_tolerance)
    if in_box is not None:  # 1. outside the box
        candidates += [(r, False, float(r.sum()), "outside the box", False)
                       for r in _components(mask & ~in_box, min_area)]
    else:  # 2. a part without a positive click
        candidates += [(r, False, float(r.sum()), "a part without a click", True)
                       for r in _parts(mask, inside_depth) if len(positives) and not _holds(r, positives)]
    if box is not None:  # 3. a box side the mask does not reach
        candidates += _unreached_sides(mask, probability, box, side_tolerance)
    candidates += _shape_candidates(mask, inside_depth, shape_radius, positives, in_box, min_area)  # 4.
    peak = float(uncertainty.max())
    if peak >= min_uncertainty:  # 5. uncertain regions beyond the edge band
        uncertain = uncertainty >= max(min_uncertainty, relative * peak)
        # sign by the current answer (before the band is dropped, so a missed part still touches the mask)
        missed = _touching(uncertain & ~mask & _extent(mask, clicks, box, margin), mask) & beyond_edge
        for region_map, sign, reason in ((missed, True, "uncertain, outside the mask"),
                                         (uncertain & mask & beyond_edge, False, "uncertain, inside the mask")):
            candidates += [(r, sign, uncertainty_weight * float(uncertainty[r].sum()), reason, False)
                           for r in _components(region_map, min_area, uncertainty)]

    radius = exclude_radius if exclude_radius is not None else max(3.0, 2.0 * edge_width)
    allowed = ~_near_points(mask.shape, clicks, radius) if len(clicks) else np.ones_like(mask)
    shape_area = max(min_area, 0.01 * float(mask.sum()))
    suggestions = _to_suggestions(candidates, allowed, probability, uncertainty, min_area, shape_area)
    if not suggestions and peak >= min_uncertainty:  # 6. fallback
        fallback = (uncertainty >= 0.5 * peak) & beyond_edge
        candidates = [(r, None, 0.01 * float(uncertainty[r].sum()), "most uncertain", False)
                      for r in _components(fallback, min_area, uncertainty)]
        suggestions = _to_suggestions(candidates, allowed, probability, uncertainty, min_area, shape_area)
    suggestions.sort(key=lambda s: (-s.score, -s.area))
    return suggestions[: int(n)]


def edge_width_for(image_hw: tuple[int, int], image_size: int) -> float:
    """A quarter pixel of the decoder's low-resolution output (model side / 4), in image pixels
    (at least one): about the blur that upsampling puts on every edge. Measured on ruac-micro
    (generated scenes, 54 prompts): wider bands dropped real errors more often than edge noise."""
    low = max(1, image_size // 4)
    return max(1.0, 0.25 * max(image_hw) / low)


# ---- candidate kinds ---------------------------------------------------------------------------
def _box_region(shape, box: np.ndarray, tolerance: float) -> np.ndarray:
    x0, y0, x1, y1 = box
    region = np.zeros(shape, dtype=bool)
    region[max(0, int(np.floor(y0 - tolerance))) : max(0, int(np.ceil(y1 + tolerance))),
           max(0, int(np.floor(x0 - tolerance))) : max(0, int(np.ceil(x1 + tolerance)))] = True  # fmt: skip
    return region


def _parts(mask: np.ndarray, depth: np.ndarray) -> list[np.ndarray]:
    """The mask's parts: its components, each split by a watershed of the distance transform
    seeded at its h-maxima (necks narrower than the parts on either side divide them)."""
    from skimage.morphology import h_maxima
    from skimage.segmentation import watershed

    h = max(2.0, 0.25 * float(depth.max()))
    seeds, count = ndimage.label(h_maxima(depth, h) > 0, structure=_EIGHT)
    if count <= 1:
        return _components(mask)
    split = watershed(-depth, seeds, mask=mask)
    rest = mask & (split == 0)  # components without a seed stay whole
    sizes = np.bincount(split.ravel(), minlength=count + 1)[1:]
    largest = np.argsort(-sizes, kind="stable")[:_MAX_REGIONS] + 1
    return [split == i for i in largest] + _components(rest)


def _unreached_sides(mask, probability, box, tolerance) -> list[_Candidate]:
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    bx0, by0 = max(0, int(round(box[0]))), max(0, int(round(box[1])))
    bx1, by1 = min(w, int(round(box[2]))), min(h, int(round(box[3])))
    strips = [  # (rows, columns) of the strip between the mask and each side, its gap, the side's length
        ((by0, by1), (bx0, xs.min()), xs.min() - bx0, by1 - by0),
        ((by0, by1), (xs.max() + 1, bx1), bx1 - 1 - xs.max(), by1 - by0),
        ((by0, ys.min()), (bx0, bx1), ys.min() - by0, bx1 - bx0),
        ((ys.max() + 1, by1), (bx0, bx1), by1 - 1 - ys.max(), bx1 - bx0),
    ]
    out = []
    for rows, cols, gap, side in strips:
        if gap <= tolerance:
            continue
        strip = np.zeros_like(mask)
        strip[rows[0] : max(rows[0], rows[1]), cols[0] : max(cols[0], cols[1])] = True
        strip &= ~mask
        if not strip.any():
            continue
        top = float(probability[strip].max())
        likely = strip & (probability >= 0.5 * top) if top > 0 else strip
        labelled, count = ndimage.label(likely, structure=_EIGHT)
        if count > 1:  # the component with the most probability
            likely = labelled == 1 + int(np.argmax(ndimage.sum(probability, labelled, range(1, count + 1))))
        out.append((likely, True, 0.5 * float(gap) * float(side), "a box side the mask does not reach", True))
    return out


def _shape_candidates(mask, depth, shape_radius, positives, in_box, min_area) -> list[_Candidate]:
    radius = max(2.0, shape_radius * float(depth.max()))
    pad = int(np.ceil(radius)) + 1
    padded = np.pad(mask, pad)
    # opening / closing by a disk through distance transforms (linear time for any radius)
    opened = _dilate(ndimage.distance_transform_edt(padded) > radius, radius)[pad:-pad, pad:-pad]
    closed = (ndimage.distance_transform_edt(_dilate(padded, radius)) > radius)[pad:-pad, pad:-pad]
    out = [(r, (None, False), float(r.sum()), "a protrusion of the mask", True)
           for r in _components(mask & ~opened, min_area) if not _holds(r, positives)]
    concave = closed & ~mask if in_box is None else closed & ~mask & in_box
    out += [(r, (None, True), float(r.sum()), "a concavity or hole of the mask", True)
            for r in _components(concave, min_area)]
    return out


# ---- helpers -----------------------------------------------------------------------------------
def _to_suggestions(candidates, allowed, probability, uncertainty, min_area, shape_area) -> list[ClickSuggestion]:
    out = []
    half_peak = 0.5 * float(uncertainty.max())
    for region, sign, score, reason, shape_kind in candidates:
        region = region & allowed
        area = int(region.sum())
        if area < max(1, min_area) or (shape_kind and area < shape_area):
            continue
        row, col = _most_interior(region, uncertainty)
        if isinstance(sign, tuple):  # a shape kind: its reading where uncertain, else the model's answer
            sign = sign[1] if half_peak > 0 and float(uncertainty[region].mean()) >= half_peak else None
        positive = bool(probability[row, col] >= 0.5) if sign is None else sign
        out.append(ClickSuggestion(float(col) + 0.5, float(row) + 0.5, positive, score, area, reason))
    return out


def _most_interior(region: np.ndarray, uncertainty: np.ndarray) -> tuple[int, int]:
    """The region's most interior pixel (maximum of the distance transform; ties to the more uncertain)."""
    rows, cols = np.nonzero(region)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    crop = region[r0:r1, c0:c1]
    depth = ndimage.distance_transform_edt(np.pad(crop, 1))[1:-1, 1:-1]
    key = np.where(crop, depth + 1e-3 * uncertainty[r0:r1, c0:c1], -1.0)
    row, col = np.unravel_index(int(np.argmax(key)), crop.shape)
    return int(row + r0), int(col + c0)


def _components(region: np.ndarray, min_size: int = 1, weight: np.ndarray | None = None) -> list[np.ndarray]:
    """The 8-connected components of ``region`` of at least ``min_size`` px, at most the
    ``_MAX_REGIONS`` largest (by ``weight`` mass when given): a speckled map stays cheap."""
    labelled, count = ndimage.label(region, structure=_EIGHT)
    if count == 0:
        return []
    ids = np.arange(1, count + 1)
    sizes = np.bincount(labelled.ravel(), minlength=count + 1)[1:]
    ids = ids[sizes >= max(1, min_size)]
    if len(ids) > _MAX_REGIONS:
        mass = sizes[ids - 1] if weight is None else np.asarray(ndimage.sum(weight, labelled, ids))
        ids = ids[np.argsort(-mass, kind="stable")[:_MAX_REGIONS]]
    return [labelled == i for i in ids]


def _holds(region: np.ndarray, points: np.ndarray) -> bool:
    h, w = region.shape
    return any(region[min(h - 1, max(0, int(y))), min(w - 1, max(0, int(x)))] for x, y in points)


def _dilate(region: np.ndarray, radius: float) -> np.ndarray:
    """``region`` dilated by a disk of ``radius``: the pixels within ``radius`` of it."""
    if not region.any():
        return region
    return ndimage.distance_transform_edt(~region) <= radius


def _as_points(points) -> np.ndarray:
    if points is None:
        return np.zeros((0, 2))
    array = np.asarray(points, dtype=np.float64)
    if array.size == 0:
        return np.zeros((0, 2))
    return array.reshape(-1, 2)


def _extent(mask: np.ndarray, clicks: np.ndarray, box, margin: float) -> np.ndarray:
    """The bounding box of the mask, the clicks and the box, grown by ``margin`` × its size."""
    x0, y0, x1, y1 = tight_box(mask)
    if len(clicks):
        x0, x1 = min(x0, clicks[:, 0].min()), max(x1, clicks[:, 0].max() + 1)
        y0, y1 = min(y0, clicks[:, 1].min()), max(y1, clicks[:, 1].max() + 1)
    if box is not None:
        bx0, by0, bx1, by1 = box
        x0, y0, x1, y1 = min(x0, bx0), min(y0, by0), max(x1, bx1), max(y1, by1)
    grow_y, grow_x = margin * (y1 - y0), margin * (x1 - x0)
    h, w = mask.shape
    extent = np.zeros(mask.shape, dtype=bool)
    extent[
        max(0, int(np.floor(y0 - grow_y))) : min(h, int(np.ceil(y1 + grow_y))),
        max(0, int(np.floor(x0 - grow_x))) : min(w, int(np.ceil(x1 + grow_x))),
    ] = True
    return extent


def _touching(candidates: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The connected regions of ``candidates`` that touch ``mask`` (8-connected)."""
    labelled, count = ndimage.label(candidates, structure=_EIGHT)
    if count == 0:
        return candidates
    touched = np.unique(labelled[ndimage.binary_dilation(mask, _EIGHT) & candidates])
    return np.isin(labelled, touched[touched > 0])


def _near_points(shape: tuple[int, int], clicks: np.ndarray, radius: float) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    near = np.zeros(shape, dtype=bool)
    for x, y in clicks:
        near |= (cols - x) ** 2 + (rows - y) ** 2 <= radius**2
    return near
