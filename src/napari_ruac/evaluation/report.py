"""Summaries of finished rows: mean ± std of every metric per method, Wilcoxon signed-rank
p-values of the reference method (RUAC) against each other method, as CSV and markdown."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from ..metrics import EVALUATE_KEYS, wilcoxon
from .tables import LOWER_IS_BETTER, number, row_key, write_rows

SUMMARY_COLUMNS = ("method", "metric", "mean", "std", "n", "p_vs_reference")


def metric_values(rows: list[dict], method: str, metric: str) -> dict[tuple, float]:
    """{(dataset, image, object): value} of one method and metric."""
    return {row_key(r)[:3]: number(r.get(metric)) for r in rows if r["method"] == method}


def summarise(rows: list[dict], methods: list[str]) -> dict[str, dict[str, tuple[float, float, int]]]:
    """{method: {metric: (mean, std, n finite)}}, nan-aware."""
    out: dict[str, dict[str, tuple[float, float, int]]] = {}
    for method in methods:
        out[method] = {}
        for metric in EVALUATE_KEYS:
            values = np.array(list(metric_values(rows, method, metric).values()), dtype=np.float64)
            finite = values[np.isfinite(values)]
            mean = float(finite.mean()) if finite.size else float("nan")
            std = float(finite.std()) if finite.size else float("nan")
            out[method][metric] = (mean, std, int(finite.size))
    return out


def paired_pvalues(rows: list[dict], reference: str, methods: list[str]) -> dict[str, dict[str, float]]:
    """{method: {metric: p}}: Wilcoxon of reference vs method, paired by (dataset, image, object)."""
    out: dict[str, dict[str, float]] = {}
    for method in methods:
        if method == reference:
            continue
        out[method] = {}
        for metric in EVALUATE_KEYS:
            ref, other = metric_values(rows, reference, metric), metric_values(rows, method, metric)
            keys = sorted(set(ref) & set(other))
            try:
                result = wilcoxon([ref[k] for k in keys], [other[k] for k in keys])
                out[method][metric] = result.pvalue
            except ValueError:  # no finite pair
                out[method][metric] = float("nan")
    return out


def _cell(mean: float, std: float) -> str:
    return "n/a" if not np.isfinite(mean) else f"{mean:.4f} ± {std:.4f}"


def markdown_report(title: str, summary: dict, pvalues: dict, reference: str, notes: list[str] | None = None) -> str:
    methods = list(summary)
    lines = [f"# {title}", ""]
    lines += [f"- {note}" for note in notes or []]
    lines += ["", "## Mean ± std per method", ""]
    lines.append("| metric | " + " | ".join(methods) + " |")
    lines.append("|---|" + "---|" * len(methods))
    for metric in EVALUATE_KEYS:
        arrow = "↓" if metric in LOWER_IS_BETTER else ("↑" if metric != "mean_uncertainty" else "")
        cells = [_cell(*summary[m][metric][:2]) for m in methods]
        lines.append(f"| {metric} {arrow} | " + " | ".join(cells) + " |")
    if pvalues:
        others = list(pvalues)
        lines += ["", f"## Wilcoxon signed-rank p-values, {reference} vs each method", ""]
        lines.append("| metric | " + " | ".join(others) + " |")
        lines.append("|---|" + "---|" * len(others))
        for metric in EVALUATE_KEYS:
            cells = ["n/a" if not np.isfinite(pvalues[m][metric]) else f"{pvalues[m][metric]:.3g}" for m in others]
            lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_summary(
    folder: Path,
    title: str,
    rows: list[dict],
    methods: list[str],
    reference: str,
    notes: list[str] | None = None,
    with_tests: bool = True,
) -> tuple[Path, Path, dict]:
    """summary.csv + summary.md in ``folder``; returns their paths and the summary dict."""
    summary = summarise(rows, methods)
    pvalues = paired_pvalues(rows, reference, methods) if with_tests and reference in methods else {}
    table = [
        {
            "method": m,
            "metric": k,
            "mean": summary[m][k][0],
            "std": summary[m][k][1],
            "n": summary[m][k][2],
            "p_vs_reference": pvalues.get(m, {}).get(k, float("nan")),
        }
        for m in methods
        for k in EVALUATE_KEYS
    ]
    csv_path = write_rows(folder / "summary.csv", table, SUMMARY_COLUMNS)
    md_path = folder / "summary.md"
    with atomic_path(md_path) as temporary:
        temporary.write_text(markdown_report(title, summary, pvalues, reference, notes))
    return csv_path, md_path, summary


def dataset_level_rows(summaries: dict[str, dict], methods: list[str]) -> list[dict]:
    """One pseudo-row per dataset × method holding that dataset's means (for across-dataset tests)."""
    rows = []
    for dataset, summary in summaries.items():
        for method in methods:
            row = {"dataset": dataset, "image": "*", "object": "*", "method": method}
            row.update({metric: summary[method][metric][0] for metric in EVALUATE_KEYS})
            rows.append(row)
    return rows
