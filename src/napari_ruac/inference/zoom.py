"""Zoom-in prediction: encode a window around a small object at the model's resolution instead of
the whole image, then paste the window's maps back into full-image arrays.

Why: the model sees the whole image at its native size (256 px for ruac-micro, 1024 for SAM2.1), so
a 15 px nucleus in a 512 px image is ~7 model pixels wide and every boundary error costs a lot of
IoU. A window of a few object sides around the prompt, at least ``min_side`` image pixels (default:
the model's input size, so a window is never upsampled beyond the image's own resolution), gives
the object several times more model pixels.

The rule (one place; the predictors, the volume tracker, the CLI and batch use it):
- a box prompt: a square window of side ``context`` × the box's longer side (≥ ``min_side``),
  centred on the box, shifted (not cut) to lie inside the image, clipped only where the image is
  smaller than the window;
- points only: the same around the points' bounding box, with side ≥ ``point_context`` pixels
  (the object's size is unknown from clicks; default ``min_side``);
- ``zoom="auto"`` uses the window only when it gains resolution: its longer side at most
  ``auto_ratio`` (0.7) × the image's longer side; ``zoom="on"`` whenever the window is smaller than
  the image; ``zoom="off"`` never. Clicks alone say nothing of the object's size, so ``auto`` zooms
  points-only prompts only when the caller set ``point_context`` (a window could cut a large object);
  ``on`` zooms them with ``point_context`` or ``min_side``.
- points only under ``auto`` without ``point_context`` (``ImagePredictor.predict``): the whole image is
  decoded first and its mask measures the object; when the box rule around that mask and the clicks
  gives a window that gains resolution, the prompt is decoded again there (``window_around_mask``;
  DSB2018 nuclei from one click: mIoU 0.68 → 0.72, and corrective clicks no longer wipe the object
  out: benchmarks/RESULTS.md). A mask prompt without a box (``refine_mask(box=None)``) gets the same
  window around the mask and the clicks: the mask says the object's size.
Outside the window the object is taken as absent: probability 0 and uncertainty 0 there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ZOOM_MODES = ("auto", "on", "off")
AUTO_RATIO = 0.7
DEFAULT_CONTEXT = 3.0


class ZoomError(ValueError):
    """A zoom setting or window that makes no sense; the message names it and what is valid."""


@dataclass(frozen=True)
class Window:
    """A rectangle of the image in pixels: rows y0:y1, columns x0:x1."""

    y0: int
    x0: int
    y1: int
    x1: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.y1 - self.y0, self.x1 - self.x0)

    @property
    def slices(self) -> tuple[slice, slice]:
        return (slice(self.y0, self.y1), slice(self.x0, self.x1))

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.y0, self.x0, self.y1, self.x1)

    def covers(self, image_hw: tuple[int, int]) -> bool:
        return self.as_tuple() == (0, 0, int(image_hw[0]), int(image_hw[1]))

    def shift_xy(self, xy) -> np.ndarray:
        """Image (x, y) pairs → window (x, y) pairs."""
        out = np.array(xy, dtype=np.float64)
        out[..., 0] -= self.x0
        out[..., 1] -= self.y0
        return out

    def __str__(self) -> str:
        return f"rows {self.y0}:{self.y1}, columns {self.x0}:{self.x1}"


def parse_zoom(zoom) -> str:
    """'auto' | 'on' | 'off' from 'auto'/'on'/'off'/True/False/None (None = 'auto')."""
    if zoom is None:
        return "auto"
    if zoom is True:
        return "on"
    if zoom is False:
        return "off"
    if isinstance(zoom, str) and zoom.lower() in ZOOM_MODES:
        return zoom.lower()
    raise ZoomError(f"zoom must be one of 'auto', 'on', 'off' (or True / False), got {zoom!r}")


def check_context(context: float, name: str = "zoom_context") -> float:
    try:
        value = float(context)
    except (TypeError, ValueError) as exc:
        raise ZoomError(f"{name} must be a number ≥ 1 (the window's side in box sides), got {context!r}") from exc
    if not np.isfinite(value) or value < 1:
        raise ZoomError(f"{name} must be ≥ 1 (the window's side in box sides; 2–3 is typical), got {context!r}")
    return value


def as_window(window, image_hw: tuple[int, int]) -> Window:
    """A user's window (a Window or (y0, x0, y1, x1)) checked against the image."""
    if isinstance(window, Window):
        values = window.as_tuple()
    else:
        try:
            values = tuple(int(round(float(v))) for v in np.asarray(window, dtype=np.float64).reshape(-1))
        except (TypeError, ValueError) as exc:
            raise ZoomError(f"window must be (y0, x0, y1, x1) in image pixels, got {window!r}") from exc
    if len(values) != 4:
        raise ZoomError(f"window must be (y0, x0, y1, x1) in image pixels, got {window!r}")
    y0, x0, y1, x1 = values
    h, w = image_hw
    if not (0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w):
        raise ZoomError(f"window (y0, x0, y1, x1) = {values} must lie inside the {h}×{w} image with y0 < y1 and x0 < x1")
    if min(y1 - y0, x1 - x0) < 8:
        raise ZoomError(f"window {values} is smaller than 8 pixels on a side; give a larger window or zoom='off'")
    return Window(y0, x0, y1, x1)


def _span(center: float, side: float, limit: int) -> tuple[int, int]:
    side = int(min(limit, max(1, round(side))))
    start = int(round(center - side / 2))
    start = min(max(start, 0), limit - side)
    return start, start + side


def window_around(extent, image_hw: tuple[int, int], context: float, min_side: float) -> Window:
    """The square window of side max(``context`` × the extent's longer side, ``min_side``) centred on
    ``extent`` = [x0, y0, x1, y1], moved inside the image (clipped where the image is smaller)."""
    x0, y0, x1, y1 = (float(v) for v in extent)
    h, w = image_hw
    side = max(context * max(x1 - x0, y1 - y0, 1.0), float(min_side))
    row0, row1 = _span((y0 + y1) / 2, side, h)
    col0, col1 = _span((x0 + x1) / 2, side, w)
    return Window(row0, col0, row1, col1)


def prompt_extent(box=None, points=None) -> list[float]:
    """[x0, y0, x1, y1] covering the box and the points of one prompt."""
    corners = []
    if box is not None:
        b = np.asarray(box, dtype=np.float64).reshape(-1)
        corners += [b[:2], b[2:]]
    if points is not None:
        corners += list(np.asarray(points, dtype=np.float64).reshape(-1, 2))
    if not corners:
        raise ZoomError("a zoom window needs a box or points to centre on")
    xy = np.stack(corners)
    return [float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())]


def choose_window(mode: str, image_hw: tuple[int, int], box=None, points=None, context: float = DEFAULT_CONTEXT,
                  min_side: float = 256, point_context: float | None = None,
                  auto_ratio: float = AUTO_RATIO) -> Window | None:
    """The window to predict one prompt in, or None for the whole image (see the module text)."""
    if mode == "off":
        return None
    if mode == "auto" and box is None and point_context is None:
        return None
    extent = prompt_extent(box, points)
    floor = float(min_side) if box is not None else float(point_context if point_context is not None else min_side)
    window = window_around(extent, image_hw, context, floor)
    if window.covers(image_hw):
        return None
    if mode == "auto" and max(window.shape) > auto_ratio * max(image_hw):
        return None
    return window


def paste(values: np.ndarray, window: Window, image_hw: tuple[int, int], fill=0) -> np.ndarray:
    """A full-image array holding ``values`` (the window's map) inside ``window`` and ``fill`` outside."""
    out = np.full(tuple(image_hw) + values.shape[2:], fill, dtype=values.dtype)
    out[window.slices] = values
    return out
