"""Segment everything (issue 16): detection quality, whether the uncertainty ranking puts the failed
objects first, speed, cache reuse and peak memory of a large tiled image.

    python benchmarks/bench_everything.py [--quick] [--model ruac-micro] [--images N] [--rss-size 4096]

Data: held-out generated nuclei and cell scenes (512², seeds no training run used), the real DSB2018 nuclei
image bundled with the ``stardist`` package (read without importing it) and five slices of its real 3D nuclei
stack (61 × 57 px each: a small crowded crop), each segmented as a 2D image. In 3D: the demo's nuclei stack,
held-out generated nuclei stacks and StarDist's real stack, objects found on three seed slices and tracked.
Per dataset: precision / recall / F1 at IoU 0.5, mean IoU of the matched objects, and the
**failure recall at 20 %**: of the failed objects (predictions whose best IoU with any true object
is < 0.7, i.e. unmatched ones and poor matches), the fraction in the top 20 % of a ranking (per
image, pooled). Rankings: the review score (everything/review.py, the order the review uses), our uncertainty score, SAM2's predicted IoU (lowest first), the entropy
of the plain SAM2 probability of the same object (``sam2`` decoded from the same box), random
(expected value). Then: time per 512² image and per object, a second run with another grid
density on the same predictor (the embedding cache: decoder only), and the peak RSS of a tiled
run on a large image in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine  # noqa: E402

FAILED_BELOW = 0.7
TOP = 0.2
VOLUME_SEED = 7201  # bench_tracking's held-out generated stacks
STACK_SLICES = 5  # of StarDist's real 3D stack, each segmented as a 2D image (a small crowded crop)
SEED0 = 7_160_001  # held-out: training draws scenes from SyntheticDataset seeds 1–6


def best_ious(labels: np.ndarray, truth: np.ndarray) -> dict[int, float]:
    """Each predicted id → its best IoU with any true object."""
    pred, true = labels.ravel().astype(np.int64), truth.ravel().astype(np.int64)
    pairs, counts = np.unique(np.stack([pred, true]), axis=1, return_counts=True)
    pred_area = np.bincount(pred)
    true_area = np.bincount(true)
    best: dict[int, float] = {}
    for (p, t), n in zip(pairs.T, counts):
        if p == 0:
            continue
        iou = 0.0 if t == 0 else n / (pred_area[p] + true_area[t] - n)
        best[int(p)] = max(best.get(int(p), 0.0), iou)
    return best


def sam2_entropy_scores(model, image, result, run) -> dict[int, float]:
    """Object score of the binary entropy of plain SAM2's probability for each object's own box."""
    from napari_ruac.inference import ImagePredictor
    from napari_ruac.metrics import object_score

    predictor = ImagePredictor(model, method="sam2", zoom="off", cache=run.predictor.cache)
    windows = [w for w, coarse in run.passes() if not coarse] or [(0, 0, *image.shape[:2])]
    scores = {}
    for row in result.objects:
        y0, x0, y1, x1 = row.bbox
        window = next((w for w in windows if w[0] <= y0 and w[1] <= x0 and w[2] >= y1 and w[3] >= x1),
                      (0, 0, *image.shape[:2]))
        wy0, wx0, wy1, wx1 = window
        predictor.set_image(image[wy0:wy1, wx0:wx1], value_range=run.value_range)
        box = row.prompt_box or [x0, y0, x1, y1]
        local = [max(0.0, box[0] - wx0), max(0.0, box[1] - wy0), min(wx1 - wx0, box[2] - wx0), min(wy1 - wy0, box[3] - wy0)]
        out = predictor.predict(box=local)
        p = np.clip(out.probability, 1e-6, 1 - 1e-6)
        entropy = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
        mask = result.labels[wy0:wy1, wx0:wx1] == row.id
        scores[row.id] = object_score(mask, entropy)
    return scores


def top_fraction_hits(order: list[int], failed: set[int]) -> tuple[int, int]:
    """(failed objects in the first ceil(20 %) of ``order``, failed objects)."""
    k = int(np.ceil(TOP * len(order)))
    return len(set(order[:k]) & failed), len(failed)


def finish(run, truth: np.ndarray):
    """Run a segment-everything run to its end: (its result, seconds, each predicted id → best IoU with the truth)."""
    start = time.perf_counter()
    for _ in run:
        pass
    result = run.result()
    return result, time.perf_counter() - start, best_ious(result.labels, truth)


def evaluate_image(model, image, truth, settings: dict) -> dict:
    from napari_ruac.everything import EverythingRun

    run = EverythingRun(model, image, settings=settings)
    result, seconds, best = finish(run, truth)
    true_ids = set(np.unique(truth)) - {0}
    matched = {p: v for p, v in best.items() if v > 0.5}
    failed = {p for p, v in best.items() if v < FAILED_BELOW}
    rows = {r.id: r for r in result.objects}
    ids = list(rows)
    entropy = sam2_entropy_scores(model, image, result, run) if ids else {}
    rankings = {
        "review score": sorted(ids, key=lambda i: -rows[i].review_score),
        "uncertainty score": sorted(ids, key=lambda i: -rows[i].uncertainty_score),
        "predicted IoU": sorted(ids, key=lambda i: rows[i].predicted_iou),
        "sam2 entropy": sorted(ids, key=lambda i: -entropy[i]),
    }
    hits = {name: top_fraction_hits(order, failed) for name, order in rankings.items()}
    rng = np.random.default_rng(0)
    random_hits = [top_fraction_hits(list(rng.permutation(ids)), failed)[0] for _ in range(200)] if ids else [0]
    hits["random"] = (float(np.mean(random_hits)), len(failed))
    # the embedding cache: another grid density on the same predictor costs the decoder only
    misses = run.predictor.cache.misses
    other = EverythingRun(model, image, predictor=run.predictor,
                          settings={**settings, "grid": True, "points_per_side": max(1, settings.get("points_per_side", 16) // 2)})
    start = time.perf_counter()
    for _ in other:
        pass
    second = time.perf_counter() - start
    return dict(tp=len(matched), predicted=len(ids), true=len(true_ids), matched_iou=list(matched.values()),
                hits=hits, seconds=seconds, objects=len(ids), second_seconds=second,
                second_encodes=run.predictor.cache.misses - misses, decoded=result.decoded)


def datasets(count: int, size: int):
    from ruac_training.synthetic import generate_scene

    for kind in ("nuclei", "cells"):
        scenes = [generate_scene(kind, SEED0 + i, size) for i in range(count)]
        yield f"generated {kind} {size}²", [(scene.image, scene.labels) for scene in scenes]
    from napari_ruac.evaluation.real_sets import RealDataMissing, dsb2018_nuclei, stardist_nuclei_3d

    try:
        image, labels = dsb2018_nuclei()
        yield "real DSB2018 nuclei (stardist) 512²", [(image, labels)]
        stack, truth = stardist_nuclei_3d()
        slices = np.linspace(0.25 * len(stack), 0.75 * len(stack), STACK_SLICES).astype(int)
        yield f"real StarDist 3D nuclei, {STACK_SLICES} slices of {stack.shape[1]}×{stack.shape[2]}", [
            (stack[z], truth[z]) for z in slices]
    except RealDataMissing as exc:
        print(f"skipping the real sets: {exc}", file=sys.stderr)


def volume_sets(count: int):
    """(name, volume, labels, intensity window) per 3D set: the demo's nuclei stack, ``count`` held-out generated
    nuclei stacks (bench_tracking's seeds) and StarDist's real 3D stack."""
    from ruac_training.synthetic.volumes import generate_volume

    from napari_ruac.evaluation.real_sets import RealDataMissing, stardist_nuclei_3d
    from napari_ruac.samples import nuclei_stack

    demo = nuclei_stack(seed=0)
    yield "demo nuclei stack", demo.image, demo.labels
    for index in range(count):
        scene = generate_volume("nuclei", VOLUME_SEED + 2 * index)  # bench_tracking's nuclei stacks (even indices)
        yield f"generated nuclei stack {index + 1}", scene.image, scene.labels
    try:
        stack, truth = stardist_nuclei_3d()
        yield "real StarDist 3D nuclei stack", stack, truth
    except RealDataMissing as exc:
        print(f"skipping the real stack: {exc}", file=sys.stderr)


def evaluate_volume(model, volume: np.ndarray, truth: np.ndarray, mode: str = "slices") -> dict:
    """3D detection quality of segment-everything on a volume. ``mode`` "slices" (the default): every slice
    segmented and the objects linked through z; "track": objects found on the seed slices at a quarter, half and
    three quarters of the depth, tracked through z, duplicates from different seeds merged. Also the failure recall
    at 20 % of the review score's ranking (failed: best 3D IoU < 0.7) against random order."""
    from napari_ruac.everything import make_run
    from napari_ruac.everything.volume import default_seed_slices

    seeds = default_seed_slices(volume.shape[0])
    run = make_run(model, volume, volume=True, volume_mode=mode)
    result, seconds, best = finish(run, truth)
    found = best_ious(truth, result.labels)
    true_ids = set(np.unique(truth)) - {0}
    middle = set(np.unique(truth[seeds])) - {0}
    tp = int(sum(v > 0.5 for v in best.values()))
    failed = {p for p, v in best.items() if v < FAILED_BELOW}
    order = [r.id for r in result.ranked()]
    hit, failures = top_fraction_hits(order, failed)
    return dict(mode=mode, true=len(true_ids), on_seeds=len(middle), predicted=len(best), tp=tp,
                found_on_seeds=int(sum(found.get(t, 0.0) > 0.5 for t in middle)),
                precision=tp / max(1, len(best)), recall=tp / max(1, len(true_ids)),
                f1=2 * tp / max(1, len(best) + len(true_ids)),
                matched_iou=float(np.mean([v for v in best.values() if v > 0.5])) if tp else float("nan"),
                failed=failures, failure_recall=hit / failures if failures else float("nan"),
                failure_recall_random=TOP if failures else float("nan"), seconds=seconds)


def summarise(name: str, records: list[dict]) -> dict:
    tp = sum(r["tp"] for r in records)
    predicted = sum(r["predicted"] for r in records)
    true = sum(r["true"] for r in records)
    precision = tp / predicted if predicted else 0.0
    recall = tp / true if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    matched = [v for r in records for v in r["matched_iou"]]
    failure = {}
    for ranking in records[0]["hits"]:
        hit = sum(r["hits"][ranking][0] for r in records)
        failed = sum(r["hits"][ranking][1] for r in records)
        failure[ranking] = hit / failed if failed else float("nan")
    seconds = [r["seconds"] for r in records]
    objects = sum(r["objects"] for r in records)
    return dict(dataset=name, images=len(records), true=true, predicted=predicted, precision=precision, recall=recall,
                f1=f1, matched_iou=float(np.mean(matched)) if matched else float("nan"),
                failed=sum(r["hits"]["random"][1] for r in records), failure_recall=failure,
                seconds_per_image=float(np.median(seconds)), ms_per_object=1000 * sum(seconds) / max(objects, 1),
                second_run_seconds=float(np.median([r["second_seconds"] for r in records])),
                second_run_encodes=sum(r["second_encodes"] for r in records),
                decoded_per_image=float(np.mean([r["decoded"] for r in records])))


def peak_rss(size: int, model_name: str, points: int, max_tiles: int = 0) -> dict:
    """Segment everything in a size² image (tiled from generated nuclei scenes) in a fresh process;
    ``max_tiles`` > 0 processes only the first tiles (the full-size arrays are still all allocated)."""
    code = f"""
import resource, time, numpy as np, torch, json
torch.set_num_threads(1)
from napari_ruac.models import load_model
from napari_ruac.everything import EverythingRun
from ruac_training.synthetic import generate_scene
tile = generate_scene("nuclei", {SEED0 + 99}, 512).image
image = np.tile(tile, ({size} // 512 + 1, {size} // 512 + 1))[:{size}, :{size}]
model = load_model("{model_name}", device="cpu")
start = time.perf_counter()
run = EverythingRun(model, image, settings={{}} if {points} is None else dict(grid=True, points_per_side={points}))
passes = run.passes()
if {max_tiles}:
    run.passes = lambda: passes[:{max_tiles}]
for _ in run:
    pass
result = run.result()
print(json.dumps(dict(seconds=time.perf_counter() - start, objects=result.count, decoded=result.decoded,
                      tiles=len(passes), tiles_run={max_tiles} or len(passes),
                      peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 images per generated set, 1024² memory run")
    parser.add_argument("--model", default="ruac-micro")
    parser.add_argument("--images", type=int, help="images per generated set (default 12; quick 2; 0: only the 3D rows)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--grid", type=int, help="also a grid of N×N clicks per tile (default: image proposals only)")
    parser.add_argument("--rss-size", type=int, help="side of the large tiled image (default 4096; quick 1024; 0: skip)")
    parser.add_argument("--rss-tiles", type=int, default=0, help="large image: process only the first N tiles (0: all)")
    parser.add_argument("--only-rss", action="store_true", help="skip the data sets; only the large-image run")
    parser.add_argument("--volumes", type=int, default=3, help="held-out generated nuclei stacks for the 3D rows (-1: no 3D rows)")
    parser.add_argument("--volume-modes", nargs="+", default=["slices", "track"], choices=["slices", "track"],
                        help="3D rows: every slice linked through z, and/or tracking from seed slices")
    parser.add_argument("--stack-time", action="store_true",
                        help="also time a generated 64×256×256 nuclei stack (issue 16's size; slices mode)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from napari_ruac.models import load_model

    model = load_model(args.model, device="cpu")
    count = args.images if args.images is not None else (2 if args.quick else 12)  # 0: the 3D rows alone
    settings = {} if args.grid is None else dict(grid=True, points_per_side=args.grid)
    print(f"# segment everything — {args.model}, {machine()}")
    summaries = []
    for name, images in ([] if args.only_rss or count == 0 else datasets(count, args.size)):
        records = [evaluate_image(model, image, truth, settings) for image, truth in images]
        summaries.append(summarise(name, records))
        s = summaries[-1]
        fr = s["failure_recall"]
        print(f"\n## {name}: {s['images']} images, {s['true']} true objects, {s['predicted']} predicted, {s['failed']} failed")
        print(f"F1@0.5 {s['f1']:.3f}  precision {s['precision']:.3f}  recall {s['recall']:.3f}  matched IoU {s['matched_iou']:.3f}")
        print("failure recall@20%: " + "  ".join(f"{k} {v:.3f}" for k, v in fr.items()))
        print(f"time: {s['seconds_per_image']:.1f} s per image (median), {s['ms_per_object']:.0f} ms per object, "
              f"{s['decoded_per_image']:.0f} prompts decoded per image; second run (grid {max(1, (args.grid or 16) // 2)}): "
              f"{s['second_run_seconds']:.1f} s, {s['second_run_encodes']} new encodes")
    volumes = []
    if args.volumes >= 0 and not args.only_rss:
        print("\n## 3D (3D IoU > 0.5: found). slices: every slice segmented, objects linked through z; "
              "track: objects found on the slices at 1/4, 1/2, 3/4 of the depth, tracked through z")
        sets = list(volume_sets(args.volumes))
        if args.stack_time:
            from ruac_training.synthetic.volumes import generate_volume

            big = generate_volume("nuclei", VOLUME_SEED + 100, shape=(64, 256, 256))
            sets.append(("generated nuclei stack 64×256×256", big.image, big.labels))
        for name, volume, truth in sets:
            for mode in args.volume_modes:
                if "64×256×256" in name and mode != "slices":
                    continue
                row = dict(dataset=name, shape=list(volume.shape), **evaluate_volume(model, volume, truth, mode))
                volumes.append(row)
                print(f"{name} {tuple(volume.shape)} [{mode}]: {row['predicted']} predicted, {row['true']} true "
                      f"({row['on_seeds']} cross a seed slice, {row['found_on_seeds']} of them found); "
                      f"3D F1@0.5 {row['f1']:.3f} (P {row['precision']:.2f} R {row['recall']:.2f}), matched 3D IoU "
                      f"{row['matched_iou']:.3f}; failure recall@20% {row['failure_recall']:.2f} of {row['failed']} "
                      f"(random {row['failure_recall_random']:.2f}); {row['seconds']:.1f} s", flush=True)
    rss_size = args.rss_size if args.rss_size is not None else (1024 if args.quick else 4096)
    memory = None
    if rss_size:
        memory = peak_rss(rss_size, args.model, args.grid, args.rss_tiles)
        print(f"\n## {rss_size}² tiled ({memory['tiles_run']} of {memory['tiles']} tiles run): peak RSS "
              f"{memory['peak_rss_mib']:.0f} MiB, {memory['seconds']:.0f} s, {memory['objects']} objects, "
              f"{memory['decoded']} prompts decoded")
    if args.json:
        Path(args.json).write_text(json.dumps(dict(summaries=summaries, volumes=volumes, memory=memory), indent=2))


if __name__ == "__main__":
    main()
