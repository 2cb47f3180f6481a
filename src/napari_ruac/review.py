"""Ranking the uncertain regions of a segmentation so a person can review the worst first.

A region is a connected component (full connectivity, in 3D across slices) of the voxels
whose uncertainty is at least ``threshold``. Its score is its integrated uncertainty,
Σ uncertainty × voxel volume (= mean uncertainty × physical size): if the uncertainty
estimates the probability that a voxel is wrong, the score is the expected wrong volume
the region holds, so fixing the regions in score order removes the most error first.
No napari here: the review widget and the tests call these functions.
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy import ndimage

from .metrics import MetricUndefinedWarning
from .metrics.coverage import region_coverage_curve
from .metrics.interior import DEFAULT_BAND, substantive_error

STATUSES = ("unreviewed", "reviewed", "corrected")


@dataclass
class Region:
    """One connected uncertain region; coordinates are array indices of the mask."""

    rank: int  # 1 = reviewed first
    component: int  # its id in the components map of ``label_uncertain_components``
    label: int  # the mask label it overlaps most (0: background, e.g. a possibly missed object)
    slice: int | None  # z of the slice holding most of its voxels (None for a 2D image)
    centroid: tuple[float, ...]  # (z, y, x) or (y, x), index coordinates
    bbox: tuple[tuple[int, int], ...]  # per axis [start, stop)
    size: int  # voxels
    volume: float  # size × voxel volume (spacing units)
    mean_uncertainty: float
    max_uncertainty: float
    score: float  # mean_uncertainty × volume
    status: str = "unreviewed"

    @property
    def slices(self) -> tuple[slice, ...]:
        return tuple(slice(a, b) for a, b in self.bbox)


class ReviewError(ValueError):
    """Inputs the review functions cannot use; the message says why and what to do."""


def _check_inputs(mask: np.ndarray | None, uncertainty: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    uncertainty = np.asarray(uncertainty)
    if uncertainty.ndim not in (2, 3):
        raise ReviewError(f"uncertainty must be 2D (Y, X) or 3D (Z, Y, X), got shape {uncertainty.shape}")
    if not np.issubdtype(uncertainty.dtype, np.floating) and not np.issubdtype(uncertainty.dtype, np.integer):
        raise ReviewError(f"uncertainty must be numeric, got dtype {uncertainty.dtype}")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != uncertainty.shape:
            raise ReviewError(
                f"mask shape {mask.shape} differs from uncertainty shape {uncertainty.shape}: "
                "pick the mask and uncertainty layers of the same image"
            )
    return mask, uncertainty


def _voxel_volume(spacing: Sequence[float] | None, ndim: int) -> float:
    if spacing is None:
        return 1.0
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != ndim or any(s <= 0 for s in spacing):
        raise ReviewError(f"spacing must be {ndim} positive numbers (one per axis), got {spacing}")
    return float(np.prod(spacing))


def label_uncertain_components(uncertainty: np.ndarray, threshold: float, min_size: int = 1) -> np.ndarray:
    """Integer map of the connected components of ``uncertainty ≥ threshold`` with ≥ ``min_size`` voxels.

    Components are numbered 1..n in scan order; smaller components become 0.
    """
    _, uncertainty = _check_inputs(None, uncertainty)
    above = np.asarray(uncertainty) >= threshold
    structure = ndimage.generate_binary_structure(above.ndim, above.ndim)
    components, count = ndimage.label(above, structure=structure)
    if count == 0:
        return components.astype(np.int32)
    sizes = np.bincount(components.ravel(), minlength=count + 1)
    keep = sizes >= max(int(min_size), 1)
    keep[0] = False
    relabel = np.zeros(count + 1, np.int32)
    relabel[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return relabel[components]


def find_uncertain_regions(
    mask: np.ndarray | None,
    uncertainty: np.ndarray,
    threshold: float = 0.5,
    min_size: int = 10,
    spacing: Sequence[float] | None = None,
    components: np.ndarray | None = None,
) -> list[Region]:
    """Connected regions with uncertainty ≥ ``threshold``, ranked by score (highest first).

    ``mask``: the labels (or boolean mask) under review, only used to name the object each
    region touches; ``spacing``: voxel size per axis (the score uses physical volume);
    ``components``: a map from ``label_uncertain_components`` to reuse.
    """
    mask, uncertainty = _check_inputs(mask, uncertainty)
    voxel = _voxel_volume(spacing, uncertainty.ndim)
    if components is None:
        components = label_uncertain_components(uncertainty, threshold, min_size)
    count = int(components.max()) if components.size else 0
    if count == 0:
        return []
    ids = np.arange(1, count + 1)
    values = uncertainty.astype(np.float64)
    sizes = ndimage.sum_labels(np.ones_like(values), components, ids)
    sums = ndimage.sum_labels(values, components, ids)
    maxima = ndimage.maximum(values, components, ids)
    centroids = ndimage.center_of_mass(np.ones_like(values), components, ids)
    boxes = ndimage.find_objects(components, max_label=count)
    regions = []
    for i, component in enumerate(ids):
        box = boxes[i]
        inside = components[box] == component
        region_label = _dominant_label(None if mask is None else mask[box][inside])
        size = int(sizes[i])
        mean = float(sums[i] / size)
        regions.append(
            Region(
                rank=0,
                component=int(component),
                label=region_label,
                slice=_best_slice(inside, box) if uncertainty.ndim == 3 else None,
                centroid=tuple(float(c) for c in centroids[i]),
                bbox=tuple((s.start, s.stop) for s in box),
                size=size,
                volume=size * voxel,
                mean_uncertainty=mean,
                max_uncertainty=float(maxima[i]),
                score=mean * size * voxel,
            )
        )
    regions.sort(key=lambda r: (-r.score, r.component))
    for rank, region in enumerate(regions, start=1):
        region.rank = rank
    return regions


def _dominant_label(values: np.ndarray | None) -> int:
    """The most frequent non-zero label among ``values`` (0 when none)."""
    if values is None:
        return 0
    values = values.astype(np.int64).ravel()
    values = values[values > 0]
    if values.size == 0:
        return 0
    labels, counts = np.unique(values, return_counts=True)
    return int(labels[np.argmax(counts)])


def _best_slice(inside: np.ndarray, box: tuple[slice, ...]) -> int:
    """The z (absolute) where the region covers most pixels: the slice to look at."""
    per_slice = inside.reshape(inside.shape[0], -1).sum(axis=1)
    return int(box[0].start + int(np.argmax(per_slice)))


def segmentation_error(mask: np.ndarray, ground_truth: np.ndarray, band: float = 0.0) -> np.ndarray:
    """Boolean map of the voxels where ``mask`` (foreground = label > 0) disagrees with ``ground_truth``.

    ``band`` > 0: only the substantive error, beyond ``band`` px of the true boundary
    (``metrics.substantive_error``; the widget and the evaluation use DEFAULT_BAND).
    """
    mask, ground_truth = np.asarray(mask), np.asarray(ground_truth)
    if mask.shape != ground_truth.shape:
        raise ReviewError(f"mask shape {mask.shape} differs from ground-truth shape {ground_truth.shape}")
    return substantive_error(mask > 0, ground_truth > 0, band)


def segmented_truth(mask: np.ndarray, ground_truth: np.ndarray) -> np.ndarray:
    """The ground truth restricted to the objects that were segmented (those the mask touches).

    Objects nobody prompted are not errors of this segmentation: counting them would make the
    review look worse the fewer objects were done. A binary ground truth is split into its
    connected components first.
    """
    mask, truth = np.asarray(mask) > 0, np.asarray(ground_truth)
    if mask.shape != truth.shape:
        raise ReviewError(f"mask shape {mask.shape} differs from ground-truth shape {truth.shape}")
    labels = truth if truth.max(initial=0) > 1 else ndimage.label(truth > 0)[0]
    touched = np.unique(labels[mask & (labels > 0)])
    return np.isin(labels, touched) & (labels > 0)


def estimated_error(uncertainty: np.ndarray | None = None, probability: np.ndarray | None = None) -> np.ndarray:
    """Error proxy without ground truth: 1 − |2p − 1| from a probability, else the uncertainty itself.

    Both are 1 where the model is undecided (p = 0.5) and 0 where it is certain.
    """
    if probability is not None:
        probability = np.asarray(probability, dtype=np.float64)
        return 1.0 - np.abs(2.0 * probability - 1.0)
    if uncertainty is None:
        raise ReviewError("estimated_error needs an uncertainty or a probability map")
    return np.clip(np.asarray(uncertainty, dtype=np.float64), 0.0, 1.0)


def region_error_coverage(
    regions: Sequence[Region], components: np.ndarray, error: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(k, fraction of the total error inside the top-k regions) for k = 0..len(regions).

    ``error`` is a real error map (bool) or a proxy (float ≥ 0); regions are taken in
    the given order (their ranking). 1.0 means the reviewed regions hold all the error;
    nan (every k) when the map holds no error. The counting is ``metrics.region_coverage_curve``,
    the one the evaluation reports.
    """
    error = np.asarray(error, dtype=np.float64)
    if error.shape != components.shape:
        raise ReviewError(f"error map shape {error.shape} differs from components shape {components.shape}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricUndefinedWarning)
        return region_coverage_curve(components, [r.component for r in regions], error)


def substantive_coverage(
    mask: np.ndarray,
    uncertainty: np.ndarray,
    ground_truth: np.ndarray,
    band: float = DEFAULT_BAND,
    threshold: float = 0.5,
    min_size: int = 10,
    spacing: Sequence[float] | None = None,
) -> tuple[list[Region], np.ndarray, np.ndarray]:
    """(regions, k, fraction): the regions as the review widget lists them (same defaults) and the
    fraction of the substantive error (``mask`` ≠ truth beyond ``band`` px of the true boundary)
    that the top-k hold. Foreground = label > 0 in both masks."""
    mask, uncertainty = _check_inputs(mask, uncertainty)
    components = label_uncertain_components(uncertainty, threshold, min_size)
    regions = find_uncertain_regions(mask, uncertainty, threshold, min_size, spacing, components)
    truth = np.asarray(ground_truth)
    if truth.shape != uncertainty.shape:
        raise ReviewError(f"ground-truth shape {truth.shape} differs from uncertainty shape {uncertainty.shape}")
    error = segmentation_error(mask, truth, band)
    k, fraction = region_error_coverage(regions, components, error)
    return regions, k, fraction


CSV_COLUMNS = (
    "rank",
    "slice",
    "centroid",
    "bbox",
    "size",
    "volume",
    "mean_uncertainty",
    "max_uncertainty",
    "score",
    "label",
    "status",
)


def regions_to_csv(
    regions: Iterable[Region], path: str | Path, threshold: float, min_size: int, extra: dict | None = None
) -> Path:
    """Write the ranked list, each region's review status and the settings that produced it.

    The threshold, min_size and any ``extra`` settings repeat on every row so one file
    says everything (and loads as one table in pandas or a spreadsheet).
    """
    path = Path(path)
    settings = {"threshold": float(threshold), "min_size": int(min_size), **(extra or {})}
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*CSV_COLUMNS, *settings])
        for region in regions:
            writer.writerow(
                [
                    region.rank,
                    "" if region.slice is None else region.slice,
                    " ".join(f"{c:.2f}" for c in region.centroid),
                    " ".join(f"{a}:{b}" for a, b in region.bbox),
                    region.size,
                    f"{region.volume:.6g}",
                    f"{region.mean_uncertainty:.6f}",
                    f"{region.max_uncertainty:.6f}",
                    f"{region.score:.6g}",
                    region.label,
                    region.status,
                    *settings.values(),
                ]
            )
    return path


def regions_from_csv(path: str | Path) -> tuple[list[Region], dict]:
    """Read back a file written by ``regions_to_csv``: (regions, settings as text).

    The components map is not stored, so the regions come back with ``component = 0``.
    """
    with Path(path).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    regions, settings = [], {}
    for row in rows:
        if not settings:
            settings = {k: v for k, v in row.items() if k not in CSV_COLUMNS}
        size = int(row["size"])
        volume = float(row["volume"])
        mean = float(row["mean_uncertainty"])
        regions.append(
            Region(
                rank=int(row["rank"]),
                component=0,
                label=int(row["label"]),
                slice=int(row["slice"]) if row["slice"] else None,
                centroid=tuple(float(c) for c in row["centroid"].split()),
                bbox=tuple(tuple(int(v) for v in pair.split(":")) for pair in row["bbox"].split()),
                size=size,
                volume=volume,
                mean_uncertainty=mean,
                max_uncertainty=float(row["max_uncertainty"]),
                score=float(row["score"]),
                status=row["status"],
            )
        )
    return regions, settings


def set_status(region: Region, status: str) -> None:
    """Mark a region ``unreviewed``, ``reviewed`` or ``corrected``."""
    if status not in STATUSES:
        raise ReviewError(f"status must be one of {STATUSES}, got {status!r}")
    region.status = status


__all__ = [
    "CSV_COLUMNS",
    "STATUSES",
    "Region",
    "ReviewError",
    "estimated_error",
    "find_uncertain_regions",
    "label_uncertain_components",
    "region_error_coverage",
    "regions_from_csv",
    "regions_to_csv",
    "segmentation_error",
    "set_status",
    "substantive_coverage",
]
