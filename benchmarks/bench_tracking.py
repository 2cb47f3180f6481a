"""Tracking through z from one box: 3D IoU per object for each tracking variant against the per-slice
true-box oracle (every slice prompted with its own true box + 2 px), on held-out generated stacks, the
bundled demo samples and the StarDist 3D nuclei.

The single box is the object's tight box + 2 px on its largest slice (what `make demo` does). The
variants: SAM2 video memory, box projection as shipped before (no mask prompt, no patience, the three
old rules) and projection with the current rules (TrackingRules defaults), each with zoom auto.
Usage: python benchmarks/bench_tracking.py [--model ruac-micro] [--stacks 8] [--objects 4] [--quick]
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

from common import machine  # noqa: E402

SEED = 7201  # held out: the generated training stacks use other seeds
OLD_RULES = dict(mask_prompt=False, patience=0, max_total_growth=1e9, max_fill=1.0, min_object_score=-1e9, min_contrast=0.0,
                 handover_area=0.0)


def padded_box(mask: np.ndarray, pad: float = 2.0) -> list[float]:
    from napari_ruac.core.boxes import grown_box

    return grown_box(mask, margin=0.0, min_margin=pad)  # tight box + pad px, clipped


def largest(labels: np.ndarray, count: int, min_voxels: int = 30) -> list[int]:
    ids, sizes = np.unique(labels[labels > 0], return_counts=True)
    order = [int(i) for i in ids[np.argsort(-sizes)] if sizes[list(ids).index(i)] >= min_voxels]
    return order[:count]


def volumes(stacks: int, objects: int, include_real: bool = True):
    from napari_ruac.samples import ct_phantom, nuclei_stack
    from ruac_training.synthetic.volumes import generate_volume

    stack, ct = nuclei_stack(seed=0), ct_phantom(seed=0)
    yield "demo/nuclei_stack", stack.image, stack.labels, None, largest(stack.labels, 2)
    yield "demo/ct_phantom", ct.image, ct.labels, ct.window, largest(ct.labels, 2)
    for index in range(stacks):
        kind = ("nuclei", "ct")[index % 2]
        scene = generate_volume(kind, SEED + index)
        window = (-160, 240) if kind == "ct" else None
        yield f"generated/{kind}", scene.image, scene.labels, window, largest(scene.labels, objects)
    if include_real:
        from napari_ruac.evaluation.real_sets import RealDataMissing, stardist_nuclei_3d

        try:
            image, labels = stardist_nuclei_3d()
            yield "real/stardist_nuclei_3d", image, labels, None, largest(labels, objects)
        except RealDataMissing as exc:
            print(f"(skipping the StarDist 3D stack: {exc})")


def iou3d(a: np.ndarray, b: np.ndarray) -> float:
    from napari_ruac.core.overlap import iou

    return float(iou(a, b, empty=1.0))


def oracle(model, image: np.ndarray, truth: np.ndarray, window) -> np.ndarray:
    """The per-slice true-box oracle: every slice that holds the object, prompted with its own true box."""
    from napari_ruac import ImagePredictor
    from napari_ruac.models.preprocess import Intensity

    predictor = ImagePredictor(model, intensity=window)
    value_range = Intensity.parse(window).value_range(image)
    out = np.zeros(truth.shape, bool)
    for k in np.nonzero(truth.any(axis=(1, 2)))[0]:
        predictor.set_image(image[k], value_range=value_range)
        out[k] = predictor.predict(box=padded_box(truth[k])).mask
    return out


def run(model, variants: dict, items) -> list[dict]:
    from napari_ruac import VolumePredictor

    rows = []
    for dataset, image, labels, window, ids in items:
        for object_id in ids:
            truth = labels == object_id
            z = int(np.argmax(truth.reshape(truth.shape[0], -1).sum(axis=1)))
            row = dict(dataset=dataset, object=object_id, slices=int(truth.any(axis=(1, 2)).sum()))
            for name, options in variants.items():
                predictor = VolumePredictor(model, intensity=window, **options)
                started = time.perf_counter()
                if name == "oracle":  # each slice of the object from its own true box; no slice beyond it
                    predicted = oracle(model, image, truth, window)
                else:
                    predicted = predictor.segment(image, {z: dict(box=padded_box(truth[z]))}).mask
                row[name] = iou3d(predicted, truth)
                row[f"{name}_seconds"] = time.perf_counter() - started
            rows.append(row)
            print(dataset, object_id, {k: round(v, 3) for k, v in row.items() if isinstance(v, float) and "seconds" not in k},
                  flush=True)
    return rows


def table(rows: list[dict], names: list[str]) -> str:
    lines = ["| data | objects | " + " | ".join(names) + " | best single box / oracle |",
             "|---|---|" + "---|" * len(names) + "---|"]
    for dataset in sorted({r["dataset"] for r in rows}):
        part = [r for r in rows if r["dataset"] == dataset]
        means = {n: np.mean([r[n] for r in part]) for n in names}
        best = max((v for n, v in means.items() if n != "oracle"), default=float("nan"))
        ratio = best / means["oracle"] if means.get("oracle") else float("nan")
        lines.append(f"| {dataset} | {len(part)} | " + " | ".join(f"{means[n]:.3f}" for n in names) + f" | {ratio:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="ruac-micro")
    parser.add_argument("--stacks", type=int, default=8, help="held-out generated stacks (nuclei and CT alternate)")
    parser.add_argument("--objects", type=int, default=4, help="largest objects per stack")
    parser.add_argument("--variants", default="memory,projection-old,projection,oracle")
    parser.add_argument("--quick", action="store_true", help="2 stacks, 2 objects each")
    parser.add_argument("--out", default=None, help="JSON file for the per-object rows")
    args = parser.parse_args(argv)
    if args.quick:
        args.stacks, args.objects = 2, 2
    from napari_ruac import load_model

    warnings.filterwarnings("ignore", message="box .* extends past")
    model = load_model(args.model, device="cpu")
    every = {
        "memory": dict(tracking="memory"),
        "projection-old": dict(tracking="projection", tracking_rules=OLD_RULES, zoom="off"),
        "projection-nofade": dict(tracking="projection", tracking_rules=dict(min_contrast=0.0)),
        "projection-nohandover": dict(tracking="projection", tracking_rules=dict(handover_area=0.0)),
        "projection": dict(tracking="projection"),
        "oracle": dict(tracking="projection"),
    }
    variants = {name: every[name] for name in args.variants.split(",")}
    started = time.time()
    rows = run(model, variants, volumes(args.stacks, args.objects))
    print(f"\n# single-box 3D IoU, model {model.info.name}\n\n{time.strftime('%Y-%m-%d %H:%M')}, {machine()}, "
          f"{time.time() - started:.0f} s\n")
    print(table(rows, list(variants)))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
