"""Segment everything: every object of an image or volume, each with an uncertainty score, so the
review can start with the objects most likely wrong (issue 16).

``segment_everything(model, image)`` returns an ``EverythingResult``; ``iter_segment_everything``
is the same work as a generator of ``Progress`` events ending with the result (stop iterating to
cancel; ``EverythingRun.result()`` then assembles the objects finished so far).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from ..core.overlap import stability_score
from .candidates import Candidate, non_maximum_suppression
from .image import EverythingRun
from ..core.progress import Progress
from .result import EverythingResult, ObjectRow
from .settings import EverythingError, EverythingSettings, tile_windows
from .volume import VolumeEverythingRun, default_seed_slices
from .volume_slices import SliceStackRun
from ..uq import DEFAULT_METHOD


def iter_segment_everything(model, image, method: str = DEFAULT_METHOD, **kwargs) -> Iterator[Progress | EverythingResult]:
    """Progress events, then the EverythingResult (see ``make_run``)."""
    run = make_run(model, image, method=method, **kwargs)
    yield from run
    yield run.result()


def segment_everything(model, image, method: str = DEFAULT_METHOD, **kwargs) -> EverythingResult:
    """Every object of ``image`` with labels, per-pixel uncertainty and one row per object."""
    result = None
    for event in iter_segment_everything(model, image, method=method, **kwargs):
        result = event
    return result


def make_run(model, image, method: str = DEFAULT_METHOD, settings=None, seed_slices=None, volume: bool | None = None,
             **kwargs):
    """The run for ``image``: ``EverythingRun`` for a 2D image (H, W) or (H, W, 3|4); for a volume
    (Z, Y, X[, C]) ``SliceStackRun`` (every slice, linked through z: the default ``volume_mode``), or
    ``VolumeEverythingRun`` when ``seed_slices`` are given or ``volume_mode="track"`` (objects found on the
    seed slices, default ¼, ½ and ¾ of the depth, and tracked through z).
    ``volume``: whether ``image`` is a volume (None: a 3D array is one unless its last axis holds 3 or 4
    colour channels and no seed slices are given).
    Settings (``EverythingSettings`` fields) may also be given as keywords."""
    known = set(EverythingSettings.__dataclass_fields__)
    overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in known}
    settings = EverythingSettings.parse(settings, **overrides)
    array = np.asarray(image)
    is_volume = volume if volume is not None else (
        array.ndim == 4 or (array.ndim == 3 and (seed_slices is not None or array.shape[-1] not in (3, 4))))
    if is_volume and seed_slices is None and settings.volume_mode == "slices":
        kwargs.pop("tracking", None)  # a tracking option means nothing when every slice is segmented
        return SliceStackRun(model, array, method=method, settings=settings, **kwargs)
    if is_volume:
        if seed_slices is None:
            seed_slices = default_seed_slices(array.shape[0])
        return VolumeEverythingRun(model, array, seed_slices, method=method, settings=settings, **kwargs)
    if seed_slices is not None:
        raise EverythingError(f"seed_slices is for volumes; this is a 2D image of shape {array.shape}.")
    return EverythingRun(model, array, method=method, settings=settings, **kwargs)


__all__ = [
    "Candidate", "EverythingError", "EverythingResult", "EverythingRun", "EverythingSettings", "ObjectRow",
    "SliceStackRun", "VolumeEverythingRun", "iter_segment_everything", "make_run", "non_maximum_suppression", "segment_everything",
    "stability_score", "tile_windows",
]
