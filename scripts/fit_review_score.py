"""Fit the review score's weights (src/napari_ruac/everything/review.py) and check them on other scenes.

    python scripts/fit_review_score.py [--model ruac-micro] [--fit 15] [--check 15] [--out runs/review_fit]

Segment-everything runs with its default settings on generated 512² nuclei scenes: seeds
7260001 … (fit) and the next ``--check`` seeds (check); never the benchmark's held-out seeds
(bench_everything.py, 7160001 …) or real images. Each object gets its features (the uncertainty
score and the three checks of review.py) and a label: failed when its best IoU with any true
object is < 0.7. A logistic regression on the fit scenes gives the weights; the script prints
them rounded, as review.py holds them, and the failure recall at 20 % on the check scenes of the
rounded score, the uncertainty score alone, the predicted IoU and review.py's current weights.
The objects' features are cached in OUT/objects.json (delete it to rerun the segmentation).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

SEED0 = 7_260_001
FEATURES = ("uncertainty_score", "proposal_iou", "kept", "click_iou")


def collect(model_name: str, seeds: range, method: str) -> list[dict]:
    from bench_everything import FAILED_BELOW, best_ious
    from ruac_training.synthetic import generate_scene

    from napari_ruac.everything import EverythingRun
    from napari_ruac.models import load_model

    model = load_model(model_name)
    rows = []
    for seed in seeds:
        scene = generate_scene("nuclei", seed, 512)
        run = EverythingRun(model, scene.image, method=method)
        for _ in run:
            pass
        result = run.result()
        best = best_ious(result.labels, scene.labels)
        for row in result.objects:
            values = {name: float(getattr(row, name)) for name in FEATURES}
            rows.append(dict(seed=seed, id=row.id, predicted_iou=float(row.predicted_iou), stability=float(row.stability),
                             area=int(row.area), mean_uncertainty=float(row.mean_uncertainty), **values,
                             failed=bool(best.get(row.id, 0.0) < FAILED_BELOW)))
        print(f"seed {seed}: {len(result.objects)} objects", flush=True)
    return rows


def failure_recall(rows: list[dict], score) -> float:
    """Of the failed objects, the share in the top 20 % of each scene's ranking by ``score`` (pooled)."""
    from bench_everything import top_fraction_hits

    hit = failed = 0
    for seed in sorted({r["seed"] for r in rows}):
        scene = [r for r in rows if r["seed"] == seed]
        order = [r["id"] for r in sorted(scene, key=lambda r: -score(r))]
        h, f = top_fraction_hits(order, {r["id"] for r in scene if r["failed"]})
        hit, failed = hit + h, failed + f
    return hit / failed if failed else float("nan")


def best_possible(rows: list[dict]) -> float:
    return failure_recall(rows, lambda r: float(r["failed"]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="ruac-micro")
    parser.add_argument("--fit", type=int, default=15, help="fit scenes (seeds from 7260001)")
    parser.add_argument("--check", type=int, default=15, help="check scenes (the seeds after the fit scenes)")
    parser.add_argument("--method", default=None, help="the uncertainty method (default: the library's default)")
    parser.add_argument("--out", default="runs/review_fit")
    args = parser.parse_args(argv)

    from sklearn.linear_model import LogisticRegression

    from napari_ruac.everything import review

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "objects.json"
    seeds = range(SEED0, SEED0 + args.fit + args.check)
    rows = json.loads(cache.read_text()) if cache.exists() else []
    if {r["seed"] for r in rows} != set(seeds):
        rows = collect(args.model, seeds, args.method or "ruac")
        cache.write_text(json.dumps(rows))
    rows = [r for r in rows if all(np.isfinite(r[name]) for name in FEATURES)]
    fit = [r for r in rows if r["seed"] < SEED0 + args.fit]
    check = [r for r in rows if r["seed"] >= SEED0 + args.fit]
    x = np.array([[r[name] for name in FEATURES] for r in fit])
    y = np.array([r["failed"] for r in fit])
    regression = LogisticRegression(C=10.0, max_iter=1000).fit(x, y)
    bias = round(float(regression.intercept_[0]), 1)
    weights = {name: round(float(w), 1) for name, w in zip(FEATURES, regression.coef_[0])}

    def rounded(r):
        return bias + sum(weights[name] * r[name] for name in FEATURES)

    def current(r):
        return review.review_score(r["uncertainty_score"], {name: r[name] for name in review.CHECKS})

    print(f"fit: {len(fit)} objects ({int(y.sum())} failed); check: {len(check)} objects "
          f"({sum(r['failed'] for r in check)} failed)")
    print(f"BIAS = {bias}\nWEIGHTS = dict({', '.join(f'{k}={v}' for k, v in weights.items())})")
    print("failure recall at 20 % on the check scenes:")
    for name, score in (("fitted (rounded)", rounded), ("review.py now", current),
                        ("uncertainty score", lambda r: r["uncertainty_score"]),
                        ("predicted IoU (lowest first)", lambda r: -r["predicted_iou"])):
        print(f"  {name:30s} {failure_recall(check, score):.3f}")
    print(f"  {'best possible':30s} {best_possible(check):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
