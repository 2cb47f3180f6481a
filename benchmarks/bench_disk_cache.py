"""Second vs first segmentation of a volume from the on-disk embedding cache (issue 17 §4).

First run: an empty cache folder (every slice is encoded and written); second run: a fresh
``EmbeddingCache`` (a new session: nothing in memory) reading every slice from disk. Both
propagate the same box through the whole volume; the masks must agree.

    python benchmarks/bench_disk_cache.py                 # ruac-micro, 64 slices of 128²
    python benchmarks/bench_disk_cache.py --model sam2.1_hiera_tiny --random-weights --size 256
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch
from common import machine

from napari_ruac.inference import VolumePredictor
from napari_ruac.inference.embedding_cache import disk_cache
from napari_ruac.models import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ruac-micro")
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--slices", type=int, default=64)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="16 slices of 96² (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.slices, args.size = 16, 96
    model = load_model(args.model, device=args.device, pretrained=not args.random_weights)
    rng = np.random.default_rng(0)
    volume = rng.normal(50, 10, (args.slices, args.size, args.size)).astype(np.float32)
    low, high = args.size * 3 // 10, args.size * 6 // 10
    volume[:, low:high, low:high] += 100
    prompt = {args.slices // 2: dict(box=[low - 2, low - 2, high + 2, high + 2])}
    folder = tempfile.mkdtemp(prefix="ruac-disk-cache-")
    times, results = [], []
    for _ in range(2):
        cache = disk_cache(folder, "volume", model, volume, None, volume=True)  # a new session each time
        started = time.perf_counter()
        results.append(VolumePredictor(model, cache=cache).segment(volume, prompt))
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    same = bool((results[0].mask == results[1].mask).all())
    print(machine())
    print(f"model {args.model}, {args.slices} slices of {args.size}², disk reads in the second run: {cache.disk.reads}")
    print(f"first (encode + write): {times[0]:.2f} s   second (from disk): {times[1]:.2f} s   "
          f"ratio first/second: {times[0] / times[1]:.2f}×   masks identical: {same}")  # fmt: skip


if __name__ == "__main__":
    main()
