"""Which object score ranks failed objects best? (metrics/object_level.py's choice, issue 13 §1)

    python benchmarks/bench_object_score.py [--model ruac-micro] [--scenes 60] [--out runs/object_score]

Tuning data only: generated scenes written by scripts/evaluate_micro.py's ``write_scenes`` with seeds
9100 (shifted) and 9101 (training domain), never the uncertainty study's sets (seeds 7002/7003) or
real images. Every scored object is prompted with its tight box + 2 px (the study's prompt) and
predicted with ``ruac``, ``ruac-hyp`` and ``sam2``. For each variant of the score (``per`` = mask or
region, dilation radius 1–3 px, threshold 0.3–0.7) the script prints the pooled Spearman
ρ(score, 1 − IoU) per scene set and method, and their mean.
"""

from __future__ import annotations

import argparse
import sys
from itertools import product
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import machine  # noqa: E402

SETS = (("shifted", 9100, True), ("plain", 9101, False))
METHODS = ("ruac", "ruac-hyp", "sam2")
VARIANTS = list(product(("mask", "region"), (1.0, 2.0, 3.0), (0.3, 0.5, 0.7)))


def predictions(model, folder: Path, name: str):
    """(method, mask, uncertainty, IoU) of every scored object of the scene folder."""
    from napari_ruac import ImagePredictor
    from napari_ruac.core.objects import split_objects
    from napari_ruac.evaluation.datasets import find_pairs, iter_items
    from napari_ruac.evaluation.gt_prompts import make_prompt, object_rng

    predictor = ImagePredictor(model)
    for pair in find_pairs(folder):
        for item in iter_items(pair, name):
            predictor.set_image(item.image, value_range=item.value_range)
            for object_id, truth in split_objects(item.mask):
                prompt = make_prompt(truth, "box", object_rng(0, name, item.image_id, object_id), 1, 2.0)
                for method in METHODS:
                    out = predictor.predict(**prompt, method=method, image_hw=truth.shape)
                    iou = (out.mask & truth).sum() / max((out.mask | truth).sum(), 1)
                    yield method, out.mask, out.uncertainty, float(iou)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="ruac-micro")
    parser.add_argument("--scenes", type=int, default=60, help="scenes per set (plain: two thirds of it)")
    parser.add_argument("--out", default="runs/object_score")
    args = parser.parse_args(argv)

    from evaluate_micro import write_scenes
    from scipy import stats

    from napari_ruac.metrics import object_score
    from napari_ruac.models import load_model

    model = load_model(args.model)
    rho = {}
    for name, seed, shifted in SETS:
        count = args.scenes if shifted else max(1, 2 * args.scenes // 3)
        folder = write_scenes(Path(args.out) / f"{name}_{seed}_{count}", count, seed, shifted, 12)
        rows = list(predictions(model, folder, name))
        for method in METHODS:
            chosen = [r for r in rows if r[0] == method]
            failed = 1.0 - np.array([r[3] for r in chosen])
            for per, radius, threshold in VARIANTS:
                scores = [object_score(mask, u, radius, threshold, per=per) for _, mask, u, _ in chosen]
                rho[(name, method, per, radius, threshold)] = float(stats.spearmanr(scores, failed).statistic)
        print(f"{name}: {len(rows) // len(METHODS)} objects", flush=True)
    print(f"\n{machine()}\n")
    columns = [(name, method) for name, _, _ in SETS for method in METHODS]
    print("| per | radius | threshold | " + " | ".join(f"{n} {m}" for n, m in columns) + " | mean |")
    print("|---|---:|---:|" + "---:|" * (len(columns) + 1))
    for variant in VARIANTS:
        values = [rho[(n, m, *variant)] for n, m in columns]
        print(f"| {variant[0]} | {variant[1]:g} | {variant[2]:g} | " + " | ".join(f"{v:.3f}" for v in values)
              + f" | {np.mean(values):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
