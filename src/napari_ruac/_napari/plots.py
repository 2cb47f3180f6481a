"""Matplotlib plots in the review dock: the uncertainty histogram and the error-coverage curve."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure

BACKGROUND = "#262930"  # napari's dark theme
FOREGROUND = "#d6d6d6"
HISTOGRAM_SAMPLE = 2_000_000


def _style(ax) -> None:
    ax.set_facecolor(BACKGROUND)
    ax.tick_params(colors=FOREGROUND, labelsize=7)
    for spine in ax.spines.values():
        spine.set_color(FOREGROUND)
    ax.title.set_color(FOREGROUND)
    ax.xaxis.label.set_color(FOREGROUND)
    ax.yaxis.label.set_color(FOREGROUND)


class ReviewPlots(FigureCanvasQTAgg):
    """Left: histogram of uncertainty values with the threshold; right: error covered by the top-k regions."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=(4.0, 1.9), dpi=90, facecolor=BACKGROUND, layout="constrained")
        super().__init__(self.figure)
        self.histogram_ax, self.coverage_ax = self.figure.subplots(1, 2)
        self.setMinimumHeight(170)
        self.clear_plots()

    def clear_plots(self) -> None:
        for ax in (self.histogram_ax, self.coverage_ax):
            ax.clear()
            _style(ax)
        self.histogram_ax.set_title("uncertainty", fontsize=8)
        self.coverage_ax.set_title("error covered by top-k", fontsize=8)
        self.draw()  # now, not queued: a queued draw could outlive the widget ("has been deleted")

    def update_plots(self, uncertainty: np.ndarray, threshold: float, k: np.ndarray, covered: np.ndarray, error_kind: str):
        """Redraw both plots (``covered[i]`` = fraction of the error inside the top-``k[i]`` regions)."""
        self.clear_plots()
        values = np.asarray(uncertainty, dtype=np.float32).ravel()
        if values.size > HISTOGRAM_SAMPLE:
            values = values[:: values.size // HISTOGRAM_SAMPLE]
        ax = self.histogram_ax
        ax.hist(values, bins=50, range=(0.0, 1.0), color="#f4a261", log=True)
        ax.axvline(threshold, color="#4fc3f7", lw=1.2)
        ax.set_xlabel("uncertainty", fontsize=7)
        ax.set_ylabel("voxels", fontsize=7)
        ax = self.coverage_ax
        if len(k) > 1:
            ax.plot(k, covered, color="#4fc3f7", marker="o", ms=2.5, lw=1.2)
        ax.set_ylim(0.0, 1.02)
        ax.set_xlim(0, max(int(k[-1]) if len(k) else 1, 1))
        ax.set_xlabel("regions reviewed (k)", fontsize=7)
        ax.set_ylabel(f"{error_kind} covered", fontsize=7)
        self.draw()  # now, not queued: a queued draw could outlive the widget ("has been deleted")
