"""Zoom-in or not: IoU per object with zoom off / auto / on, by object size (share of the image area:
< 1 %, 1–5 %, > 5 %), on held-out generated scenes of 384–1024 px and on real labelled images.

Prompt: the object's tight box + 2 px (what a careful user draws), or with ``--prompt click`` one positive
click at the object's most interior pixel (auto: the whole image first, then the window around that mask;
on: the window around the click, ``min_side`` wide). Prints a markdown table and writes JSON (--out).
Usage: python benchmarks/bench_zoom.py [--model ruac-micro] [--scenes 40] [--quick] [--prompt box|click]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))

from common import machine  # noqa: E402

MODES = ("off", "auto", "on")
BINS = ((0.0, 0.01, "< 1 %"), (0.01, 0.05, "1–5 %"), (0.05, 1.01, "> 5 %"))
SEED = 7101  # held out: training configs use seeds 1–8, evaluate_micro 7001–7003


def padded_box(mask: np.ndarray, pad: float = 2.0) -> list[float]:
    from napari_ruac.core.boxes import grown_box

    return grown_box(mask, margin=0.0, min_margin=pad)  # tight box + pad px, clipped


def generated(n: int, max_objects: int):
    from ruac_training.synthetic import SyntheticDataset

    dataset = SyntheticDataset(n, seed=SEED, size_range=(384, 1024))
    for index in range(n):
        scene = dataset[index]
        ids = np.unique(scene.labels[scene.labels > 0])
        rng = np.random.default_rng([SEED, index])
        keep = rng.choice(ids, size=min(max_objects, len(ids)), replace=False) if len(ids) else []
        yield f"generated/{scene.kind}", f"{index:03d}", scene.image, scene.labels, [int(i) for i in keep]


def real(max_objects: int):
    from napari_ruac.evaluation.real_sets import RealDataMissing, dsb2018_nuclei
    from real_masks import real_images

    try:
        image, labels = dsb2018_nuclei()
        ids = np.unique(labels[labels > 0])
        yield "real/dsb2018_nuclei", "img2d", image, labels, [int(i) for i in ids[:max_objects]]
    except RealDataMissing as exc:
        print(f"(skipping DSB2018 nuclei: {exc})")
    for name, (image, labels) in real_images().items():
        ids = np.unique(labels[labels > 0])
        yield f"real/{name}", name, image, labels, [int(i) for i in ids[:max_objects]]


def most_interior_click(mask: np.ndarray) -> list[list[float]]:
    from scipy import ndimage

    depth = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return [[col + 0.5, row + 0.5]]


def measure(model, items, min_area: int = 16, prompt: str = "box") -> list[dict]:
    from napari_ruac import ImagePredictor
    from napari_ruac.core.overlap import iou

    predictors = {mode: ImagePredictor(model, zoom=mode) for mode in MODES}
    rows = []
    for dataset, name, image, labels, ids in items:
        for predictor in predictors.values():
            predictor.set_image(image)
        area_total = labels.shape[0] * labels.shape[1]
        for object_id in ids:
            truth = labels == object_id
            if truth.sum() < min_area:
                continue
            given = dict(box=padded_box(truth)) if prompt == "box" else dict(points=most_interior_click(truth), labels=[1])
            row = dict(dataset=dataset, image=name, object=object_id, share=float(truth.sum() / area_total))
            for mode, predictor in predictors.items():
                out = predictor.predict(**given)
                row[mode] = float(iou(out.mask, truth))
                row[f"{mode}_area_ratio"] = float(out.mask.sum() / truth.sum())
            rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    from scipy.stats import wilcoxon

    lines = ["| data | object size | n | IoU off | IoU auto | IoU on | auto − off (95 % CI) | median area ratio off / auto |",
             "|---|---|---|---|---|---|---|---|"]
    groups = sorted({r["dataset"].split("/")[0] for r in rows}) + sorted({r["dataset"] for r in rows if r["dataset"].startswith("real/")})
    rng = np.random.default_rng(0)
    for group in groups:
        chosen = [r for r in rows if r["dataset"] == group or r["dataset"].split("/")[0] == group]
        for low, high, label in BINS:
            part = [r for r in chosen if low <= r["share"] < high]
            if not part:
                continue
            diff = np.array([r["auto"] - r["off"] for r in part])
            boots = [rng.choice(diff, len(diff)).mean() for _ in range(1000)]
            ci = f"{diff.mean():+.3f} ({np.percentile(boots, 2.5):+.3f}, {np.percentile(boots, 97.5):+.3f})"
            if len(part) >= 6 and np.any(diff != 0):
                ci += f", p={wilcoxon(diff).pvalue:.2g}"
            lines.append(
                f"| {group} | {label} | {len(part)} | {np.mean([r['off'] for r in part]):.3f} | "
                f"{np.mean([r['auto'] for r in part]):.3f} | {np.mean([r['on'] for r in part]):.3f} | {ci} | "
                f"{np.median([r['off_area_ratio'] for r in part]):.2f} / {np.median([r['auto_area_ratio'] for r in part]):.2f} |"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="ruac-micro")
    parser.add_argument("--scenes", type=int, default=40, help="generated scenes (384–1024 px)")
    parser.add_argument("--objects", type=int, default=8, help="objects per generated scene")
    parser.add_argument("--real-objects", type=int, default=200, help="objects per real image")
    parser.add_argument("--quick", action="store_true", help="6 scenes, 20 objects per real image")
    parser.add_argument("--prompt", choices=("box", "click"), default="box",
                        help="tight box + 2 px (default) or one click at the most interior pixel")
    parser.add_argument("--out", default=None, help="JSON file for the per-object rows")
    args = parser.parse_args(argv)
    if args.quick:
        args.scenes, args.real_objects = 6, 20
    import torch

    from napari_ruac import load_model

    torch.set_num_threads(max(1, torch.get_num_threads()))
    warnings.filterwarnings("ignore", message="box .* extends past")
    model = load_model(args.model, device="cpu")
    started = time.time()
    rows = measure(model, list(generated(args.scenes, args.objects)) + list(real(args.real_objects)), prompt=args.prompt)
    what = "tight box + 2 px" if args.prompt == "box" else "one click at the most interior pixel"
    print(f"# zoom-in: IoU per object, model {model.info.name}, {what}\n")
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {machine()}, {time.time() - started:.0f} s\n")
    print(table(rows))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
