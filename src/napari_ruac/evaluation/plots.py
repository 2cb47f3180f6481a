"""PNG plots of an evaluation: a bar chart per metric, a radar of all methods, and mean
risk–coverage curves. Uses matplotlib's Agg canvas directly (no global backend switch, so a
napari session that imports this keeps its Qt backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from .tables import COVERAGE_GRID, LOWER_IS_BETTER, NO_DIRECTION

RADAR_METRICS = ("auroc", "pavpu", "aurc", "ece", "brier", "pearson", "pearson_roi", "iou", "boundary_iou")


def _figure(width: float = 6.0, height: float = 4.0, polar: bool = False):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(111, projection="polar" if polar else None)
    return figure, axes


def _save(figure, path: Path) -> Path:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", bbox_inches="tight")
    return path


def bar_plots(summary: dict, folder: Path, metrics: tuple[str, ...]) -> list[Path]:
    """One bar chart (mean ± std per method) per metric: ``bar_<metric>.png``."""
    methods = list(summary)
    paths = []
    for metric in metrics:
        means = np.array([summary[m][metric][0] for m in methods])
        stds = np.array([summary[m][metric][1] for m in methods])
        figure, axes = _figure(max(4.0, 1.0 + 0.8 * len(methods)), 3.5)
        positions = np.arange(len(methods))
        axes.bar(positions, np.nan_to_num(means), yerr=np.nan_to_num(stds), color="#4c72b0", capsize=3)
        axes.set_xticks(positions, methods, rotation=30, ha="right")
        better = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
        axes.set_title(metric if metric in NO_DIRECTION else f"{metric} ({better})")
        paths.append(_save(figure, folder / f"bar_{metric}.png"))
    return paths


def radar_plot(summary: dict, path: Path, metrics: tuple[str, ...] = RADAR_METRICS) -> Path:
    """All methods on one radar; each metric scaled to [0, 1] across methods, outward = better."""
    methods = list(summary)
    angles = np.linspace(0, 2 * np.pi, len(metrics), endpoint=False)
    figure, axes = _figure(6.0, 6.0, polar=True)
    scaled = {}
    for metric in metrics:
        values = np.array([summary[m][metric][0] for m in methods], dtype=np.float64)
        if metric in LOWER_IS_BETTER:
            values = -values
        finite = values[np.isfinite(values)]
        low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        span = high - low if high > low else 1.0
        scaled[metric] = np.where(np.isfinite(values), (values - low) / span if high > low else 0.5, 0.0)
    for i, method in enumerate(methods):
        radius = [scaled[metric][i] for metric in metrics]
        axes.plot(np.r_[angles, angles[:1]], np.r_[radius, radius[:1]], label=method)
    axes.set_xticks(angles, list(metrics))
    axes.set_yticklabels([])
    axes.set_title("methods per metric (scaled across methods, outward = better)")
    axes.legend(loc="upper right", bbox_to_anchor=(1.3, 1.1), fontsize=8)
    return _save(figure, path)


def risk_coverage_plot(curves: dict[str, np.ndarray], path: Path) -> Path:
    """Mean risk (pixel error rate of the kept pixels) vs coverage, per method."""
    figure, axes = _figure(5.5, 4.0)
    for method, values in curves.items():
        axes.plot(COVERAGE_GRID, values, label=method)
    axes.set_xlabel("coverage (fraction of pixels kept, least uncertain first)")
    axes.set_ylabel("risk (error rate of kept pixels)")
    axes.set_title("risk–coverage (lower is better)")
    axes.legend(fontsize=8)
    return _save(figure, path)


def review_coverage_plot(curves: dict[str, np.ndarray], path: Path) -> Path:
    """Mean share of the substantive error held by the top-k review regions vs k, per method."""
    figure, axes = _figure(5.5, 4.0)
    for method, values in curves.items():
        axes.plot(np.arange(len(values)), values, marker="o", ms=2.5, label=method)
    axes.set_xlabel("review regions looked at (k, ranked as the review widget lists them)")
    axes.set_ylabel("substantive error covered")
    axes.set_ylim(0.0, 1.02)
    axes.set_title("review coverage (higher is better)")
    axes.legend(fontsize=8)
    return _save(figure, path)
