"""Segment everything: every object of an image or volume, each with an uncertainty score, so the
review can start with the objects most likely wrong (issue 16).

``segment_everything(model, image)`` returns an ``EverythingResult``; ``iter_segment_everything``
is the same work as a generator of ``Progress`` events ending with the result (stop iterating to
cancel; ``EverythingRun.result()`` then assembles the objects finished so far).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .candidates import Candidate, non_maximum_suppression, stability_score
from .image import EverythingRun
from ..core.progress import Progress
from .result import EverythingResult, ObjectRow
from .settings import EverythingError, EverythingSettings, tile_windows
from .volume import VolumeEverythingRun
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


def make_run(model, image, method: str = DEFAULT_METHOD, settings=None, seed_slices=None, **kwargs):
    """The run for ``image``: ``EverythingRun`` for a 2D image (H, W) or (H, W, 3|4), else
    ``VolumeEverythingRun`` for a volume (Z, Y, X[, C]), which needs ``seed_slices``.
    Settings (``EverythingSettings`` fields) may also be given as keywords."""
    known = set(EverythingSettings.__dataclass_fields__)
    overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in known}
    settings = EverythingSettings.parse(settings, **overrides)
    array = np.asarray(image)
    is_volume = array.ndim == 4 or (array.ndim == 3 and (seed_slices is not None or array.shape[-1] not in (3, 4)))
    if is_volume:
        return VolumeEverythingRun(model, array, seed_slices, method=method, settings=settings, **kwargs)
    if seed_slices is not None:
        raise EverythingError(f"seed_slices is for volumes; this is a 2D image of shape {array.shape}.")
    return EverythingRun(model, array, method=method, settings=settings, **kwargs)


__all__ = [
    "Candidate", "EverythingError", "EverythingResult", "EverythingRun", "EverythingSettings", "ObjectRow",
    "VolumeEverythingRun", "iter_segment_everything", "make_run", "non_maximum_suppression", "segment_everything",
    "stability_score", "tile_windows",
]
