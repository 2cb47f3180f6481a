"""The runner's files: per-row results and risk–coverage curves as CSV, written atomically and
read back on a rerun so finished rows are skipped."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from ..metrics import EVALUATE_KEYS, TOP_K

KEY_COLUMNS = ("dataset", "image", "object", "method")
INFO_COLUMNS = ("area", "prompt", "seconds")
RESULT_COLUMNS = KEY_COLUMNS + INFO_COLUMNS + EVALUATE_KEYS
COVERAGE_GRID = np.linspace(0.0, 1.0, 41)[1:]  # 2.5 % … 100 %
CURVE_COLUMNS = KEY_COLUMNS + tuple(f"risk@{c:.3f}" for c in COVERAGE_GRID)
LOWER_IS_BETTER = frozenset({"aurc", "excess_aurc", "ece", "brier"})
NO_DIRECTION = frozenset({"mean_uncertainty", "object_score"})  # descriptive: neither end is better
#: Image-level rows (image_level.py): one per image × method, object "*".
IMAGE_KEYS = ("object_rho", "failed_auroc", *(f"coverage_top{k}" for k in TOP_K), "ceiling_top10")
IMAGE_COLUMNS = KEY_COLUMNS + ("objects", "regions", "substantive_error_px") + IMAGE_KEYS
#: The review-coverage curve per image × method: k = 0 … COVERAGE_K regions (the last value repeats).
COVERAGE_K = 20
COVERAGE_COLUMNS = KEY_COLUMNS + tuple(f"top{k}" for k in range(COVERAGE_K + 1))


def row_key(row: dict) -> tuple[str, str, str, str]:
    return tuple(str(row[c]) for c in KEY_COLUMNS)  # type: ignore[return-value]


def _format(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def read_rows(path: Path) -> list[dict]:
    """Rows of a results/curves CSV written earlier (empty when the file does not exist)."""
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict], columns: tuple[str, ...]) -> Path:
    """Write all rows at once through a temporary file (a crash never leaves half a CSV)."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({c: _format(row.get(c, "")) for c in columns})
    return path


def number(value) -> float:
    """A CSV cell as a float (nan for empty or unreadable)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def risk_at_coverage(uncertainty: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Risk (error rate of the kept pixels) at the coverages of COVERAGE_GRID."""
    from ..metrics import risk_coverage_curve

    coverage, risk = risk_coverage_curve(uncertainty, error)
    if coverage.size == 0:
        return np.full(COVERAGE_GRID.shape, np.nan)
    return np.interp(COVERAGE_GRID, coverage, risk)


def curve_values(row: dict, columns: tuple[str, ...] = CURVE_COLUMNS) -> np.ndarray:
    return np.array([number(row.get(c)) for c in columns[len(KEY_COLUMNS) :]])
