"""VolumePredictor vs SAM2's own video propagation on the same volume, and peak memory vs depth.

1. Time: our propagation (method "sam2" and "ruac") vs SAM2VideoPredictor.propagate_in_video
   on the same preprocessed slices, as ratios from one run (goal: ruac ≤ 1.1× SAM2).
2. Memory: peak RSS of a fresh process propagating through 50 vs 200 slices, next to the bytes
   of the volume + outputs that must grow (goal: the rest does not grow with depth); the
   SAM2 video predictor is measured the same way for comparison (it keeps every slice's memory).

Usage: python benchmarks/bench_volume.py [--slices 12] [--image-size 256] [--side 128]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine  # noqa: E402


def make_volume(slices: int, side: int) -> tuple[np.ndarray, list[float]]:
    yy, xx = np.mgrid[:side, :side]
    rng = np.random.default_rng(0)
    volume = np.zeros((slices, side, side), np.uint8)
    for z in range(slices):
        r = side * (0.2 + 0.05 * np.sin(z / 5))
        disc = (yy - side * 0.45 - 0.3 * z) ** 2 + (xx - side * 0.5) ** 2 <= r**2
        volume[z] = np.clip(40 + 160 * disc + rng.normal(0, 8, disc.shape), 0, 255)
    c = side / 2
    return volume, [c - 0.25 * side, c - 0.3 * side, c + 0.25 * side, c + 0.2 * side]


def build(image_size: int):
    from napari_ruac import load_model

    torch.manual_seed(0)
    return load_model("sam2.1_hiera_tiny", device="cpu", pretrained=False, image_size=image_size)


def current_rss_mb() -> float:
    """Resident memory of this process now (Linux /proc), in MB."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_ours(model, volume, box, method, on_slice=None) -> float:
    from napari_ruac import VolumePredictor
    from napari_ruac.inference import EmbeddingCache

    predictor = VolumePredictor(model, method=method, cache=EmbeddingCache(max_bytes=0))
    start = time.perf_counter()
    result = predictor.segment(volume, {len(volume) // 2: dict(box=box)}, progress=on_slice)
    assert result.complete
    return time.perf_counter() - start


def run_reference(model, volume, box, on_slice=None) -> float:
    import sam2.sam2_video_predictor as video_module

    from napari_ruac.core.intensity import to_unit_rgb
    from napari_ruac.models.preprocess import to_model_input
    from napari_ruac.models.sam2_build import build_sam2_from_config

    video = build_sam2_from_config(model.info.sam2_config, video=True)
    video.load_state_dict(model.sam2.state_dict())
    start = time.perf_counter()
    frames = torch.cat([to_model_input(to_unit_rgb(s[..., None], (0.0, 255.0)), model.image_size) for s in volume])
    original = video_module.load_video_frames
    video_module.load_video_frames = lambda *a, **k: (frames, *volume.shape[1:])  # benchmark only: feed arrays
    try:
        state = video.init_state("in-memory")
    finally:
        video_module.load_video_frames = original
    video.add_new_points_or_box(state, len(volume) // 2, 1, box=np.array(box))
    for reverse in (False, True):
        for _ in video.propagate_in_video(state, reverse=reverse):
            if on_slice is not None:
                on_slice()
    return time.perf_counter() - start


def peak_memory_child(kind: str, slices: int, image_size: int, side: int) -> None:
    """Run in a fresh process: propagate and print the resident memory added during propagation
    (its maximum over slices, sampled after every slice, minus the memory before) as JSON."""
    model = build(image_size)
    volume, box = make_volume(slices, side)
    before = current_rss_mb()
    samples = [before]

    def sample(*_):
        samples.append(current_rss_mb())

    if kind == "ours":
        run_ours(model, volume, box, "ruac", on_slice=sample)
    else:
        run_reference(model, volume, box, on_slice=sample)
    outputs = volume.size * (1 + 4 + 4 + 4) / 2**20  # mask + labels + probability + uncertainty
    print(json.dumps(dict(peak_mb=max(samples) - before, volume_outputs_mb=outputs + volume.nbytes / 2**20)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slices", type=int, default=12)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument("--depths", type=int, nargs=2, default=[50, 200])
    parser.add_argument("--child", nargs=2, metavar=("KIND", "SLICES"), help=argparse.SUPPRESS)
    parser.add_argument("--memory-only", action="store_true", help="skip the timing part")
    args = parser.parse_args()
    if args.child:
        peak_memory_child(args.child[0], int(args.child[1]), args.image_size, args.side)
        return

    if not args.memory_only:
        timing(args)
    memory(args)


def timing(args) -> None:
    model = build(args.image_size)
    volume, box = make_volume(args.slices, args.side)
    run_ours(model, volume[:3], box, "sam2")  # warm-up
    times = {"sam2 video predictor": [], "ours, method sam2": [], "ours, method ruac": []}
    for _ in range(3):  # interleaved so load changes hit all three
        times["sam2 video predictor"].append(run_reference(model, volume, box))
        times["ours, method sam2"].append(run_ours(model, volume, box, "sam2"))
        times["ours, method ruac"].append(run_ours(model, volume, box, "ruac"))
    base = float(np.median(times["sam2 video predictor"]))
    print(f"# Volume propagation, SAM2.1-tiny (random weights) at {args.image_size} px, "
          f"{args.slices} slices of {args.side}², prompt on the middle slice")
    print(f"# machine: {machine()}")
    print(f"{'path':24s} {'median s':>9s} {'per slice ms':>13s} {'ratio':>7s}")
    for name, values in times.items():
        median = float(np.median(values))
        print(f"{name:24s} {median:9.2f} {median / args.slices * 1e3:13.0f} {median / base:7.3f}")



def memory(args) -> None:
    print(f"\n# Memory added during propagation (fresh process each, RSS sampled per slice), "
          f"{args.depths[0]} vs {args.depths[1]} slices of {args.side}²")
    print(f"{'path':24s} {'slices':>6s} {'added MB':>9s} {'volume+outputs MB':>18s}")
    rows = {}
    for kind in ("ours", "reference"):
        for depth in args.depths:
            out = subprocess.run(
                [sys.executable, __file__, "--child", kind, str(depth), "--image-size", str(args.image_size),
                 "--side", str(args.side)],
                capture_output=True, text=True, check=True,
            )
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows[(kind, depth)] = row
            name = "ours (ruac)" if kind == "ours" else "sam2 video predictor"
            print(f"{name:24s} {depth:6d} {row['peak_mb']:9.0f} {row['volume_outputs_mb']:18.1f}")
    for kind in ("ours", "reference"):
        a, b = rows[(kind, args.depths[0])], rows[(kind, args.depths[1])]
        growth = b["peak_mb"] - a["peak_mb"]
        allowed = b["volume_outputs_mb"] - a["volume_outputs_mb"]
        print(f"{kind}: memory during propagation grows {growth:.0f} MB from {args.depths[0]} to {args.depths[1]} slices; "
              f"volume + outputs grow {allowed:.0f} MB; excess {growth - allowed:.0f} MB")


if __name__ == "__main__":
    main()
