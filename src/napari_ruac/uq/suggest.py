"""The next-click suggestion: where a corrective click most likely helps, and its likely sign.

The rule (numpy only, so it is the same for every method, 2D image or volume slice):

1. Uncertain pixels: ``uncertainty ≥ max(min_uncertainty, relative × max(uncertainty))``. The
   default ``relative=0.85`` keeps, for an entropy map peaking near 1 bit, the pixels with
   probability ≈ 0.28–0.72: where the model is nearest a coin flip. Chosen on ruac-micro with
   benchmarks/bench_interactive.py (generated scenes of offset 0 + coins, one-click start, NoC@85
   3.3 / 3.6 / 3.7 / 4.1 for 0.85 / 0.7 + wider band / 0.7 / 0.5): a lower level mostly adds clicks
   on correct pixels near the edge, which the user has to flip and which the model then over-reacts to.
2. The edge band is not an error: uncertain pixels within ``edge_width`` pixels of the mask's
   edge are the normal blur of any boundary and are dropped after step 3 (a real missed part or
   leak is wider than that band and survives with its interior).
3. Split by the current answer: uncertain pixels *outside* the mask (probability < 0.5) are a
   likely **missed part** → sign positive, counted only where they touch the mask (an uncertain
   region connected to the mask's edge, e.g. a lobe the mask stops short of; an uncertain patch
   separated from the mask by confident background is most often a neighbouring object) and lie
   inside the object's extent (the bounding box of the mask and the prompts, grown by ``margin``
   × its size on every side); uncertain pixels *inside* the mask (probability ≥ 0.5) are a likely
   **leak** → sign negative.
4. Pixels within ``exclude_radius`` of a click the user already made are dropped.
5. Connected regions (8-connected) of what remains, ranked by uncertainty mass (the sum of
   uncertainty over the region); regions under ``min_area`` pixels are dropped.
6. The suggested point of a region is its most interior pixel (maximum of the distance
   transform; ties go to the more uncertain pixel) — a pixel of the region, so always inside the
   image and never within ``exclude_radius`` of an earlier click.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..core.boxes import tight_box

_EIGHT = np.ones((3, 3), dtype=bool)


class SuggestionError(ValueError):
    """Inputs a suggestion cannot be computed from; the message says why and what to do."""


@dataclass(frozen=True)
class ClickSuggestion:
    """One suggested click at the centre of a pixel — ``x`` = column + 0.5, ``y`` = row + 0.5 (the
    predictors' convention: pixel i covers [i, i + 1)) — its likely sign, and why."""

    x: float
    y: float
    positive: bool  # True: a likely missed part (click label 1); False: a likely leak (label 0)
    score: float  # uncertainty mass of the region (sum of uncertainty over its pixels)
    area: int  # pixels of the region

    @property
    def label(self) -> int:
        """SAM2's click label: 1 (object) or 0 (background)."""
        return 1 if self.positive else 0

    @property
    def sign(self) -> str:
        return "positive" if self.positive else "negative"

    def flipped(self) -> "ClickSuggestion":
        """The same point with the other sign (the user's ``T``)."""
        return ClickSuggestion(self.x, self.y, not self.positive, self.score, self.area)


def suggest_clicks(
    probability: np.ndarray,
    uncertainty: np.ndarray,
    mask: np.ndarray | None = None,
    points=None,
    box=None,
    n: int = 1,
    *,
    min_uncertainty: float = 0.1,
    relative: float = 0.85,
    edge_width: float = 1.0,
    margin: float = 0.5,
    exclude_radius: float | None = None,
    min_area: int = 4,
) -> list[ClickSuggestion]:
    """Up to ``n`` ranked suggestions for one object (see the module docstring for the rule).

    ``mask`` defaults to ``probability ≥ 0.5``; ``points`` are the clicks already made
    ([[x, y], ...], image pixels); ``box`` [x0, y0, x1, y1] widens the object's extent.
    Returns ``[]`` when nothing is uncertain enough (the model is confident everywhere).
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
    peak = float(uncertainty.max())
    if peak < min_uncertainty:
        return []
    uncertain = uncertainty >= max(min_uncertainty, relative * peak)

    # 3. sign by the current answer (before step 2, so the edge band still connects a missed part
    #    to the mask it touches); missed parts only within the object's extent
    clicks = _as_points(points)
    positive = _touching(uncertain & ~mask & _extent(mask, clicks, box, margin), mask)
    negative = uncertain & mask

    # 2. drop the edge band: within edge_width of the mask's edge, on either side
    if edge_width > 0:
        inside_depth = ndimage.distance_transform_edt(mask)
        outside_depth = ndimage.distance_transform_edt(~mask)
        positive &= outside_depth > edge_width
        negative &= inside_depth > edge_width

    # 4. never at or next to an earlier click
    if len(clicks):
        radius = exclude_radius if exclude_radius is not None else max(3.0, 2.0 * edge_width)
        near = _near_points(mask.shape, clicks, radius)
        positive &= ~near
        negative &= ~near

    suggestions = []
    for candidates, sign in ((positive, True), (negative, False)):
        suggestions += _regions(candidates, uncertainty, sign, min_area)
    suggestions.sort(key=lambda s: (-s.score, -s.area))
    return suggestions[: int(n)]


def edge_width_for(image_hw: tuple[int, int], image_size: int) -> float:
    """A quarter pixel of the decoder's low-resolution output (model side / 4), in image pixels
    (at least one): about the blur that upsampling puts on every edge. Measured on ruac-micro
    (generated scenes, 54 prompts): wider bands dropped real errors more often than edge noise."""
    low = max(1, image_size // 4)
    return max(1.0, 0.25 * max(image_hw) / low)


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
        bx0, by0, bx1, by1 = np.asarray(box, dtype=np.float64).reshape(4)
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


def _regions(candidates: np.ndarray, uncertainty: np.ndarray, positive: bool, min_area: int) -> list[ClickSuggestion]:
    labelled, count = ndimage.label(candidates, structure=_EIGHT)
    if count == 0:
        return []
    out = []
    for index, found in enumerate(ndimage.find_objects(labelled), start=1):
        region = labelled[found] == index
        area = int(region.sum())
        if area < max(1, min_area):
            continue
        values = uncertainty[found]
        depth = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
        # most interior pixel; ties go to the more uncertain one
        key = np.where(region, depth + 1e-3 * values, -1.0)
        row, col = np.unravel_index(int(np.argmax(key)), region.shape)
        out.append(
            ClickSuggestion(
                x=float(col + found[1].start) + 0.5,
                y=float(row + found[0].start) + 0.5,
                positive=positive,
                score=float(values[region].sum()),
                area=area,
            )
        )
    return out
