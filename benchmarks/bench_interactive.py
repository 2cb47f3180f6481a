"""Clicks to a good mask: micro-sam's iterative prompting protocol with four sources of the
corrective click.

Each object starts from a box (and, separately, from one positive click at its most interior
pixel) and gets up to ``--iterations`` (8) corrective clicks, every click added to the earlier
prompts. Each iteration also feeds the previous mask back as the mask prompt (micro-sam's
``use_masks=True``; for ruac-micro, trained with the prompt map, the mask goes in as its region map,
``ImagePredictor.refine_mask`` — its raw logits would replace the map the model localises with).
``--no-mask-input`` gives micro-sam's default ``use_masks=False`` (points and box only). All four
sources run under the same protocol. The click comes from:

  oracle     the most interior pixel of the largest error region, with its true sign (needs the
             ground truth; the field's standard);
  suggested  ``ImagePredictor.suggest_click`` on RUAC's uncertainty (``--method``, default the library's); the oracle only accepts or
             flips the sign (what a user does with Enter / T);
  random     a uniformly random pixel of the top-uncertainty region (u ≥ half the maximum, RUAC's
             map), true sign;
  sam2       the ``suggested`` rule on SAM2's entropy (the whole run with method ``sam2``).

When ``suggested``/``sam2`` have no suggestion (the map is confident everywhere, or the mask is
empty) or ``random`` has no uncertain pixel, that iteration adds no click (counted in ``no_click``).
Reported: mIoU after each iteration, NoC@85 / NoC@90 (corrective clicks until IoU ≥ 0.85 / 0.90;
0 when the start prompt reaches it, 9 when 8 clicks never do) and the fraction reaching them.

Data: held-out generated scenes (``generate_scene`` seeds 880001 + 10·k, never drawn by a training
config: those draw scene seeds at random from 2^31 via SyntheticDataset seeds 0–8), the DSB2018
nuclei image bundled with stardist (``pip install --no-deps stardist==0.9.2``; found without
importing stardist) and scikit-image's coins (masks from scripts/real_masks.py). Objects are
subsampled (``--max-objects`` per dataset, the largest first, seeded shuffle) to keep the run short.

    OMP_NUM_THREADS=1 python benchmarks/bench_interactive.py [--quick] [--json out.json] [--plot out.png]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from napari_ruac.core.overlap import iou

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = ("oracle", "suggested", "random", "sam2")
STARTS = ("box", "click")
THRESHOLDS = (0.85, 0.90)
SCENE_SEEDS = {"nuclei": 880001, "cells": 880002, "coins": 880003, "shapes": 880004}
EIGHT = np.ones((3, 3), bool)


# ---- data ------------------------------------------------------------------------------------
def _objects(labels: np.ndarray, max_objects: int, rng, min_area: int = 30) -> list[np.ndarray]:
    ids, areas = np.unique(labels[labels > 0], return_counts=True)
    ids = ids[areas >= min_area]
    rng.shuffle(ids)
    return [labels == i for i in ids[:max_objects]]


def generated(max_objects: int, scenes_per_kind: int, first_scene: int = 1):
    sys.path.insert(0, str(ROOT / "training"))
    from ruac_training.synthetic import generate_scene

    rng = np.random.default_rng(0)
    for kind, seed in SCENE_SEEDS.items():
        for offset in range(first_scene, first_scene + scenes_per_kind):
            scene = generate_scene(kind, seed + 10 * offset, 256)
            yield "generated", scene.image, _objects(scene.labels, max_objects, rng)


def dsb2018(max_objects: int):
    from napari_ruac.evaluation.real_sets import RealDataMissing, dsb2018_nuclei

    try:
        image, labels = dsb2018_nuclei()
    except RealDataMissing as missing:
        print(f"DSB2018 skipped: {missing}", file=sys.stderr)
        return
    yield "dsb2018", image, _objects(labels, max_objects, np.random.default_rng(1))


def coins(max_objects: int):
    from skimage import data

    sys.path.insert(0, str(ROOT / "scripts"))
    from real_masks import coins_labels

    image = data.coins()
    yield "coins", image, _objects(coins_labels(image), max_objects, np.random.default_rng(2))


# ---- clicks ----------------------------------------------------------------------------------
def most_interior(region: np.ndarray) -> tuple[int, int]:
    depth = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return int(row), int(col)


def oracle_click(mask: np.ndarray, truth: np.ndarray):
    error = mask != truth
    if not error.any():
        return None
    labelled, count = ndimage.label(error, structure=EIGHT)
    sizes = ndimage.sum(error, labelled, range(1, count + 1))
    row, col = most_interior(labelled == 1 + int(np.argmax(sizes)))
    return [col + 0.5, row + 0.5], int(truth[row, col])


def suggested_click(predictor, prediction, points, labels, box, truth, stats, rule=None):
    from napari_ruac.uq.suggest import SuggestionError

    try:
        found = predictor.suggest_click(prediction, points=points or None, labels=labels or None, box=box,
                                        **(rule or {}))
    except SuggestionError:
        found = []
    if not found:
        stats["no_click"] += 1
        return None
    s = found[0]
    label = int(truth[int(s.y), int(s.x)])  # the user accepts (Enter) or flips (T) the sign
    stats["flipped"] += int(label != s.label)
    stats["clicks"] += 1
    return [s.x, s.y], label


def random_click(prediction, points, truth, rng, stats):
    u = prediction.uncertainty
    candidates = u >= 0.5 * float(u.max()) if u.max() > 0 else np.zeros_like(truth)
    for x, y in points:
        candidates[int(y), int(x)] = False
    rows, cols = np.nonzero(candidates)
    if rows.size == 0:
        stats["no_click"] += 1
        return None
    i = int(rng.integers(rows.size))
    stats["clicks"] += 1
    return [cols[i] + 0.5, rows[i] + 0.5], int(truth[rows[i], cols[i]])


# ---- protocol --------------------------------------------------------------------------------
def next_prediction(predictor, previous, box, points, labels, method: str, mask_input: bool):
    """The prediction after a corrective click: with ``mask_input`` the library's own correction step,
    ``ImagePredictor.correct`` (what napari's Enter runs: the previous mask as the mask prompt, an empty
    one falls back to points and box only); without, points and box only."""
    if mask_input:
        return predictor.correct(previous, box=box, points=points, labels=labels, method=method)
    return predictor.predict(box=box, points=points, labels=labels, method=method, multimask=False)


def run_object(predictor, truth, start: str, strategy: str, iterations: int, rng, stats,
               mask_input: bool = True, ruac_method: str = "ruac-hyp", rule: dict | None = None) -> list[float]:
    method = "sam2" if strategy == "sam2" else ruac_method
    ys, xs = np.nonzero(truth)
    box, points, labels = None, [], []
    if start == "box":
        box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
    else:
        row, col = most_interior(truth)
        points, labels = [[col + 0.5, row + 0.5]], [1]
    prediction = predictor.predict(box=box, points=points or None, labels=labels or None, method=method)
    scores = [iou(prediction.mask, truth)]
    for _ in range(iterations):
        if strategy == "oracle":
            click = oracle_click(prediction.mask, truth)
        elif strategy == "random":
            click = random_click(prediction, points, truth, rng, stats)
        else:
            click = suggested_click(predictor, prediction, points, labels, box, truth, stats, rule)
        if click is not None:
            points.append(click[0])
            labels.append(click[1])
            prediction = next_prediction(predictor, prediction, box, points, labels, method, mask_input)
        scores.append(iou(prediction.mask, truth))
    return scores


def noc(scores: list[float], threshold: float, cap: int) -> int:
    for i, value in enumerate(scores[: cap + 1]):
        if value >= threshold:
            return i
    return cap + 1


def summarise(curves: dict, iterations: int) -> dict:
    out = {}
    for key, rows in curves.items():
        array = np.array(rows)
        entry = {"objects": len(rows), "miou": [round(float(v), 4) for v in array.mean(axis=0)]}
        for t in THRESHOLDS:
            counts = [noc(r, t, iterations) for r in rows]
            entry[f"noc{int(t * 100)}"] = round(float(np.mean(counts)), 3)
            entry[f"reach{int(t * 100)}"] = round(float(np.mean([c <= iterations for c in counts])), 3)
        out[key] = entry
    return out


def plot(summary: dict, path: Path, iterations: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({key.split("|")[0] for key in summary})
    fig, axes = plt.subplots(len(STARTS), len(datasets), figsize=(4 * len(datasets), 6.5), squeeze=False)
    colours = {"oracle": "black", "suggested": "tab:green", "random": "tab:grey", "sam2": "tab:orange"}
    for i, start in enumerate(STARTS):
        for j, dataset in enumerate(datasets):
            ax = axes[i][j]
            for strategy in STRATEGIES:
                entry = summary.get(f"{dataset}|{start}|{strategy}")
                if entry:
                    ax.plot(range(iterations + 1), entry["miou"], marker="o", ms=3, color=colours[strategy],
                            label=f"{strategy} (NoC85 {entry['noc85']:.2f})")
            ax.set_title(f"{dataset}: start from a {start} (n={entry['objects'] if entry else 0})", fontsize=9)
            ax.set_xlabel("corrective clicks")
            ax.set_ylabel("mIoU")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("ruac-micro, iterative prompting: where the corrective click comes from", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 objects per dataset, 4 iterations: a smoke run")
    parser.add_argument("--max-objects", type=int, default=6, help="objects per image (default 6)")
    parser.add_argument("--scenes-per-kind", type=int, default=1, help="generated scenes per kind (default 1)")
    parser.add_argument("--first-scene", type=int, default=1,
                        help="index of the first generated scene per kind (0 was used to tune suggest_click)")
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--model", default="ruac-micro")
    parser.add_argument("--no-mask-input", dest="mask_input", action="store_false",
                        help="points and box only (micro-sam's use_masks=False); default: the previous mask is fed back")
    parser.add_argument("--method", default=None,
                        help="the RUAC map of oracle/suggested/random (default: the library's, uq.DEFAULT_METHOD)")
    parser.add_argument("--generated-only", action="store_true", help="skip the real images (tuning runs)")
    parser.add_argument("--strategies", default=",".join(STRATEGIES),
                        help=f"comma-separated subset of {', '.join(STRATEGIES)} (tuning runs: suggested)")
    parser.add_argument("--rule", type=json.loads, default=None,
                        help='suggest_click keyword arguments as JSON, e.g. \'{"uncertainty_weight": 5}\' (tuning runs)')
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument("--plot", type=Path, help="write the mIoU-per-iteration plot here (PNG)")
    args = parser.parse_args(argv)
    if args.quick:
        args.max_objects, args.iterations = 2, 4

    import torch

    from napari_ruac.inference import ImagePredictor
    from napari_ruac.models import load_model
    from napari_ruac.uq import DEFAULT_METHOD

    args.method = args.method or DEFAULT_METHOD
    strategies = [s for s in STRATEGIES if s in args.strategies.split(",")]
    if not strategies:
        parser.error(f"--strategies must name some of {', '.join(STRATEGIES)}, got {args.strategies!r}")

    torch.set_num_threads(1)
    predictor = ImagePredictor(load_model(args.model, device="cpu"))
    curves: dict[str, list] = {}
    stats = {s: {"clicks": 0, "flipped": 0, "no_click": 0} for s in STRATEGIES}
    rng = np.random.default_rng(0)
    started = time.time()
    sources = [
        generated(args.max_objects, args.scenes_per_kind, args.first_scene),
        *(() if args.generated_only else (dsb2018(args.max_objects), coins(args.max_objects))),
    ]
    for source in sources:
        for dataset, image, objects in source:
            predictor.set_image(image)
            for truth in objects:
                for start in STARTS:
                    for strategy in strategies:
                        scores = run_object(predictor, truth, start, strategy, args.iterations, rng, stats[strategy],
                                            args.mask_input, args.method, args.rule)
                        curves.setdefault(f"{dataset}|{start}|{strategy}", []).append(scores)
                        curves.setdefault(f"all|{start}|{strategy}", []).append(scores)
            print(f"{dataset}: {len(objects)} objects done ({time.time() - started:.0f} s)", file=sys.stderr)
    summary = summarise(curves, args.iterations)
    print(f"{'dataset|start|strategy':34s} {'n':>3s} {'mIoU@0':>7s} {'mIoU@end':>8s} {'NoC85':>6s} {'NoC90':>6s}"
          f" {'reach85':>7s} {'reach90':>7s}")
    for key, e in sorted(summary.items()):
        print(f"{key:34s} {e['objects']:3d} {e['miou'][0]:7.3f} {e['miou'][-1]:8.3f} {e['noc85']:6.2f} "
              f"{e['noc90']:6.2f} {e['reach85']:7.2f} {e['reach90']:7.2f}")
    for strategy, s in stats.items():
        if strategy != "oracle" and strategy in strategies:
            print(f"{strategy}: {s['clicks']} clicks, sign flipped by the oracle {s['flipped']}, "
                  f"iterations without a click {s['no_click']}")
    print(f"{time.time() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "click_stats": stats, "args": vars(args)},
                                        indent=1, default=str))
    if args.plot:
        plot(summary, args.plot, args.iterations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
