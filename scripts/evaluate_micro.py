"""Quality, speed and shift study of the shipped ``ruac-micro`` model, with the ``evaluate`` runner.

    python scripts/evaluate_micro.py --out runs/micro_eval \
        --model src/napari_ruac/weights/ruac-micro.json --baseline runs/micro_baseline/export/model.json

1. Data (written once under OUT/data): held-out synthetic scenes (training-domain styles, seeds
   no training run used), the shifted domain (``shifted=True``), a few training-domain scenes to
   fit the Laplace posterior, and the real scikit-image images with classically derived masks
   (``scripts/real_masks.py``). At most ``--objects`` objects per image are scored (chosen at random,
   seeded): the other objects stay in the image, only their masks are left out.
2. Quality: box-prompted ``ruac`` on the synthetic test set and on the real images (IoU per image).
3. Speed: CPU ``set_image`` + ``predict(box)`` at each real image's native size (median of repeats,
   with the load average and thread count at the time).
4. Shift study: on the shifted set, ``ruac``, ``sam2``, ``tta``, ``prompt`` and ``laplace`` on the RUAC
   model, plus ``ruac`` on the baseline model (same training without attackers/UAA), every metric per
   object, then means over images and Wilcoxon signed-rank tests over images (RUAC vs each).

Everything lands in OUT (CSV, markdown, plots; reruns resume); ``--docs DIR`` copies the plots there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

SEEDS = {"synthetic_test": 7001, "synthetic_shifted": 7002, "laplace_fit": 7003}  # training used seeds 1 and 2
SIZE_RANGE = (160, 384)  # the training scenes' size range
SHIFT_METHODS = ("ruac", "sam2", "tta", "prompt", "laplace")
BASELINE = "ruac-baseline"
TABLE_METRICS = ("auroc", "pearson", "pavpu", "aurc", "iou", "boundary_iou", "ece", "mean_uncertainty")


# ---- data ----------------------------------------------------------------------------------------
def write_scenes(folder: Path, n: int, seed: int, shifted: bool, max_objects: int) -> Path:
    """``n`` synthetic scenes as images/ + masks/ (uint16 labels of at most ``max_objects`` objects)."""
    import imageio.v3 as iio

    from napari_ruac.core.objects import default_min_area
    from ruac_training.synthetic import SyntheticDataset

    if (folder / "done.json").is_file():
        return folder
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    dataset = SyntheticDataset(n, seed=seed, size_range=SIZE_RANGE, shifted=shifted)
    records = []
    for index in range(n):
        scene = dataset[index]
        ids, areas = np.unique(scene.labels[scene.labels > 0], return_counts=True)
        eligible = ids[areas > default_min_area(scene.labels.shape)]
        rng = np.random.default_rng([seed, index])
        keep = np.sort(rng.choice(eligible, min(max_objects, len(eligible)), replace=False)) if len(eligible) else []
        labels = np.zeros(scene.labels.shape, np.uint16)
        for new_id, old_id in enumerate(keep, start=1):
            labels[scene.labels == old_id] = new_id
        iio.imwrite(folder / "images" / f"{index:04d}.png", scene.image)
        iio.imwrite(folder / "masks" / f"{index:04d}.png", labels)
        records.append({"file": f"{index:04d}.png", "kind": scene.kind, "objects": int(len(keep)), "seed": scene.params["seed"]})
    (folder / "done.json").write_text(json.dumps({"n": n, "seed": seed, "shifted": shifted, "scenes": records}, indent=1))
    return folder


def prepare_data(root: Path, n: int, max_objects: int) -> dict[str, Path]:
    from real_masks import write_real_dataset

    data = {
        "synthetic_test": write_scenes(root / "synthetic_test", n, SEEDS["synthetic_test"], False, max_objects),
        "synthetic_shifted": write_scenes(root / "synthetic_shifted", n, SEEDS["synthetic_shifted"], True, max_objects),
        "laplace_fit": write_scenes(root / "laplace_fit", 12, SEEDS["laplace_fit"], False, max_objects),
        "real": write_real_dataset(root / "real"),
    }
    return data


# ---- running the evaluate runner -----------------------------------------------------------------
def evaluate(folders, model, methods, out: Path, **settings) -> dict[str, list[dict]]:
    """Run ``run_evaluation`` to the end (resumes); returns {dataset: rows}."""
    from napari_ruac.core.progress import Progress
    from napari_ruac.evaluation.runner import run_evaluation
    from napari_ruac.evaluation.tables import read_rows

    started = time.perf_counter()
    for event in run_evaluation(folders, methods=methods, model=model, out=out, device="cpu", **settings):
        if isinstance(event, Progress) and event.done % 10 == 0:
            print(f"  {out.name}: {event.done}/{event.total} files ({time.perf_counter() - started:.0f} s)", flush=True)
    return {Path(f).name: read_rows(out / Path(f).name / "results.csv") for f in folders}


def fit_laplace(model, folder: Path, out: Path) -> Path:
    """A Laplace posterior fitted on training-domain scenes (not on the evaluation images)."""
    import imageio.v3 as iio

    from napari_ruac.uq.laplace import LaplaceFitter, save_laplace

    stem = out / "laplace_posterior"
    if stem.with_suffix(".json").is_file():
        return stem
    fitter = LaplaceFitter(model)
    for path in sorted((folder / "images").glob("*.png")):
        labels = np.asarray(iio.imread(folder / "masks" / path.name)).astype(np.int32)
        if labels.max() > 0:
            fitter.add(np.asarray(iio.imread(path)), labels)
    save_laplace(fitter.posterior_result(), stem)
    return stem


def per_image(rows: list[dict], metric: str) -> dict[str, dict[str, float]]:
    """{method: {image: mean of the metric over the image's objects}} (nan-aware)."""
    from napari_ruac.evaluation.tables import number

    values: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        values.setdefault(row["method"], {}).setdefault(row["image"], []).append(number(row.get(metric)))
    return {m: {i: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for i, v in images.items()}
            for m, images in values.items()}


# ---- speed ---------------------------------------------------------------------------------------
def measure_speed(model, images: dict[str, np.ndarray], repeats: int = 7) -> list[dict]:
    """Median seconds of set_image + predict(box) per image at its native size (embedding never cached)."""
    import torch

    from napari_ruac.inference import ImagePredictor

    predictor = ImagePredictor(model, method="ruac")
    rows = []
    for name, image in images.items():
        h, w = image.shape[:2]
        box = [w * 0.3, h * 0.3, w * 0.6, h * 0.6]
        times = []
        for repeat in range(repeats + 1):
            varied = image.copy()
            varied.flat[0] = (int(varied.flat[0]) + repeat + 1) % 256  # a new image each time: no cache hit
            predictor.reset()
            started = time.perf_counter()
            predictor.set_image(varied)
            predictor.predict(box=box)
            if repeat:  # the first run warms up
                times.append(time.perf_counter() - started)
        rows.append({"image": name, "shape": f"{h}×{w}", "median_s": float(np.median(times)), "min_s": float(np.min(times)),
                     "load_average_1min": os.getloadavg()[0], "threads": torch.get_num_threads()})
    return rows


# ---- tables ----------------------------------------------------------------------------------------
def summary_over_images(rows: list[dict], methods: list[str], reference: str = "ruac") -> tuple[str, dict]:
    """Markdown table: mean ± std over images of each metric, and Wilcoxon p (over images) vs ``reference``."""
    from napari_ruac.metrics import wilcoxon

    lines = ["| method | " + " | ".join(TABLE_METRICS) + " |", "|---|" + "---|" * len(TABLE_METRICS)]
    numbers: dict[str, dict[str, tuple[float, float]]] = {}
    pvalues: dict[str, dict[str, float]] = {}
    for metric in TABLE_METRICS:
        table = per_image(rows, metric)
        for method in methods:
            values = np.array([v for v in table.get(method, {}).values() if np.isfinite(v)])
            numbers.setdefault(method, {})[metric] = (float(values.mean()), float(values.std())) if values.size else (np.nan, np.nan)
            if method != reference and reference in table:
                keys = sorted(set(table[reference]) & set(table.get(method, {})))
                pairs = [(table[reference][k], table[method][k]) for k in keys]
                pairs = [p for p in pairs if np.isfinite(p).all()]
                try:
                    p = wilcoxon([a for a, _ in pairs], [b for _, b in pairs]).pvalue if pairs else float("nan")
                except ValueError:
                    p = float("nan")
                pvalues.setdefault(method, {})[metric] = float(p)
    for method in methods:
        cells = [f"{numbers[method][m][0]:.3f} ± {numbers[method][m][1]:.3f}" for m in TABLE_METRICS]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", f"Wilcoxon signed-rank p-values over images, {reference} vs each method:", ""]
    lines += ["| method | " + " | ".join(TABLE_METRICS) + " |", "|---|" + "---|" * len(TABLE_METRICS)]
    for method, values in pvalues.items():
        lines.append(f"| {method} | " + " | ".join(f"{values[m]:.2g}" for m in TABLE_METRICS) + " |")
    return "\n".join(lines), {"means": numbers, "pvalues": pvalues}


def shift_plots(rows: list[dict], curves: list[dict], methods: list[str], folder: Path) -> list[Path]:
    from napari_ruac.evaluation import plots
    from napari_ruac.evaluation.report import summarise
    from napari_ruac.evaluation.tables import curve_values

    summary = summarise(rows, methods)
    paths = plots.bar_plots(summary, folder, ("auroc", "pearson", "pavpu", "aurc"))
    mean_curves = {m: np.nanmean(np.stack([curve_values(c) for c in curves if c["method"] == m]), axis=0)
                   for m in methods if any(c["method"] == m for c in curves)}
    paths.append(plots.risk_coverage_plot(mean_curves, folder / "risk_coverage.png"))
    return paths


def renamed(rows: list[dict], name: str) -> list[dict]:
    return [{**row, "method": name} for row in rows]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="ruac-micro", help="the RUAC model (shipped name or .json path)")
    parser.add_argument("--baseline", default=None, help="the same model trained without attackers/UAA (.json)")
    parser.add_argument("--out", default="runs/micro_eval")
    parser.add_argument("--n", type=int, default=60, help="synthetic scenes per test set")
    parser.add_argument("--objects", type=int, default=5, help="objects scored per synthetic image")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: quality, speed, shift")
    parser.add_argument("--docs", default=None, help="copy the shift-study plots into this folder")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for the evaluation runs")
    args = parser.parse_args(argv)
    from napari_ruac.evaluation.tables import read_rows
    from napari_ruac.models import load_model

    import torch

    torch.set_num_threads(args.threads)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    out = Path(args.out)
    data = prepare_data(out / "data", args.n, args.objects)
    model = load_model(args.model, device="cpu")
    report = [f"# ruac-micro evaluation ({model.info.name}, {model.info.source})", ""]
    results: dict = {"model": str(model.info.source)}
    if "quality" not in skip:
        rows = evaluate([data["synthetic_test"], data["real"]], model, ["ruac"], out / "quality")
        synthetic = per_image(rows["synthetic_test"], "iou")["ruac"]
        real = per_image(rows["real"], "iou")["ruac"]
        results["quality"] = {"synthetic_miou_images": float(np.mean(list(synthetic.values()))),
                              "synthetic_miou_objects": float(np.mean([float(r["iou"]) for r in rows["synthetic_test"]])),
                              "real_iou_per_image": real, "real_miou": float(np.mean(list(real.values())))}
        report += ["## Quality (box prompts, method ruac)", "",
                   f"- held-out synthetic ({len(synthetic)} images, {len(rows['synthetic_test'])} objects): "
                   f"mIoU over images {results['quality']['synthetic_miou_images']:.3f}, "
                   f"over objects {results['quality']['synthetic_miou_objects']:.3f}",
                   f"- real images: mean over images {results['quality']['real_miou']:.3f}", "",
                   "| real image | objects | IoU (mean over objects) |", "|---|---|---|"]
        report += [f"| {name} | {sum(r['image'] == name for r in rows['real'])} | {value:.3f} |" for name, value in real.items()]
        report.append("")
    if "speed" not in skip:
        import imageio.v3 as iio

        images = {p.stem: np.asarray(iio.imread(p)) for p in sorted((data["real"] / "images").glob("*.png")) if p.stem != "phantom_inner"}
        images["synthetic_0000"] = np.asarray(iio.imread(data["synthetic_test"] / "images" / "0000.png"))
        import torch

        speed = []
        for threads in (1, 2):  # one thread is faster when other processes share the cores
            torch.set_num_threads(threads)
            speed += measure_speed(model, images)
        torch.set_num_threads(args.threads)
        results["speed"] = speed
        report += ["## Speed (CPU, set_image + predict(box), method ruac)", "",
                   "| image | size | median s | min s | load average (1 min) | torch threads |", "|---|---|---|---|---|---|"]
        report += [f"| {r['image']} | {r['shape']} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['load_average_1min']:.2f} | {r['threads']} |"
                   for r in speed]
        report.append("")
    if "shift" not in skip:
        posterior = fit_laplace(model, data["laplace_fit"], out / "shift_ruac")
        shifted = data["synthetic_shifted"]
        rows = evaluate([shifted], model, list(SHIFT_METHODS), out / "shift_ruac", laplace_posterior=str(posterior))[shifted.name]
        curves = read_rows(out / "shift_ruac" / shifted.name / "risk_coverage.csv")
        methods = list(SHIFT_METHODS)
        if args.baseline:
            baseline = load_model(args.baseline, device="cpu")
            base_rows = evaluate([shifted], baseline, ["ruac"], out / "shift_baseline")[shifted.name]
            rows += renamed(base_rows, BASELINE)
            curves += renamed(read_rows(out / "shift_baseline" / shifted.name / "risk_coverage.csv"), BASELINE)
            methods.append(BASELINE)
        table, numbers = summary_over_images(rows, methods)
        results["shift"] = numbers
        n_images = len({r["image"] for r in rows})
        report += [f"## Shift study (shifted synthetic domain, {n_images} images, {len(rows) // len(methods)} objects)", "",
                   "Mean ± std over images (each image: mean over its objects); ↑ better: auroc, pearson, pavpu, iou, "
                   "boundary_iou; ↓ better: aurc, ece.", "", table, ""]
        plot_paths = shift_plots(rows, curves, methods, out / "shift_plots")
        if args.docs:
            Path(args.docs).mkdir(parents=True, exist_ok=True)
            for path in plot_paths:
                shutil.copy(path, Path(args.docs) / f"shift_{path.name}")
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
    (out / "report.md").write_text("\n".join(report) + "\n")
    print("\n".join(report))
    print(f"report: {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
