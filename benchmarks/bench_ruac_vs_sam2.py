"""RUAC (analytic, one pass) vs plain SAM2 on SAM2.1-tiny at 1024²: set_image + predict, and
decoder-only predict, as ratios measured in the same run; ruac-mc(20) for comparison.

Goals (issue 2): ruac ≤ 1.05× SAM2 end to end, ≤ 1.2× decoder-only.
Usage: python benchmarks/bench_ruac_vs_sam2.py [--device cuda] [--repeats 7]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from sam2.sam2_image_predictor import SAM2ImagePredictor
from skimage import data, transform

sys.path.insert(0, str(Path(__file__).parent))
from common import interleaved, machine  # noqa: E402

from napari_ruac import ImagePredictor, load_model  # noqa: E402
from napari_ruac.inference import EmbeddingCache  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, default=1024, help="input image side")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = load_model("sam2.1_hiera_tiny", device=args.device, pretrained=False)
    image = (transform.resize(data.astronaut(), (args.size, args.size)) * 255).astype(np.uint8)
    box = np.array([0.2, 0.15, 0.7, 0.8]) * args.size

    plain = SAM2ImagePredictor(model.sam2)
    ruac = ImagePredictor(model, method="ruac", cache=EmbeddingCache(max_bytes=0))  # no cache: re-encode
    mc = ImagePredictor(model, method="ruac-mc", num_samples=20, cache=EmbeddingCache(max_bytes=0))
    hyp = ImagePredictor(model, method="ruac-hyp", cache=EmbeddingCache(max_bytes=0))  # the library's default

    def plain_full():
        with torch.no_grad():
            plain.set_image(image)
            return plain.predict(box=box, multimask_output=False)

    def ruac_full():
        ruac.set_image(image)
        return ruac.predict(box=box)

    plain.set_image(image)
    ruac.set_image(image)
    mc.set_image(image)
    hyp.set_image(image)
    decoder = interleaved(
        {
            "sam2 predict": lambda: plain.predict(box=box, multimask_output=False),
            "ruac predict": lambda: ruac.predict(box=box),
            "ruac-hyp predict": lambda: hyp.predict(box=box),
            "ruac-mc(20) predict": lambda: mc.predict(box=box),
        },
        repeats=args.repeats * 3,
    )
    full = interleaved({"sam2 set_image+predict": plain_full, "ruac set_image+predict": ruac_full}, repeats=args.repeats)

    print(f"# RUAC vs SAM2, SAM2.1-tiny (random weights), {args.size}² image, {model.device}")
    print(f"# machine: {machine()}")
    print(f"{'path':28s} {'median ms':>10s} {'ratio vs sam2':>14s}")
    for name, seconds in full.items():
        print(f"{name:28s} {seconds * 1e3:10.1f} {seconds / full['sam2 set_image+predict']:14.3f}")
    for name, seconds in decoder.items():
        print(f"{name:28s} {seconds * 1e3:10.1f} {seconds / decoder['sam2 predict']:14.3f}")
    end_to_end = full["ruac set_image+predict"] / full["sam2 set_image+predict"]
    decoder_only = decoder["ruac predict"] / decoder["sam2 predict"]
    print(f"goal end-to-end ≤ 1.05×: {end_to_end:.3f}× {'OK' if end_to_end <= 1.05 else 'MISSED'}")
    print(f"goal decoder-only ≤ 1.20×: {decoder_only:.3f}× {'OK' if decoder_only <= 1.2 else 'MISSED'}")


if __name__ == "__main__":
    main()
