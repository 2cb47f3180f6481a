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
from .result import EverythingResult, ObjectRow, Progress
from .settings import EverythingError, EverythingSettings, tile_windows


def iter_segment_everything(model, image, method: str = "ruac", **kwargs) -> Iterator[Progress | EverythingResult]:
    """Progress events, then the EverythingResult (2D image; see ``EverythingRun``)."""
    run = make_run(model, image, method=method, **kwargs)
    yield from run
    yield run.result()


def segment_everything(model, image, method: str = "ruac", **kwargs) -> EverythingResult:
    """Every object of ``image`` with labels, per-pixel uncertainty and one row per object."""
    result = None
    for event in iter_segment_everything(model, image, method=method, **kwargs):
        result = event
    return result


def make_run(model, image, method: str = "ruac", settings=None, **kwargs):
    """The run for a 2D image (``EverythingRun``); settings may also be given as keywords."""
    known = set(EverythingSettings.__dataclass_fields__)
    overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in known}
    return EverythingRun(model, image, method=method, settings=EverythingSettings.parse(settings, **overrides), **kwargs)


__all__ = [
    "Candidate", "EverythingError", "EverythingResult", "EverythingRun", "EverythingSettings", "ObjectRow",
    "Progress", "iter_segment_everything", "make_run", "non_maximum_suppression", "segment_everything",
    "stability_score", "tile_windows",
]
