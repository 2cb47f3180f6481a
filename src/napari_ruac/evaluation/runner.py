"""``run_evaluation``: every method on every object of every image of the given datasets,
every metric per row, summaries and plots per dataset and overall — as a generator of
progress events, resumable (finished rows are read back and skipped; every write is atomic).

Output layout (OUT/): ``<dataset>/results.csv`` (one row per image × object × method),
``<dataset>/risk_coverage.csv``, ``<dataset>/images.csv`` + ``review_coverage.csv`` (one row per
image × method: object ρ, failed-object AUROC, top-k review coverage of the substantive error),
``<dataset>/summary.{csv,md}``, ``<dataset>/plots/*.png``,
``<dataset>/laplace_posterior.{safetensors,json}`` (when fitted), ``summary.{csv,md}``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..core.progress import Progress
from ..core.objects import split_objects
from ..inference import ImagePredictor
from ..metrics import EVALUATE_KEYS, evaluate
from ..uq import get_method
from ..uq.laplace import LaplaceFitter, load_laplace, save_laplace
from . import plots
from .datasets import Item, find_pairs, item_labels, iter_items
from .events import DatasetDone, EvaluationDone, EvaluationStarted, ImageDone
from .gt_prompts import make_prompt, object_rng
from .report import dataset_level_rows, write_summary
from .image_level import ImageAccumulator, pooled_object_metrics
from .tables import (
    COVERAGE_COLUMNS,
    CURVE_COLUMNS,
    IMAGE_COLUMNS,
    IMAGE_KEYS,
    RESULT_COLUMNS,
    curve_values,
    read_rows,
    risk_at_coverage,
    row_key,
    write_rows,
)


EVALUATION_MODEL = "sam2.1_hiera_tiny"  # the model the study runs unless told otherwise (CLI and API)


@dataclass
class EvaluationSettings:
    """What to run and how; defaults follow UncertSAM (box prompts, paper's object split)."""

    methods: tuple[str, ...] = ("ruac", "sam2", "tta", "prompt", "laplace")
    prompt: str = "box"  # box | point | box+point
    points: int = 1
    box_margin: float = 0.0  # px added to each side of the tight ground-truth box (clipped to the image)
    min_area: int | None = None  # None: core.objects.default_min_area
    object_mode: str = "auto"
    seed: int = 0
    num_samples: int | None = None  # None: each method's default
    batch_size: int = 8
    laplace_fit: int = 0  # images (or slices) per dataset used to fit Laplace, excluded from evaluation
    laplace_posterior: str | None = None  # or a saved posterior file
    ct: str = "auto"  # CT normalisation of volumes: auto (NIfTI) | always | never
    reference: str = "ruac"
    band: float = 2.0  # px around the true boundary the interior metrics and the review coverage leave out
    method_options: dict = field(default_factory=dict)  # e.g. tta_set, laplace_mode


def _split_method(name: str) -> tuple[str, bool]:
    base, _, suffix = name.partition("+")
    if suffix not in ("", "refine"):
        raise ValueError(f"method {name!r}: the only suffix is '+refine' (e.g. laplace+refine)")
    return base, bool(suffix)


def _check_methods(model, settings: EvaluationSettings) -> None:
    """Fail before any work when a method cannot run (unknown, or missing a trained head)."""
    from ..uq.ensemble import MissingHeadError

    for name in settings.methods:
        base, refine = _split_method(name)
        get_method(base)
        if base == "varnet" and "varnet" not in model.extras:
            from ..uq.varnet import HOW_TO_TRAIN

            raise MissingHeadError(f"method varnet needs a trained variance network in the model. {HOW_TO_TRAIN}")
        if refine and "fusion" not in model.extras:
            from ..uq.fusion import HOW_TO_TRAIN

            raise MissingHeadError(f"method {name} needs a trained fusion head in the model. {HOW_TO_TRAIN}")
    needs_laplace = any(_split_method(n)[0] == "laplace" for n in settings.methods)
    if needs_laplace and "laplace" not in model.extras and not settings.laplace_posterior and settings.laplace_fit < 1:
        raise MissingHeadError(
            "method laplace needs a posterior: pass --laplace-fit N (fit on N images per dataset, which are then "
            "left out of the evaluation) or --laplace-posterior FILE, or use a model saved with one."
        )


def _load_model(model, device, pretrained: bool, image_size: int | None):
    if isinstance(model, (str, Path)):
        from ..models import load_model

        return load_model(model, device=device, pretrained=pretrained, image_size=image_size)
    return model


def _dataset_names(data: Sequence[str | Path]) -> list[tuple[str, Path]]:
    names: dict[str, int] = {}
    out = []
    for folder in data:
        path = Path(folder).expanduser()
        name = path.resolve().name or "dataset"
        names[name] = names.get(name, 0) + 1
        out.append((name if names[name] == 1 else f"{name}_{names[name]}", path))
    return out


def _fit_laplace(model, items: list[Item], settings: EvaluationSettings, folder: Path):
    """Fit (or reload, on a rerun) this dataset's Laplace posterior from its first items."""
    stored = folder / "laplace_posterior"
    if stored.with_suffix(".json").is_file():
        return load_laplace(stored)
    fitter = LaplaceFitter(model, batch_size=settings.batch_size)
    for item in items:
        labels = item_labels(item, settings.min_area, settings.object_mode)
        if labels.any():
            fitter.add(item.image, labels, value_range=item.value_range)
    posterior = fitter.posterior_result()
    save_laplace(posterior, stored)
    return posterior


def _methods_to_run(item: Item, objects, settings, done: set, done_images: set) -> list[str]:
    """The methods of this item with a missing object row or a missing image row (rerun whole)."""
    todo = []
    for name in settings.methods:
        keys = {(item.dataset, item.image_id, o, name) for o, _ in objects}
        if keys - done or (objects and (item.dataset, item.image_id, "*", name) not in done_images):
            todo.append(name)
    return todo


def _evaluate_item(predictor, item: Item, objects, settings, methods: list[str]) -> tuple[list, list, list, list]:
    """Predict and score every object of one item with ``methods``: object rows, risk curves,
    and per method one image-level row and its review-coverage curve."""
    predictor.set_image(item.image, value_range=item.value_range)
    rows, curves = [], []
    hw = item.image.shape[:2]
    images = {name: ImageAccumulator(hw) for name in methods}
    for object_id, mask in objects:
        rng = object_rng(settings.seed, item.dataset, item.image_id, object_id)
        prompt = make_prompt(mask, settings.prompt, rng, settings.points, settings.box_margin)
        for name in methods:
            key = (item.dataset, item.image_id, object_id, name)
            base, refine = _split_method(name)
            start = time.perf_counter()
            prediction = predictor.predict(**prompt, method=base, refine=refine, image_hw=hw)
            seconds = time.perf_counter() - start
            scores = evaluate(prediction.probability, prediction.uncertainty, mask, prediction=prediction.mask, band=settings.band)
            head = dict(zip(("dataset", "image", "object", "method"), key))
            rows.append({**head, "area": int(mask.sum()), "prompt": settings.prompt, "seconds": seconds, **scores})
            risk = risk_at_coverage(prediction.uncertainty, prediction.mask != mask)
            curves.append({**head, **dict(zip(CURVE_COLUMNS[4:], risk.tolist()))})
            images[name].add(prediction.mask, prediction.uncertainty, mask, scores["object_score"], scores["iou"])
    image_rows, coverage_rows = [], []
    for name, accumulator in images.items():
        if not objects:
            continue
        head = {"dataset": item.dataset, "image": item.image_id, "object": "*", "method": name}
        values, curve = accumulator.result(settings.band)
        image_rows.append({**head, **values})
        coverage_rows.append({**head, **dict(zip(COVERAGE_COLUMNS[4:], curve.tolist()))})
    return rows, curves, image_rows, coverage_rows


def _dataset_report(folder: Path, name: str, rows, curves, image_rows, coverage_rows, settings, notes) -> tuple[list[Path], dict]:
    methods = list(settings.methods)
    pooled = pooled_object_metrics(rows, methods)
    csv_path, md_path, summary = write_summary(
        folder, f"Evaluation of {name}", rows, methods, settings.reference, notes, image_rows=image_rows, pooled=pooled
    )
    plot_dir = folder / "plots"
    paths = [csv_path, md_path]
    paths += plots.bar_plots(summary, plot_dir, EVALUATE_KEYS + IMAGE_KEYS)
    paths.append(plots.radar_plot(summary, plot_dir / "radar.png"))
    mean_curves, mean_coverage = {}, {}
    for method in methods:
        values = [curve_values(c) for c in curves if c["method"] == method]
        if values:
            mean_curves[method] = np.nanmean(np.stack(values), axis=0)
        values = [curve_values(c, COVERAGE_COLUMNS) for c in coverage_rows if c["method"] == method]
        values = [v for v in values if np.isfinite(v).all()]  # images without substantive error have no curve
        if values:
            mean_coverage[method] = np.mean(np.stack(values), axis=0)
    paths.append(plots.risk_coverage_plot(mean_curves, plot_dir / "risk_coverage.png"))
    paths.append(plots.review_coverage_plot(mean_coverage, plot_dir / "review_coverage.png"))
    return paths, summary


def run_evaluation(
    data: Sequence[str | Path],
    methods: Sequence[str] | None = None,
    model=EVALUATION_MODEL,
    out: str | Path = "evaluation",
    *,
    device=None,
    pretrained: bool = True,
    image_size: int | None = None,
    settings: EvaluationSettings | None = None,
    **overrides,
) -> Iterator[EvaluationStarted | ImageDone | Progress | DatasetDone | EvaluationDone]:
    """Evaluate ``methods`` on the dataset folders ``data``; yields EvaluationStarted, then per image
    ImageDone, per file ``Progress`` (stage ``file``), per dataset DatasetDone, and EvaluationDone
    (events.py). Stop iterating to cancel; rerun to resume."""
    settings = settings or EvaluationSettings()
    for key, value in overrides.items():
        if not hasattr(settings, key):
            raise TypeError(f"run_evaluation got an unknown setting {key!r}")
        setattr(settings, key, value)
    if methods is not None:
        settings.methods = tuple(methods)
    if not settings.methods:
        raise ValueError("no method given: pass e.g. methods=['ruac', 'sam2']")
    model = _load_model(model, device, pretrained, image_size)
    _check_methods(model, settings)
    out = Path(out).expanduser()
    datasets = [(name, path, find_pairs(path)) for name, path in _dataset_names(data)]
    total = sum(len(pairs) for _, _, pairs in datasets)
    yield EvaluationStarted([n for n, _, _ in datasets], total, str(out))
    options = {"seed": settings.seed, "batch_size": settings.batch_size, **settings.method_options}
    if settings.num_samples is not None:
        options["num_samples"] = settings.num_samples
    summaries, done_pairs, written = {}, 0, []
    for name, _, pairs in datasets:
        folder = out / name
        paths = {kind: folder / f"{kind}.csv" for kind in ("results", "risk_coverage", "images", "review_coverage")}
        rows, curves = read_rows(paths["results"]), read_rows(paths["risk_coverage"])
        image_rows, coverage_rows = read_rows(paths["images"]), read_rows(paths["review_coverage"])
        done = {row_key(r) for r in rows} & {row_key(c) for c in curves}
        done_images = {row_key(r) for r in image_rows} & {row_key(c) for c in coverage_rows}
        method_options = dict(options)
        notes = [f"prompt: {settings.prompt} (box margin {settings.box_margin:g} px); seed {settings.seed}; methods: {', '.join(settings.methods)}"]
        fit_ids: set[str] = set()
        needs_fit = any(_split_method(m)[0] == "laplace" for m in settings.methods)
        if settings.laplace_posterior:
            method_options["laplace_posterior"] = load_laplace(settings.laplace_posterior)
        elif needs_fit and "laplace" not in model.extras:
            all_items = (item for pair in pairs for item in iter_items(pair, name, settings.ct))
            fit_items = [item for _, item in zip(range(settings.laplace_fit), all_items)]
            fit_ids = {item.image_id for item in fit_items}
            method_options["laplace_posterior"] = _fit_laplace(model, fit_items, settings, folder)
            notes.append(f"Laplace fitted on (and evaluation excludes): {', '.join(sorted(fit_ids))}")
        predictor = ImagePredictor(model, **method_options)
        for pair in pairs:
            for item in iter_items(pair, name, settings.ct):
                if item.image_id in fit_ids:
                    continue
                objects = split_objects(item.mask, settings.min_area, settings.object_mode)
                todo = _methods_to_run(item, objects, settings, done, done_images)
                new_rows: list[dict] = []
                if todo:
                    new_rows, new_curves, new_images, new_coverage = _evaluate_item(predictor, item, objects, settings, todo)
                    stale = {(name, item.image_id, m) for m in todo}  # rerun whole: drop the old rows of these methods
                    rows, curves, image_rows, coverage_rows = (
                        [r for r in table if (r["dataset"], r["image"], r["method"]) not in stale] + new
                        for table, new in (
                            (rows, new_rows), (curves, new_curves), (image_rows, new_images), (coverage_rows, new_coverage)
                        )
                    )  # fmt: skip
                    done |= {row_key(r) for r in new_rows}
                    done_images |= {row_key(r) for r in new_images}
                    write_rows(paths["results"], rows, RESULT_COLUMNS)
                    write_rows(paths["risk_coverage"], curves, CURVE_COLUMNS)
                    write_rows(paths["images"], image_rows, IMAGE_COLUMNS)
                    write_rows(paths["review_coverage"], coverage_rows, COVERAGE_COLUMNS)
                keys = len(objects) * len(settings.methods)
                yield ImageDone(name, item.image_id, len(objects), len(new_rows), keys - len(new_rows))
            done_pairs += 1
            yield Progress("file", done_pairs, total, item=f"{name}/{pair.stem}")
        paths, summary = _dataset_report(folder, name, rows, curves, image_rows, coverage_rows, settings, notes)
        summaries[name] = summary
        written += paths
        yield DatasetDone(name, len(rows), [str(p) for p in paths])
    overall = dataset_level_rows(summaries, list(settings.methods))
    notes = [f"datasets: {', '.join(summaries)}", "mean ± std over the datasets' means; p-values pair datasets"]
    if len(summaries) < 2:
        notes.append("one dataset: no test across datasets (see the dataset's own summary for per-image tests)")
    csv_path, md_path, _ = write_summary(
        out, "Evaluation across datasets", overall, list(settings.methods), settings.reference, notes, len(summaries) >= 2,
        metrics=EVALUATE_KEYS + IMAGE_KEYS,
    )  # fmt: skip
    written += [csv_path, md_path]
    yield EvaluationDone(str(out), [str(p) for p in written])
