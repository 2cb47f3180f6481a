"""What an untrained RUAC head adds over SAM2's entropy (issue 13 §2).

Every SAM2.1 checkpoint gets the RUAC Weibull head at *parity initialisation*: its mean logit is
SAM2's logit exactly, and its Weibull shapes start near k = 6 everywhere. Until the head is
trained on the user's data, its variance is a fixed function of SAM2's features. This measures what
that untrained variance adds over the binary entropy of SAM2's own probability (method ``sam2``),
beside the trained head of the shipped ruac-micro, on the same objects:

- ``micro (trained head)``: the shipped ruac-micro;
- ``micro (parity head)``: the same SAM2 weights with a freshly initialised head (what a user gets
  when they put RUAC on a trained SAM2 without training the head);
- ``sam2.1-tiny random (parity head)``: the SAM2.1-tiny architecture with random weights at 256 px
  (no SAM2.1 weights can be downloaded here; its masks are poor, the comparison is map vs map).

Data: held-out *shifted* generated scenes (seeds 990001…), box prompts from the true masks.
Metrics (napari_ruac.metrics): interior AUROC (errors beyond a 2-px band of the true boundary),
object ρ (Spearman of the object score against 1 − IoU) and the failed-object AUROC.

    OMP_NUM_THREADS=1 python benchmarks/bench_parity_head.py [--scenes 16] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))

from common import machine  # noqa: E402

KINDS = ("nuclei", "cells", "shapes", "ct")


def parity_copy(model):
    """The same model with a freshly initialised (parity) head."""
    import copy

    from napari_ruac.models.loading import _new_head

    fresh = copy.deepcopy(model)
    fresh.head = _new_head(model.head.config(), None).to(model.device)
    return fresh


def scenes(count: int, seed0: int = 990001):
    from ruac_training.synthetic.scenes import generate_scene

    for i in range(count):
        scene = generate_scene(KINDS[i % len(KINDS)], seed0 + i, size=256, shifted=True)
        yield scene.image, scene.labels


def measure(model, data, min_area: int = 30) -> dict[str, dict[str, float]]:
    from napari_ruac.core import tight_box
    from napari_ruac.inference import ImagePredictor
    from napari_ruac.metrics import evaluate
    from napari_ruac.metrics.object_level import failed_object_auroc, object_spearman

    rows = {m: {"interior_auroc": [], "score": []} for m in ("ruac", "sam2")}
    ious = []
    predictors = {m: ImagePredictor(model, method=m, zoom="off") for m in rows}
    for image, labels in data:
        for predictor in predictors.values():
            predictor.set_image(image)
        for object_id in range(1, int(labels.max()) + 1):
            target = labels == object_id
            if target.sum() < min_area:
                continue
            box = tight_box(target)
            for method, predictor in predictors.items():
                prediction = predictor.predict(box=box)
                metrics = evaluate(prediction.probability, prediction.uncertainty, target, prediction.mask)
                rows[method]["interior_auroc"].append(metrics["interior_auroc"])
                rows[method]["score"].append(metrics["object_score"])
                if method == "ruac":
                    ious.append(metrics["iou"])
    out = {}
    for method, values in rows.items():
        out[method] = dict(
            interior_auroc=float(np.nanmean(values["interior_auroc"])),
            object_rho=float(object_spearman(values["score"], ious)),
            failed_auroc=float(failed_object_auroc(values["score"], ious)),
        )
    out["objects"] = len(ious)
    out["miou"] = float(np.mean(ious))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=16)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    import torch

    from napari_ruac.models import load_model

    torch.manual_seed(0)
    micro = load_model("ruac-micro", device="cpu")
    random_tiny = load_model("sam2.1_hiera_tiny", device="cpu", pretrained=False, image_size=256)
    models = {
        "micro (trained head)": micro,
        "micro (parity head)": parity_copy(micro),
        "sam2.1-tiny random (parity head)": random_tiny,
    }
    print(machine())
    results = {}
    print("| model | objects | mIoU | map | interior AUROC | object ρ | failed-object AUROC |")
    print("|---|---:|---:|---|---:|---:|---:|")
    for name, model in models.items():
        result = measure(model, list(scenes(args.scenes)))
        results[name] = result
        for method in ("ruac", "sam2"):
            r = result[method]
            label = "RUAC variance" if method == "ruac" else "SAM2 entropy"
            print(f"| {name} | {result['objects']} | {result['miou']:.3f} | {label} | {r['interior_auroc']:.3f} | "
                  f"{r['object_rho']:.2f} | {r['failed_auroc']:.2f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
