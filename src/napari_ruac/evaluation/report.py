"""Summaries of finished rows: mean ± std of every metric per method, Wilcoxon signed-rank
p-values of the reference method (RUAC) against each other method, as CSV and markdown.
Object rows pair by (dataset, image, object); image-level rows (object "*") pair by image."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from ..metrics import EVALUATE_KEYS, wilcoxon
from .tables import IMAGE_KEYS, LOWER_IS_BETTER, NO_DIRECTION, number, row_key, write_rows

SUMMARY_COLUMNS = ("method", "metric", "mean", "std", "n", "p_vs_reference")


def metric_values(rows: list[dict], method: str, metric: str) -> dict[tuple, float]:
    """{(dataset, image, object): value} of one method and metric."""
    return {row_key(r)[:3]: number(r.get(metric)) for r in rows if r["method"] == method}


def summarise(rows: list[dict], methods: list[str], metrics=EVALUATE_KEYS) -> dict[str, dict[str, tuple[float, float, int]]]:
    """{method: {metric: (mean, std, n finite)}}, nan-aware."""
    out: dict[str, dict[str, tuple[float, float, int]]] = {}
    for method in methods:
        out[method] = {}
        for metric in metrics:
            values = np.array(list(metric_values(rows, method, metric).values()), dtype=np.float64)
            finite = values[np.isfinite(values)]
            mean = float(finite.mean()) if finite.size else float("nan")
            std = float(finite.std()) if finite.size else float("nan")
            out[method][metric] = (mean, std, int(finite.size))
    return out


def paired_pvalues(rows: list[dict], reference: str, methods: list[str], metrics=EVALUATE_KEYS) -> dict[str, dict[str, float]]:
    """{method: {metric: p}}: Wilcoxon of reference vs method, paired by (dataset, image, object)."""
    out: dict[str, dict[str, float]] = {}
    for method in methods:
        if method == reference:
            continue
        out[method] = {}
        for metric in metrics:
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


def markdown_report(
    title: str, summary: dict, pvalues: dict, reference: str, notes: list[str] | None = None,
    metrics=EVALUATE_KEYS, level: str = "", header: str = "#",
) -> str:  # fmt: skip
    methods = list(summary)
    lines = [f"{header} {title}", ""]
    lines += [f"- {note}" for note in notes or []]
    lines += ["", f"{header}# Mean ± std per method{level}", ""]
    lines.append("| metric | " + " | ".join(methods) + " |")
    lines.append("|---|" + "---|" * len(methods))
    for metric in metrics:
        arrow = "↓" if metric in LOWER_IS_BETTER else ("" if metric in NO_DIRECTION else "↑")
        cells = [_cell(*summary[m][metric][:2]) for m in methods]
        lines.append(f"| {metric} {arrow} | " + " | ".join(cells) + " |")
    if pvalues:
        others = list(pvalues)
        lines += ["", f"{header}# Wilcoxon signed-rank p-values, {reference} vs each method{level}", ""]
        lines.append("| metric | " + " | ".join(others) + " |")
        lines.append("|---|" + "---|" * len(others))
        for metric in metrics:
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
    *,
    image_rows: list[dict] | None = None,
    pooled: dict | None = None,
    metrics=EVALUATE_KEYS,
) -> tuple[Path, Path, dict]:
    """summary.csv + summary.md in ``folder``; returns their paths and the summary dict.

    ``image_rows`` (one per image × method) add the image-level metrics (IMAGE_KEYS), tested
    per image; ``pooled`` ({method: {object_rho, failed_auroc, objects}}) the dataset's pooled
    object-level values."""
    tests = with_tests and reference in methods
    summary = summarise(rows, methods, metrics)
    pvalues = paired_pvalues(rows, reference, methods, metrics) if tests else {}
    level = " (one value per object)" if image_rows is not None else ""
    text = markdown_report(title, summary, pvalues, reference, notes, metrics, level)
    keys = list(metrics)
    if image_rows is not None:
        image_summary = summarise(image_rows, methods, IMAGE_KEYS)
        image_p = paired_pvalues(image_rows, reference, methods, IMAGE_KEYS) if tests else {}
        image_notes = [
            "union of the objects' masks, max of their uncertainty maps; regions as the review widget lists them",
            "object_rho = Spearman ρ(object score, 1 − IoU) over the image's objects (nan with < 3)",
            "failed_auroc = AUROC of the object score for IoU < 0.8; coverage_topk = share of the substantive "
            "error (beyond the band around the true boundary) held by the top-k review regions",
        ]
        level = " (one value per image)"
        text += "\n" + markdown_report("Image level", image_summary, image_p, reference, image_notes, IMAGE_KEYS, level, "##")
        for method in methods:
            summary[method].update(image_summary[method])
            pvalues.get(method, {}).update(image_p.get(method, {}))
        keys += list(IMAGE_KEYS)
    if pooled:
        text += "\n## Pooled over every object of the dataset\n\n"
        text += "| method | objects | object ρ | failed-object AUROC |\n|---|---|---|---|\n"
        text += "".join(
            f"| {m} | {v['objects']} | {v['object_rho']:.3f} | {v['failed_auroc']:.3f} |\n" for m, v in pooled.items()
        )
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
        for k in keys
    ]
    csv_path = write_rows(folder / "summary.csv", table, SUMMARY_COLUMNS)
    md_path = folder / "summary.md"
    with atomic_path(md_path) as temporary:
        temporary.write_text(text)
    return csv_path, md_path, summary


def dataset_level_rows(summaries: dict[str, dict], methods: list[str]) -> list[dict]:
    """One pseudo-row per dataset × method holding that dataset's means (for across-dataset tests)."""
    rows = []
    for dataset, summary in summaries.items():
        for method in methods:
            row = {"dataset": dataset, "image": "*", "object": "*", "method": method}
            row.update({metric: values[0] for metric, values in summary[method].items()})
            rows.append(row)
    return rows
