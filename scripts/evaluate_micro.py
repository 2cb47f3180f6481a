"""Quality and speed of the shipped ``ruac-micro`` model, with the ``evaluate`` runner.

    python scripts/evaluate_micro.py --out runs/micro_eval --model src/napari_ruac/weights/ruac-micro.json

1. Data (written once under OUT/data): held-out synthetic scenes (training-domain styles, seeds
   no training run used) and the real scikit-image images with classically derived masks
   (``scripts/real_masks.py``). At most ``--objects`` objects per image are scored (chosen at random,
   seeded; ``ruac_training.synthetic.keep_objects``): the other objects stay in the image.
2. Quality: box-prompted ``ruac`` on the synthetic test set and on the real images (IoU per image).
3. Speed: CPU ``set_image`` + ``predict(box)`` at each real image's native size (median of repeats,
   with the load average and thread count at the time).

The uncertainty (shift) study is ``scripts/evaluate_uncertainty.py`` (``napari_ruac.evaluation.study``).
Everything lands in OUT (CSV, markdown; reruns resume).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

SEEDS = {"synthetic_test": 7001, "synthetic_shifted": 7002, "laplace_fit": 7003}  # training used seeds 1 and 2; the
# shifted and Laplace-fit seeds are the uncertainty study's (scripts/evaluate_uncertainty.py)
SIZE_RANGE = (160, 384)  # the training scenes' size range


# ---- data ----------------------------------------------------------------------------------------
def write_scenes(folder: Path, n: int, seed: int, shifted: bool, max_objects: int) -> Path:
    """``n`` synthetic scenes as images/ + masks/ (at most ``max_objects`` objects scored); once."""
    from ruac_training.synthetic import write_dataset

    if (folder / "scenes.json").is_file():
        return folder
    return write_dataset(folder, n, seed, size_range=SIZE_RANGE, shifted=shifted, overwrite=True, max_objects=max_objects)


def prepare_data(root: Path, n: int, max_objects: int) -> dict[str, Path]:
    from real_masks import write_real_dataset

    data = {
        "synthetic_test": write_scenes(root / "synthetic_test", n, SEEDS["synthetic_test"], False, max_objects),
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="ruac-micro", help="the RUAC model (shipped name or .json path)")
    parser.add_argument("--out", default="runs/micro_eval")
    parser.add_argument("--n", type=int, default=60, help="synthetic scenes per test set")
    parser.add_argument("--objects", type=int, default=5, help="objects scored per synthetic image")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: quality, speed")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for the evaluation runs")
    args = parser.parse_args(argv)
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
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
    (out / "report.md").write_text("\n".join(report) + "\n")
    print("\n".join(report))
    print(f"report: {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
