"""Before a new model ships: the candidates against the shipped one, on the same held-out data.

    python scripts/compare_models.py ruac-micro runs/micro_ruac3/export/model.json [...] --out runs/compare

The first model is the reference (the shipped one). Every model is measured the same way, on data no
training run sees (generated seeds 7101 / 7160+, the real sets of ``evaluation.real_sets`` and
scikit-image's coins / cell / phantom):

- ``boxes``: box-prompted mask IoU with zoom ``auto``, boxes tight + 0 / 2 / 4 px (the box-filling bias:
  a model that fills the box it is given loses IoU as the box grows), and the median predicted / true
  area; generated scenes of 384–1024 px (bench_zoom's) and the real images;
- ``clicks``: one positive click at the object's most interior pixel, then two oracle corrective clicks
  (the centre of the largest error region with its true sign, the previous mask as mask prompt): IoU after
  1 and 3 clicks (issue 18's click targets);
- ``uncertainty``: the uncertainty study (scripts/evaluate_uncertainty.py) for ``ruac``, ``ruac-hyp`` and
  ``sam2``: interior AUROC, object ρ, top-10 review coverage per data set;
- ``tracking``: single-box 3D IoU with projection tracking (how ruac-micro ships) and the per-slice oracle on the demo, generated and real stacks (bench_tracking's).

Writes OUT/<model>/<part>.json (reruns reuse them) and OUT/compare.md: one row per number, one column per
model, and for each candidate the list of numbers where it is worse than the reference by more than
``--tolerance``. Such a model does not ship.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "scripts"))

PARTS = ("boxes", "clicks", "uncertainty", "tracking")
MARGINS = (0.0, 2.0, 4.0)
STUDY_METHODS = ("ruac", "ruac-hyp", "sam2")
#: numbers where lower is better (everything else: higher is better)
LOWER_IS_BETTER = re.compile(r"area ratio")


def slug(model: str) -> str:
    path = Path(model)
    if path.suffix == ".json":
        parts = [p for p in path.parts[:-1] if p not in ("export", "runs")]
        return "_".join(parts[-2:]) or path.stem
    return model


# ---- measurements --------------------------------------------------------------------------------
def scored_objects(predictor, scenes: int, real_objects: int):
    """(dataset, image name, object id, true mask) of every scored object, its image set on ``predictor``."""
    from bench_zoom import generated, real

    for dataset, name, image, labels, ids in list(generated(scenes, 8)) + list(real(real_objects)):
        predictor.set_image(image)
        for object_id in ids:
            truth = labels == object_id
            if truth.sum() >= 16:
                yield dataset, name, object_id, truth


def measure_boxes(model, scenes: int, real_objects: int) -> list[dict]:
    from napari_ruac import ImagePredictor
    from napari_ruac.core.boxes import grown_box
    from napari_ruac.core.overlap import iou

    predictor = ImagePredictor(model, zoom="auto")
    rows = []
    for dataset, name, object_id, truth in scored_objects(predictor, scenes, real_objects):
        row = dict(dataset=dataset, image=name, object=object_id)
        for margin in MARGINS:
            box = grown_box(truth, margin=0.0, min_margin=margin) if margin else _tight_box(truth)
            mask = predictor.predict(box=box).mask
            row[f"iou_{margin:g}"] = float(iou(mask, truth))
            row[f"area_{margin:g}"] = float(mask.sum() / truth.sum())
        rows.append(row)
    return rows


def _tight_box(truth: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(truth)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def measure_clicks(model, scenes: int, real_objects: int) -> list[dict]:
    from bench_interactive import most_interior, oracle_click

    from napari_ruac import ImagePredictor
    from napari_ruac.core.overlap import iou

    predictor = ImagePredictor(model, zoom="auto")
    rows = []
    for dataset, name, object_id, truth in scored_objects(predictor, scenes, real_objects):
        row_, col_ = most_interior(truth)
        points, labels_ = [[col_ + 0.5, row_ + 0.5]], [1]
        prediction = predictor.predict(points=points, labels=labels_)
        scores = [float(iou(prediction.mask, truth))]
        for _ in range(2):
            click = oracle_click(prediction.mask, truth)
            if click is not None:
                points.append(click[0])
                labels_.append(click[1])
                # the library's correction step (napari's Enter, bench_interactive): the previous mask as the
                # mask prompt with all clicks so far
                prediction = predictor.correct(prediction, points=points, labels=labels_)
            scores.append(float(iou(prediction.mask, truth)))
        rows.append(dict(dataset=dataset, image=name, object=object_id, click1=scores[0], click3=scores[2]))
    return rows


def measure_uncertainty(model_arg: str, out: Path, quick: bool) -> dict:
    command = [sys.executable, str(ROOT / "scripts" / "evaluate_uncertainty.py"), "--model", model_arg,
               "--methods", ",".join(STUDY_METHODS), "--out", str(out)] + (["--quick"] if quick else [])
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "results.json").read_text())


def measure_tracking(model, stacks: int, objects: int) -> list[dict]:
    from bench_tracking import run, volumes

    # projection, as ship_micro.py configures a shipped ruac-micro: a training export's model.json does not
    # say `volume_tracking`, and its default (SAM2's memory, untrained in ruac-micro) would be measured instead
    return run(model, {"default": dict(tracking="projection"), "oracle": {}}, volumes(stacks, objects))


# ---- the table -----------------------------------------------------------------------------------
def _group(dataset: str) -> str:
    return "generated" if dataset.startswith("generated") else dataset


def summary(parts: dict) -> dict[str, float]:
    """{number name: value} of one model."""
    numbers: dict[str, float] = {}
    for row_set, keys in (("boxes", None), ("clicks", None)):
        rows = parts.get(row_set)
        if not rows:
            continue
        for group in sorted({_group(r["dataset"]) for r in rows}):
            chosen = [r for r in rows if _group(r["dataset"]) == group]
            if row_set == "boxes":
                for margin in MARGINS:
                    numbers[f"box +{margin:g} px mIoU, {group}"] = float(np.mean([r[f"iou_{margin:g}"] for r in chosen]))
                numbers[f"box +2 px median area ratio, {group}"] = float(np.median([r["area_2"] for r in chosen]))
            else:
                numbers[f"1 click mIoU, {group}"] = float(np.mean([r["click1"] for r in chosen]))
                numbers[f"3 clicks mIoU, {group}"] = float(np.mean([r["click3"] for r in chosen]))
    for dataset, methods in (parts.get("uncertainty") or {}).items():
        for method, values in methods.items():
            for key, label in (("interior_auroc", "interior AUROC"), ("object_rho", "object ρ"),
                               ("coverage_top10", "top-10 coverage")):
                if isinstance(values, dict) and key in values:
                    numbers[f"{method} {label}, {dataset}"] = float(values[key])
    rows = parts.get("tracking")
    if rows:
        for dataset in sorted({r["dataset"] for r in rows}):
            chosen = [r for r in rows if r["dataset"] == dataset]
            numbers[f"3D IoU single box, {dataset}"] = float(np.mean([r["default"] for r in chosen]))
            numbers[f"3D IoU per-slice oracle, {dataset}"] = float(np.mean([r["oracle"] for r in chosen]))
    return numbers


def worse(name: str, candidate: float, reference: float, tolerance: float) -> bool:
    if not (np.isfinite(candidate) and np.isfinite(reference)):
        return False
    if name.startswith("sam2 "):  # SAM2's entropy is context; ruac and ruac-hyp (the default method) are the model's
        return False
    if LOWER_IS_BETTER.search(name):  # an area ratio is best at 1
        return abs(candidate - 1) > abs(reference - 1) + tolerance
    return candidate < reference - tolerance


def report(names: list[str], numbers: list[dict], tolerance: float, notes: list[str]) -> str:
    keys = list(dict.fromkeys(k for n in numbers for k in n))
    lines = ["| number | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for key in keys:
        cells = []
        for index, values in enumerate(numbers):
            value = values.get(key, float("nan"))
            mark = " ↓" if index and worse(key, value, numbers[0].get(key, float("nan")), tolerance) else ""
            cells.append(f"{value:.3f}{mark}")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines.append("")
    for name, values in zip(names[1:], numbers[1:]):
        bad = [k for k in keys if worse(k, values.get(k, float("nan")), numbers[0].get(k, float("nan")), tolerance)]
        verdict = "worse than the reference on: " + "; ".join(bad) if bad else "nowhere worse than the reference"
        lines.append(f"- **{name}**: {verdict} (tolerance {tolerance}).")
    return "\n".join(notes + [""] + lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="the reference (shipped) model first, then candidates (name or model.json)")
    parser.add_argument("--out", default="runs/compare")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {', '.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="small sets (minutes per model)")
    parser.add_argument("--tolerance", type=float, default=0.005, help="how much worse counts as noise")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"--parts: unknown {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    import warnings

    import torch

    from napari_ruac import load_model

    warnings.filterwarnings("ignore", message="box .* extends past")
    torch.set_num_threads(args.threads)
    scenes, real_objects, stacks = (6, 20, 2) if args.quick else (24, 200, 4)
    out = Path(args.out)
    names, numbers = [], []
    started = time.time()
    for model_arg in args.models:
        folder = out / slug(model_arg)
        folder.mkdir(parents=True, exist_ok=True)
        model = load_model(model_arg, device="cpu")
        measured = {}
        for part in parts:
            path = folder / f"{part}.json"
            if not path.is_file():
                t0 = time.time()
                if part == "boxes":
                    value = measure_boxes(model, scenes, real_objects)
                elif part == "clicks":
                    value = measure_clicks(model, scenes, real_objects)
                elif part == "uncertainty":
                    value = measure_uncertainty(model_arg, folder / "study", args.quick)
                else:
                    value = measure_tracking(model, stacks, 3)
                path.write_text(json.dumps(value, indent=1, default=float))
                print(f"{slug(model_arg)}: {part} in {time.time() - t0:.0f} s", flush=True)
            measured[part] = json.loads(path.read_text())
        names.append(slug(model_arg))
        numbers.append(summary(measured))
    notes = [f"# Model comparison, {time.strftime('%Y-%m-%d %H:%M')}",
             f"Command: `python scripts/compare_models.py {' '.join(argv if argv is not None else sys.argv[1:])}`; "
             f"CPU, {args.threads} thread(s), load average {os.getloadavg()[0]:.1f} at the end, {time.time() - started:.0f} s. "
             "↓ marks a number where the candidate is worse than the first model."]
    text = report(names, numbers, args.tolerance, notes)
    (out / "compare.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
