"""Segment everything in one 2D image: one box per object proposed from the image (proposals/blobs.py), decoded in
batches per tile from the cached embedding (optionally model-foreground seeds and a grid of clicks) →
quality, stability and overlap filters → labels.

``EverythingRun`` is the work: iterate it for progress events (stop iterating to cancel), then
``result()`` assembles whatever candidates are finished into consistent, non-overlapping labels.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
from scipy import ndimage

from ..inference import ImagePredictor
from ..inference.embedding_cache import EmbeddingCache
from ..inference.volume_projection import grown_box
from ..models.preprocess import check_image
from ..models.ruac_model import RUACModel
from ..uq import DEFAULT_METHOD, one_pass_method
from ..core.overlap import stability_score
from .candidates import Candidate, crop_candidate, non_maximum_suppression, paint
from ..core.progress import Progress
from .result import EverythingResult, object_rows
from ..proposals.blobs import assign_to_windows, blob_seeds, region_seed
from .seeds import object_seeds
from .settings import EverythingError, EverythingSettings, tile_windows

#: full-window pixels decoded at once (a batch's outputs: ~9 bytes a pixel per prompt, ≈ 300 MB)
BATCH_PIXELS = 2**25
#: a leftover piece of a proposal smaller than this share of the median proposal is not proposed again
LEFTOVER_SHARE = 0.4


class EverythingRun:
    """All objects of a 2D image (H, W) or (H, W, C); see ``EverythingSettings`` for the knobs.

    ``predictor``: an ImagePredictor to reuse (its cache makes a second run with other grid
    settings cost the decoder only); else one is made with ``method``, ``intensity``, ``cache``.
    ``value_range``: the intensities mapped to [0, 1] (pass a volume's, to treat slices alike).
    """

    def __init__(
        self,
        model: RUACModel,
        image: np.ndarray,
        method: str = DEFAULT_METHOD,
        settings: EverythingSettings | dict | None = None,
        intensity=None,
        cache: EmbeddingCache | None = None,
        predictor: ImagePredictor | None = None,
        value_range: tuple[float, float] | None = None,
        **options,
    ) -> None:
        self.method = one_pass_method(predictor.method if predictor is not None else method, "segment-everything").name
        self.settings = EverythingSettings.parse(settings)
        self.image = check_image(image)
        self.shape = self.image.shape[:2]
        self.model = model
        options.setdefault("zoom", "off")  # the tiles are the zoom-in: objects keep their pixel size
        self.predictor = predictor or ImagePredictor(model, method=self.method, intensity=intensity, cache=cache, **options)
        self.value_range = value_range if value_range is not None else self.predictor.intensity.value_range(self.image)
        self.candidates: list[Candidate] = []
        self.decoded = 0  # prompts decoded (grid points + box refinements)
        self.complete = False
        self._covered = np.zeros(self.shape, bool)
        self._regions = None  # blob proposals' regions (proposals/blobs.py)
        self._median_area = 0.0  # their median area, pixels
        self._next_region = 0  # the last region id given out (leftover proposals get new ones)

    # ---- plan --------------------------------------------------------------------------
    def passes(self) -> list[tuple[tuple[int, int, int, int], bool]]:
        """[(window, is_coarse)]: the tiles, then the coarse whole-image pass when tiled."""
        s, (h, w) = self.settings, self.shape
        tile = s.tile_size
        if tile is None:
            tile = self.model.image_size if max(h, w) > 1.25 * self.model.image_size else 0
        if not tile or max(h, w) <= tile:
            return [((0, 0, h, w), False)]
        overlap = s.tile_overlap if s.tile_overlap is not None else tile // 4
        if overlap >= tile:
            raise EverythingError(f"tile_overlap ({overlap} px) must be smaller than tile_size ({tile} px)")
        windows = [(window, False) for window in tile_windows((h, w), tile, overlap)]
        return windows + ([((0, 0, h, w), True)] if s.coarse else [])  # coarse last: it fills in what tiles miss

    def _grid(self, window) -> np.ndarray:
        y0, x0, y1, x1 = window
        n = int(self.settings.points_per_side)
        xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
        ys = y0 + (np.arange(n) + 0.5) * (y1 - y0) / n
        return np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)

    # ---- work --------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Progress]:
        passes = self.passes()
        if self._constant():
            self.complete = True
            yield Progress("decode", 1, 1, objects=0)
            return
        s = self.settings
        if len(passes) > 1 and s.tile_size is None and self._whole_image_is_better():
            passes = [((0, 0, *self.shape), False)]  # automatic tiles would only cut these objects
        blobs = {}
        only_own = set()  # passes that decode their own proposals only (large proposals' own windows)
        if s.blobs:
            self._regions, seeds = blob_seeds(self.image, s.min_area)
            areas = np.bincount(self._regions.ravel())[1:]
            self._median_area = float(np.median(areas[areas > 0])) if areas.any() else 0.0  # for _leftover_seeds
            self._next_region = int(self._regions.max())
            blobs = assign_to_windows(seeds, [w for w, _ in passes])
            passes, blobs, only_own = self._own_windows(passes, blobs)
        for done, (window, coarse) in enumerate(passes):
            y0, x0, y1, x1 = window
            yield Progress("encode", done, len(passes), objects=len(self.candidates))
            self.predictor.set_image(self.image[y0:y1, x0:x1], value_range=self.value_range)
            own = blobs.get(done, [])
            batch = self._batch(window)
            for start in range(0, len(own), batch):
                self._decode_boxes(own[start : start + batch], window)
                yield Progress("decode", done, len(passes), objects=len(self.candidates))
            rest = self._leftover_seeds(window, own) if s.blobs and s.leftovers and own else []
            for start in range(0, len(rest), batch):
                self._decode_boxes(rest[start : start + batch], window)
                yield Progress("decode", done, len(passes), objects=len(self.candidates))
            if done in only_own:
                continue
            if s.blobs:  # the grid fills in where the proposals' masks were rejected
                foreground = self._regions[y0:y1, x0:x1] > 0
            if s.seeds or not s.blobs:
                model_foreground = self.predictor.predict(box=[0, 0, x1 - x0, y1 - y0]).probability > 0.5
                self.decoded += 1
                foreground = foreground | model_foreground if s.blobs else model_foreground
            seeds = object_seeds(foreground, s.seed_distance, s.min_area, s.seed_depth) if s.seeds else []
            seeds = [(box, c) for box, c in seeds if self._worth_decoding(box, c, window, coarse)]
            for start in range(0, len(seeds), batch):
                chunk = seeds[start : start + batch]
                predictions = self.predictor.predict_batch(boxes=[box for box, _ in chunk], batch_size=batch)
                self.decoded += len(chunk)
                self._accept(predictions, [box for box, _ in chunk], [c for _, c in chunk], window, coarse)
                yield Progress("decode", done, len(passes), objects=len(self.candidates))
            grid = self._grid(window) if s.grid else np.zeros((0, 2))
            local = (grid - np.array([x0, y0])).astype(int)
            grid = grid[foreground[np.clip(local[:, 1], 0, y1 - y0 - 1), np.clip(local[:, 0], 0, x1 - x0 - 1)]]
            for start in range(0, len(grid), batch):
                chunk = grid[start : start + batch]
                if s.skip_covered:
                    rows = np.clip(chunk[:, 1].astype(int), 0, self.shape[0] - 1)
                    cols = np.clip(chunk[:, 0].astype(int), 0, self.shape[1] - 1)
                    chunk = chunk[~self._covered[rows, cols]]
                if len(chunk):
                    self._decode(chunk, window, coarse)
                yield Progress("decode", done, len(passes), objects=len(self.candidates))
        yield Progress("decode", len(passes), len(passes), objects=len(self.candidates))
        self.complete = True

    def _leftover_seeds(self, window, decoded) -> list:
        """Proposals for what the window's masks left of the proposals: a region that held two touching
        objects is often segmented as one of them, and the other would be lost. Each leftover piece of a
        proposal (its part no accepted mask covers, opened by one pixel) at least ``LEFTOVER_SHARE`` of the
        median proposal's area becomes a proposal of its own (a new region id), decoded like the others.
        Only the proposals ``decoded`` in this window count (the others belong to other tiles)."""
        y0, x0, y1, x1 = window
        regions = self._regions[y0:y1, x0:x1]
        done = np.isin(regions, [index for _, _, index in decoded])
        pieces, _ = ndimage.label(ndimage.binary_opening(done & ~self._covered[y0:y1, x0:x1]))
        least = max(self.settings.min_area, LEFTOVER_SHARE * self._median_area)
        seeds = []
        for piece, box in enumerate(ndimage.find_objects(pieces), start=1):
            where = pieces[box] == piece
            if where.sum() < least:
                continue
            self._next_region += 1
            regions[box][where] = self._next_region
            seeds.append(region_seed(where, box, regions.shape, self._next_region, offset=(y0, x0)))
        return seeds

    def _own_windows(self, passes, blobs):
        """Proposals too large for every tile would be decoded in the coarse whole-image pass, where a
        large image is shrunk many times to the model's size (a 4096² image: 16×) and each output is
        image-sized. Each gets its own window instead: its box with half its side of context on every
        side, at least one tile, clipped, placed before the coarse pass. Returns (passes, blobs, the
        indices of those windows)."""
        last = len(passes) - 1
        if len(passes) < 2 or not passes[last][1] or not blobs.get(last):
            return passes, blobs, set()
        tile = self.settings.tile_size or self.model.image_size
        h, w = self.shape
        extra = []
        for seed in blobs[last]:
            x0, y0, x1, y1 = seed[0]
            side = max(tile, 2 * max(x1 - x0, y1 - y0))
            if side >= 0.75 * max(h, w):  # as large as the image: the coarse pass is its window
                extra.append(None)
                continue
            cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
            top = int(np.clip(round(cy - side / 2), 0, max(0, h - side)))
            left = int(np.clip(round(cx - side / 2), 0, max(0, w - side)))
            extra.append((top, left, min(h, top + int(side)), min(w, left + int(side))))
        keep = [seed for seed, window in zip(blobs[last], extra) if window is None]
        windows: list[tuple[tuple, list]] = []  # (window, its seeds): a seed whose box an earlier window holds joins it
        for seed, window in zip(blobs[last], extra):
            if window is None:
                continue
            x0, y0, x1, y1 = seed[0]
            host = next((w for w in windows if w[0][1] <= x0 and w[0][0] <= y0 and x1 <= w[0][3] and y1 <= w[0][2]), None)
            if host is None:
                windows.append((window, [seed]))
            else:
                host[1].append(seed)
        new_passes = passes[:last] + [(window, False) for window, _ in windows] + [passes[last]]
        new_blobs = {i: v for i, v in blobs.items() if i != last}
        for offset, (_, seeds) in enumerate(windows):
            new_blobs[last + offset] = seeds
        if keep:
            new_blobs[len(new_passes) - 1] = keep
        return new_passes, new_blobs, set(range(last, last + len(windows)))

    def _whole_image_is_better(self) -> bool:
        """One whole-image pass instead of tiles: when the objects are mostly larger than the tiles'
        overlap and the image is at most twice the tile (shrinking it to the model's size costs little).
        A larger image keeps its tiles: its large proposals get windows of their own (``_own_windows``),
        and without proposals the coarse pass takes the large seeds (a 4096² image of 100 px nuclei
        was decoded whole, shrunk 16×, with image-sized outputs per object)."""
        tile = self.settings.tile_size or self.model.image_size
        if self.settings.blobs and max(self.shape) > 2 * tile:
            return False
        return self._objects_are_large()

    def _objects_are_large(self) -> bool:
        """Whether the whole image's foreground seeds are mostly larger than the tiles' overlap (then
        tiles would cut every object: one whole-image pass instead). The embedding is reused by the coarse pass."""
        h, w = self.shape
        self.predictor.set_image(self.image, value_range=self.value_range)
        foreground = self.predictor.predict(box=[0, 0, w, h]).probability > 0.5
        self.decoded += 1
        seeds = object_seeds(foreground, self.settings.seed_distance, self.settings.min_area, self.settings.seed_depth)
        if not seeds:
            return False
        extents = [max(box[2] - box[0], box[3] - box[1]) for box, _ in seeds]
        return float(np.median(extents)) > self._overlap()

    def _worth_decoding(self, box, centre, window, coarse: bool) -> bool:
        """A seed already inside a found object is skipped (tiles overlap); the coarse pass only
        decodes seeds too large for the tiles."""
        if coarse and max(box[2] - box[0], box[3] - box[1]) <= self._overlap():
            return False
        if not self.settings.skip_covered:
            return True
        row = min(self.shape[0] - 1, int(centre[1]) + window[0])
        col = min(self.shape[1] - 1, int(centre[0]) + window[1])
        return not self._covered[row, col]

    def _batch(self, window) -> int:
        """Prompts decoded at once in ``window``: the settings' batch size, fewer for large windows, so
        that the batch's full-window outputs (mask, probability, uncertainty: ~9 bytes a pixel each)
        stay within ``BATCH_PIXELS`` pixels (a whole-image pass over 4096² holds 2 at a time, not 64)."""
        pixels = max(1, (window[2] - window[0]) * (window[3] - window[1]))
        return int(max(1, min(self.settings.batch_size, BATCH_PIXELS // pixels)))

    def _overlap(self) -> int:
        s = self.settings
        tile = s.tile_size or self.model.image_size
        return s.tile_overlap if s.tile_overlap is not None else tile // 4

    def _constant(self) -> bool:
        return bool(np.ptp(self.image) == 0)

    def _decode(self, points: np.ndarray, window, coarse: bool) -> None:
        s = self.settings
        y0, x0 = window[:2]
        local = points - np.array([x0, y0], float)
        predictions = self.predictor.predict_batch(
            points=[[p] for p in local.tolist()], labels=[[1]] * len(local), batch_size=self._batch(window)
        )
        self.decoded += len(local)
        firsts = [(p, pred) for p, pred in zip(points, predictions) if pred.area >= s.min_area]
        if s.refine_with_box and firsts:
            boxes = [grown_box(pred.mask, margin=0.1, min_margin=2) for _, pred in firsts]
            refined = self.predictor.predict_batch(boxes=boxes, batch_size=self._batch(window))
            self.decoded += len(boxes)
            firsts = [(p, r, b) for (p, _), r, b in zip(firsts, refined, boxes)]
        else:
            firsts = [(p, pred, None) for p, pred in firsts]
        self._accept([r for _, r, _ in firsts], [b for _, _, b in firsts], [p for p, _, _ in firsts], window, coarse,
                     local_points=False)

    def _decode_boxes(self, seeds, window) -> None:
        """Decode image-proposed boxes (proposals/blobs.py) in ``window`` (not refined again from their masks' boxes:
        that lets a mask that leaked into a neighbour grow further), and the click at each proposal's
        centre, whose agreement with the box's mask is one of the review score's checks."""
        s = self.settings
        y0, x0 = window[:2]
        h, w = window[2] - y0, window[3] - x0
        boxes = [[max(0, b[0] - x0), max(0, b[1] - y0), min(w, b[2] - x0), min(h, b[3] - y0)] for b, _, _ in seeds]
        # a proposal no window holds whole (tiles without the coarse pass) keeps its click inside this window
        centres = [[min(max(c[0] - x0, 0.0), w - 0.5), min(max(c[1] - y0, 0.0), h - 0.5)] for _, c, _ in seeds]
        predictions = self.predictor.predict_batch(boxes=boxes, batch_size=self._batch(window))
        self.decoded += len(boxes)
        points = self.predictor.predict_batch(points=[[c] for c in centres], labels=[[1]] * len(centres),
                                              batch_size=self._batch(window))
        self.decoded += len(centres)
        regions = self._regions[y0 : y0 + h, x0 : x0 + w]
        checks = []
        for pred, point, (_, _, index) in zip(predictions, points, seeds):
            region = regions == index
            whole = pred.mask.copy()
            if s.blob_split:  # a mask may not take the pixels of a neighbouring proposal (touching objects)
                pred.mask &= region | (regions == 0)
            checks.append(dict(proposal_iou=_iou(whole, region), kept=pred.area / max(1, int(whole.sum())),
                               click_iou=_iou(whole, point.mask)))
        self._accept(predictions, boxes, centres, window, False, checks=checks)

    def _accept(self, predictions, boxes, points, window, coarse: bool, local_points: bool = True, checks=None) -> None:
        """Keep the predictions that pass the size, quality, stability and tile-edge filters."""
        s = self.settings
        y0, x0 = window[:2]
        checks = checks or [{}] * len(predictions)
        for pred, box, point, check in zip(predictions, boxes, points, checks):
            if pred.area < s.min_area or pred.iou < s.pred_iou_threshold:
                continue
            stability = stability_score(pred.probability)
            if stability < s.stability_threshold or self._cut_by_tile(pred.mask, window, coarse):
                continue
            px, py = (point[0] + x0, point[1] + y0) if local_points else (point[0], point[1])
            cand = crop_candidate(
                pred.mask, pred.probability, pred.uncertainty, (y0, x0), s.margin,
                predicted_iou=float(pred.iou), stability=stability,
                prompt_box=[] if box is None else [box[0] + x0, box[1] + y0, box[2] + x0, box[3] + y0],
                point=(float(px), float(py)), coarse=coarse, checks=check,
            )
            if cand is None:
                continue
            self.candidates.append(cand)
            wy0, wx0, wy1, wx1 = cand.window
            self._covered[wy0:wy1, wx0:wx1] |= cand.mask

    def _cut_by_tile(self, mask: np.ndarray, window, coarse: bool) -> bool:
        """A fine tile's mask touching a tile edge inside the image is cut (another tile holds it whole);
        the coarse pass keeps only objects too large for the tiles' overlap."""
        y0, x0, y1, x1 = window
        h, w = self.shape
        if coarse:
            overlap = self._overlap()
            rows, cols = np.any(mask, 1), np.any(mask, 0)
            extent = max(np.ptp(np.flatnonzero(rows)), np.ptp(np.flatnonzero(cols))) + 1
            return extent <= overlap
        edges = ((mask[0].any() and y0 > 0) or (mask[-1].any() and y1 < h)
                 or (mask[:, 0].any() and x0 > 0) or (mask[:, -1].any() and x1 < w))
        return bool(edges)

    # ---- result ------------------------------------------------------------------------
    def result(self) -> EverythingResult:
        """Non-overlapping labels from the candidates found so far (consistent after a cancel too)."""
        s = self.settings
        kept = non_maximum_suppression(self.candidates, s.nms_threshold, s.containment)
        labels, uncertainty, painted = paint(kept, self.shape, s.min_area)
        return EverythingResult(
            labels=labels,
            uncertainty=uncertainty,
            objects=object_rows(painted, uncertainty.ndim),
            complete=self.complete,
            method=self.method,
            settings=s.as_dict(),
            decoded=self.decoded,
            candidates=len(self.candidates),
        )


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int(np.logical_or(a, b).sum())
    return float(np.logical_and(a, b).sum() / union) if union else 0.0
