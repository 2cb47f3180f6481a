"""The one progress event of every long job (segmentation, batch, segment-everything; CLI bars and
GUI workers read it): ``done`` of ``total`` steps of a ``stage``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Progress:
    """``done`` of ``total`` steps of ``stage`` (encode | slice | decode | propagate | …).

    ``item``: what is being worked on when a job runs over several (a batch's volume file);
    ``objects``: objects found so far, for jobs that find them (segment everything).
    """

    stage: str
    done: int
    total: int
    item: str | None = None
    objects: int = 0
