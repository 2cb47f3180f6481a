"""The uncertainty study (issue 13 §3): every method on the given dataset folders with the
substantive-error metrics, one table per dataset, Wilcoxon tests against ``ruac``, plots.

``run_study`` runs :func:`run_evaluation` twice: the methods on the model (OUT/main) and, when
a baseline model is given, its ``ruac`` (OUT/baseline, reported as ``ruac-baseline``). Both
resume. ``study_report`` reads the rows back and writes OUT/report.md and OUT/plots/. The data
(generated scenes, real sets) and the fitting of the post-hoc heads are the caller's
(scripts/evaluate_uncertainty.py), so nothing here imports the training package.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..core.progress import Progress
from ..io.atomic import atomic_path
from ..metrics import MetricUndefinedWarning, object_spearman, wilcoxon
from . import plots
from .image_level import pooled_object_metrics
from .runner import run_evaluation
from .tables import COVERAGE_COLUMNS, curve_values, number, read_rows

STUDY_METHODS = ("ruac", "ruac-hyp", "ruac-mc", "sam2", "tta", "prompt", "laplace", "varnet")
BASELINE = "ruac-baseline"
REFERENCE = "ruac"
#: Columns of the study table: (key, heading, level). level: object rows, image rows, pooled, time.
COLUMNS = (
    ("interior_auroc", "interior AUROC", "object"),
    ("auroc", "pixel AUROC", "object"),
    ("object_rho", "object ρ (pooled)", "pooled"),
    ("failed_auroc", "failed-object AUROC (pooled)", "pooled"),
    ("coverage_top1", "top-1 cov.", "image"),
    ("coverage_top3", "top-3 cov.", "image"),
    ("coverage_top10", "top-10 cov.", "image"),
    ("ceiling_top10", "top-10 ceiling", "image"),
    ("iou", "mIoU", "object"),
    ("seconds", "s / object", "object"),
)
TESTED = ("interior_auroc", "coverage_top10", "iou")  # Wilcoxon vs ruac (objects / images paired)


def run_study(
    data: Sequence[str | Path], model, out: str | Path, *, baseline=None, methods: Sequence[str] = STUDY_METHODS, **settings
) -> Iterator:
    """Evaluate ``methods`` on ``model`` and ``ruac`` on ``baseline``; yields the runner's events, its
    ``Progress`` with ``item`` = "main/…" | "baseline/…" (the stage first).
    ``settings``: EvaluationSettings fields (box_margin, band …)."""
    out = Path(out)
    runs = [("main", model, list(methods))]
    if baseline is not None:
        runs.append(("baseline", baseline, ["ruac"]))
    for stage, stage_model, stage_methods in runs:
        for event in run_evaluation(data, methods=stage_methods, model=stage_model, out=out / stage, **settings):
            yield replace(event, item=f"{stage}/{event.item}") if isinstance(event, Progress) else event


def _renamed(rows: list[dict], name: str) -> list[dict]:
    return [{**row, "method": name} for row in rows]


def study_rows(out: str | Path, dataset: str) -> tuple[list[dict], list[dict], list[dict]]:
    """(object rows, image rows, coverage curves) of one dataset; the baseline's ruac as ruac-baseline."""
    out = Path(out)
    tables = []
    for kind in ("results", "images", "review_coverage"):
        rows = read_rows(out / "main" / dataset / f"{kind}.csv")
        rows += _renamed(read_rows(out / "baseline" / dataset / f"{kind}.csv"), BASELINE)
        tables.append(rows)
    return tables[0], tables[1], tables[2]


def _by_key(rows: list[dict], method: str, metric: str) -> dict[tuple, float]:
    return {(r["image"], r["object"]): number(r.get(metric)) for r in rows if r["method"] == method}


def _mean(values) -> tuple[float, int]:
    values = np.asarray(list(values), np.float64)
    finite = values[np.isfinite(values)]
    return (float(finite.mean()) if finite.size else float("nan")), int(finite.size)


def bootstrap_rho_difference(rows: list[dict], method: str, reference: str = REFERENCE, draws: int = 1000, seed: int = 0):
    """(ρ(method) − ρ(reference), 95 % CI) of the pooled object ρ, objects resampled in pairs."""
    scores = {m: _by_key(rows, m, "object_score") for m in (method, reference)}
    ious = {m: _by_key(rows, m, "iou") for m in (method, reference)}
    keys = sorted(set(scores[method]) & set(scores[reference]))
    table = np.array([[scores[m][k] for m in (method, reference)] + [ious[m][k] for m in (method, reference)] for k in keys])
    if len(table) < 3:
        return float("nan"), (float("nan"), float("nan"))
    table = table[np.isfinite(table).all(axis=1)]
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricUndefinedWarning)
        observed = object_spearman(table[:, 0], table[:, 2]) - object_spearman(table[:, 1], table[:, 3])
        differences = []
        for _ in range(draws):
            pick = table[rng.integers(len(table), size=len(table))]
            differences.append(object_spearman(pick[:, 0], pick[:, 2]) - object_spearman(pick[:, 1], pick[:, 3]))
    differences = np.asarray(differences)
    differences = differences[np.isfinite(differences)]
    if differences.size == 0:
        return float(observed), (float("nan"), float("nan"))
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(observed), (float(low), float(high))


def _pvalue(rows: list[dict], method: str, metric: str, reference: str) -> tuple[float, int]:
    ref, other = _by_key(rows, reference, metric), _by_key(rows, method, metric)
    keys = sorted(set(ref) & set(other))
    try:
        result = wilcoxon([ref[k] for k in keys], [other[k] for k in keys])
    except ValueError:
        return float("nan"), 0
    return result.pvalue, result.n


def dataset_table(rows: list[dict], image_rows: list[dict], methods: list[str], reference: str = REFERENCE) -> tuple[str, dict]:
    """Markdown: one row per method (COLUMNS), then Wilcoxon p of ``reference`` vs each; and the numbers."""
    pooled = pooled_object_metrics(rows, methods)
    numbers: dict[str, dict[str, float]] = {}
    for method in methods:
        numbers[method] = {}
        for key, _, level in COLUMNS:
            if level == "pooled":
                numbers[method][key] = pooled[method][key]
            else:
                source = image_rows if level == "image" else rows
                numbers[method][key] = _mean(number(r.get(key)) for r in source if r["method"] == method)[0]
        numbers[method]["objects"] = pooled[method]["objects"]
    lines = ["| method | " + " | ".join(h for _, h, _ in COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    for method in methods:
        cells = [_format(numbers[method][key], key) for key, _, _ in COLUMNS]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    others = [m for m in methods if m != reference]
    if reference in methods and others:
        lines += ["", f"{reference} vs each method: Wilcoxon signed-rank p (pairs), and the pooled object ρ "
                  f"difference (method − {reference}) with a 95 % bootstrap interval over objects:", ""]  # fmt: skip
        lines += ["| method | " + " | ".join(f"p {t}" for t in TESTED) + " | Δρ [95 % CI] |", "|---|" + "---|" * (len(TESTED) + 1)]
        for method in others:
            cells = []
            for metric in TESTED:
                p, n = _pvalue(image_rows if metric.startswith("coverage") else rows, method, metric, reference)
                cells.append("n/a" if not np.isfinite(p) else f"{p:.2g} (n={n})")
            delta, (low, high) = bootstrap_rho_difference(rows, method, reference)
            numbers[method]["rho_difference"] = (delta, low, high)
            cells.append("n/a" if not np.isfinite(delta) else f"{delta:+.3f} [{low:+.3f}, {high:+.3f}]")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines), numbers


def _format(value: float, key: str) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.3g}" if key == "seconds" else f"{value:.3f}"


def study_plots(results: dict[str, dict], coverage: dict[str, dict[str, np.ndarray]], folder: Path) -> list[Path]:
    """Grouped bars (datasets × methods) of interior AUROC, object ρ and top-10 coverage; coverage curves."""
    paths = []
    datasets = list(results)
    methods = list(next(iter(results.values()))) if results else []
    for key, heading, _ in (c for c in COLUMNS if c[0] in ("interior_auroc", "object_rho", "coverage_top10")):
        figure, axes = plots._figure(max(5.0, 1.2 * len(datasets) * max(1, len(methods)) / 3), 3.8)
        width = 0.8 / max(1, len(methods))
        for i, method in enumerate(methods):
            values = [results[d][method][key] for d in datasets]
            axes.bar(np.arange(len(datasets)) + i * width, np.nan_to_num(values), width, label=method)
        finite = np.array([results[d][m][key] for d in datasets for m in methods], np.float64)
        finite = finite[np.isfinite(finite)]
        if finite.size:  # zoom in: AUROCs of every method sit near 1
            axes.set_ylim(min(0.0, finite.min() - 0.05) if finite.min() < 0 else max(0.0, finite.min() - 0.05), 1.0)
        axes.set_xticks(np.arange(len(datasets)) + 0.4 - width / 2, datasets, rotation=15)
        axes.set_title(f"{heading} (higher is better)")
        axes.legend(fontsize=7, ncol=4, loc="lower center")
        paths.append(plots._save(figure, folder / f"study_{key}.png"))
    for dataset, curves in coverage.items():
        paths.append(plots.review_coverage_plot(curves, folder / f"study_review_coverage_{dataset}.png"))
    return paths


def study_report(out: str | Path, datasets: Sequence[str], methods: list[str], notes: Sequence[str] = ()) -> tuple[Path, dict]:
    """OUT/report.md (a table per dataset) and OUT/plots/; returns the report's path and the numbers."""
    out = Path(out)
    sections, results, coverage = [], {}, {}
    for dataset in datasets:
        rows, image_rows, curves = study_rows(out, dataset)
        present = [m for m in methods if any(r["method"] == m for r in rows)]
        table, numbers = dataset_table(rows, image_rows, present)
        results[dataset] = numbers
        n_images = len({r["image"] for r in rows})
        n_objects = len({(r["image"], r["object"]) for r in rows})
        sections += [f"### {dataset} ({n_images} images, {n_objects} objects)", "", table, ""]
        coverage[dataset] = {}
        for method in present:
            values = [curve_values(c, COVERAGE_COLUMNS) for c in curves if c["method"] == method]
            values = [v for v in values if np.isfinite(v).all()]
            if values:
                coverage[dataset][method] = np.mean(np.stack(values), axis=0)
    study_plots(results, coverage, out / "plots")
    header = [f"- {note}" for note in notes] + [f"- written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", ""]
    path = out / "report.md"
    with atomic_path(path) as temporary:
        temporary.write_text("\n".join(header + sections) + "\n")
    return path, results


BEGIN, END = "<!-- study:begin (generated by scripts/evaluate_uncertainty.py) -->", "<!-- study:end -->"


def replace_generated_block(document: str | Path, text: str) -> Path:
    """Put ``text`` between the study markers of ``document`` (appended with markers if absent)."""
    document = Path(document)
    old = document.read_text() if document.is_file() else ""
    block = f"{BEGIN}\n{text.rstrip()}\n{END}"
    if BEGIN in old and END in old:
        new = old[: old.index(BEGIN)] + block + old[old.index(END) + len(END) :]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    with atomic_path(document) as temporary:
        temporary.write_text(new)
    return document
