"""The per-slice result of a volume run and the one assembler that turns slices into volumes.

``VolumePredictor``, the batch runner and ``segmentation`` all assemble through
:class:`VolumeAssembly`: a voxel goes to the most probable object (``labels``), probability and
uncertainty are the per-voxel maxima over objects, and every slice result leaves one score row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SliceResult:
    """One object on one slice, at the volume's in-plane resolution."""

    z: int
    object_id: int
    mask: np.ndarray  # bool (Y, X)
    probability: np.ndarray  # float32 (Y, X)
    uncertainty: np.ndarray  # float32 (Y, X)
    iou: float
    object_score: float
    prompted: bool
    done: int  # slices finished so far (all objects), for progress bars
    total: int
    stopped: str | None = None  # projection tracking: why the track ended on this slice

    @classmethod
    def from_prediction(cls, z: int, object_id: int, prediction, prompted: bool, done: int, total: int,
                        stopped: str | None = None) -> "SliceResult":
        """The slice result of an ImagePredictor ``Prediction`` (see :meth:`absent` for an empty slice)."""
        return cls(z, object_id, prediction.mask, prediction.probability, prediction.uncertainty, prediction.iou,
                   float(prediction.extras.get("object_score", 0.0)), prompted, done, total, stopped)

    @classmethod
    def absent(cls, z: int, object_id: int, shape: tuple[int, int], prompted: bool, done: int, total: int,
               stopped: str | None = None) -> "SliceResult":
        """An empty slice (tracking stopped on or before it): zero maps, object score -1 (absent)."""
        empty = np.zeros(shape, np.float32)
        return cls(z, object_id, np.zeros(shape, bool), empty, empty.copy(), 0.0, -1.0, prompted, done, total, stopped)


@dataclass
class VolumeResult:
    """Assembled outputs. With several objects, ``labels`` holds their ids (a voxel goes to the
    most probable object), ``uncertainty`` the per-voxel maximum over objects."""

    mask: np.ndarray  # bool (Z, Y, X): any object
    labels: np.ndarray  # int32 (Z, Y, X)
    probability: np.ndarray  # float32 (Z, Y, X): max over objects
    uncertainty: np.ndarray  # float32 (Z, Y, X)
    slice_scores: list[dict] = field(default_factory=list)
    complete: bool = True  # False when the run was cancelled before every slice was done


class VolumeAssembly:
    """Slice results → volumes of ``shape`` (Z, Y, X); a 2D ``shape`` (Y, X) is one slice (z ignored)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.labels = np.zeros(shape, np.int32)
        self.probability = np.zeros(shape, np.float32)
        self.uncertainty = np.zeros(shape, np.float32)
        self.slice_scores: list[dict] = []
        self.expected: int | None = None  # the run's total of slice results, once one arrived

    def _plane(self, z: int):
        return (slice(None), slice(None)) if self.labels.ndim == 2 else z

    def add(self, item: SliceResult) -> None:
        index = self._plane(item.z)
        labels, best = self.labels[index], self.probability[index]
        better = item.probability > best
        labels[item.mask & (better | (labels == 0))] = item.object_id
        np.maximum(best, item.probability, out=best)
        np.maximum(self.uncertainty[index], item.uncertainty, out=self.uncertainty[index])
        self.expected = item.total
        self.slice_scores.append(
            dict(
                z=item.z,
                object_id=item.object_id,
                area=int(item.mask.sum()),
                iou=item.iou,
                object_score=item.object_score,
                mean_uncertainty=float(item.uncertainty.mean()),
                prompted=item.prompted,
                stopped=item.stopped,
            )
        )

    @property
    def mask(self) -> np.ndarray:
        return self.labels > 0

    def result(self) -> VolumeResult:
        """The assembled ``VolumeResult``; ``complete`` when every announced slice result arrived."""
        scores = sorted(self.slice_scores, key=lambda s: (s["object_id"], s["z"]))
        complete = self.expected is not None and len(scores) == self.expected
        return VolumeResult(self.mask, self.labels, self.probability, self.uncertainty, scores, complete)
