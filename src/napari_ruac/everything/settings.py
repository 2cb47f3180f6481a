"""The knobs of segment-everything, checked once with errors that say what to change."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


class EverythingError(ValueError):
    """Settings or input segment-everything cannot use; the message says why and what to do."""


#: how segment-everything works through a volume: every slice then linked through z, or tracked from seed slices
VOLUME_MODES = ("slices", "track")


@dataclass(frozen=True)
class EverythingSettings:
    """How the automatic segmentation samples prompts and filters its candidates.

    ``blobs``: prompt one box per object proposed from the image itself (proposals/blobs.py; the default way to
    find objects); ``blob_split``: keep each such mask out of the neighbouring proposals (touching objects);
    ``leftovers``: propose again what the masks left of a proposal (the second of two touching objects).
    ``grid``: also click a grid where nothing was found yet (off by default: it lowered F1 on generated
    nuclei and costs many decodes); ``points_per_side``: its density, n×n clicks per tile (or per image).
    ``tile_size``: side of the square tiles in image pixels; ``None`` tiles at the model's input
    size when the image is larger than 1.25× it (objects keep their pixel size: the zoom-in for
    small objects), 0 never tiles. ``tile_overlap``: pixels shared by neighbouring tiles (None: a
    quarter tile); an object must fit in the overlap to be sure to lie whole inside one tile, so
    tiled runs also make one ``coarse`` pass over the whole image for objects larger than that.
    Candidates must reach ``pred_iou_threshold`` (the decoder's predicted IoU) and
    ``stability_threshold``; of two overlapping candidates (mask IoU > ``nms_threshold``, or one
    ``containment`` inside the other) the better ranked survives. ``refine_with_box``: decode each
    candidate again from the box of its first mask (boxes segment better than one click).
    Volumes: ``volume_mode`` "slices" segments every slice as an image and links the objects of neighbouring
    slices (mask IoU ≥ ``link_iou``; objects on fewer than ``min_slices`` slices dropped; volume_slices.py);
    "track" finds objects on seed slices and tracks them through z (volume.py; chosen too when seed slices are given).
    ``seeds``: first prompt one box per object proposed from the model's own whole-tile foreground
    (seeds.py; ``seed_depth``: how far, px, a distance maximum must rise above its surroundings to be a
    seed of its own, so elongated objects are not split; 0 uses peaks at least ``seed_distance`` px apart); the grid then
    only fills in where the foreground has no object yet. ``skip_covered``: grid points inside an object already found are not decoded again.
    """

    points_per_side: int = 16
    blobs: bool = True
    blob_split: bool = True
    leftovers: bool = True
    seeds: bool = False
    grid: bool = False
    seed_distance: int = 4
    seed_depth: float = 1.0
    tile_size: int | None = None
    tile_overlap: int | None = None
    coarse: bool = True
    pred_iou_threshold: float = 0.5
    stability_threshold: float = 0.6
    nms_threshold: float = 0.5
    containment: float = 0.8
    min_area: int = 12
    refine_with_box: bool = True
    skip_covered: bool = True
    batch_size: int = 64
    margin: int = 6  # pixels around each mask kept with it (its uncertain outer band)
    volume_mode: str = "slices"
    link_iou: float = 0.4
    min_slices: int = 2

    def __post_init__(self) -> None:
        if int(self.points_per_side) <= 0:
            raise EverythingError(
                f"grid density points_per_side must be a positive number of points, got {self.points_per_side} "
                "(try 16; more finds smaller objects, costs more decoding)."
            )
        if self.tile_size is not None and self.tile_size != 0 and self.tile_size < 32:
            raise EverythingError(f"tile_size must be 0 (no tiles), None (automatic) or ≥ 32 px, got {self.tile_size}")
        if self.tile_overlap is not None and self.tile_overlap < 0:
            raise EverythingError(f"tile_overlap must be ≥ 0 px, got {self.tile_overlap}")
        if self.volume_mode not in VOLUME_MODES:
            raise EverythingError(f"volume_mode must be one of {', '.join(VOLUME_MODES)}, got {self.volume_mode!r}")
        if self.min_slices < 1:
            raise EverythingError(f"min_slices must be ≥ 1 slice, got {self.min_slices}")
        for name in ("pred_iou_threshold", "stability_threshold", "nms_threshold", "containment", "link_iou"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise EverythingError(f"{name} must lie in [0, 1], got {value}")
        if self.min_area < 1:
            raise EverythingError(f"min_area must be ≥ 1 pixel, got {self.min_area}")
        if self.batch_size < 1:
            raise EverythingError(f"batch_size must be ≥ 1, got {self.batch_size}")

    @classmethod
    def parse(cls, settings: "EverythingSettings | dict | None" = None, **overrides) -> "EverythingSettings":
        base = settings if isinstance(settings, EverythingSettings) else cls(**(settings or {}))
        unknown = set(overrides) - set(asdict(base))
        if unknown:
            raise EverythingError(f"unknown segment-everything settings {sorted(unknown)}; known: {sorted(asdict(base))}")
        return replace(base, **overrides) if overrides else base

    def as_dict(self) -> dict:
        return asdict(self)


def tile_windows(shape: tuple[int, int], tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(y0, x0, y1, x1) windows of side ``tile`` covering ``shape``, neighbours sharing ≥ ``overlap`` px."""

    def starts(length: int) -> list[int]:
        if length <= tile:
            return [0]
        stride = max(1, tile - overlap)
        count = -(-(length - overlap) // stride)
        count = max(count, 2)
        return sorted({round(i * (length - tile) / (count - 1)) for i in range(count)})

    h, w = shape
    return [(y, x, min(h, y + tile), min(w, x + tile)) for y in starts(h) for x in starts(w)]
