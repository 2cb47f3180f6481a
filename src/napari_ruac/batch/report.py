"""``report.csv`` of a batch run: one row per object of each finished volume, one row per failed volume.

The client process alone writes it. At the start of a run it is rebuilt (atomically) from the
"done" markers, so rows of volumes finished before a kill are present exactly once; during the
run each volume's rows are appended (and flushed) after its outputs and marker exist.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Iterable

from ..io.atomic import atomic_path

REPORT_NAME = "report.csv"
COLUMNS = (
    "volume",
    "status",
    "object",
    "prompt_slices",
    "slices_with_object",
    "voxels",
    "physical_volume",
    "physical_unit",
    "mean_uncertainty",
    "max_uncertainty",
    "uncertain_fraction",
    "review_slices",
    "mask",
    "uncertainty",
    "seconds",
    "error",
)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    return str(value)


def _lines(rows: Iterable[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in COLUMNS})
    return buffer.getvalue()


def failure_row(volume: str, error: str, seconds: float | None = None) -> dict:
    """The report row of a volume that failed (its error message, one line)."""
    return dict(volume=volume, status="failed", error=" ".join(str(error).split()), seconds=seconds)


def rebuild_report(out_dir: Path, markers: list[dict]) -> Path:
    """Write ``report.csv`` afresh from the finished volumes' markers (atomic)."""
    path = Path(out_dir) / REPORT_NAME
    header = ",".join(COLUMNS) + "\n"
    with atomic_path(path) as temporary:
        temporary.write_text(header + "".join(_lines(m.get("rows", [])) for m in markers), encoding="utf-8")
    return path


def append_rows(out_dir: Path, rows: list[dict]) -> None:
    """Append rows to ``report.csv`` and flush them to disk."""
    path = Path(out_dir) / REPORT_NAME
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write(_lines(rows))
        handle.flush()
        os.fsync(handle.fileno())


def read_report(out_dir: Path) -> list[dict]:
    """The rows of ``report.csv`` as dicts of strings (for scripts and tests)."""
    with open(Path(out_dir) / REPORT_NAME, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
