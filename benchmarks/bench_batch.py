"""Batch throughput: volumes/hour of ``run_batch`` in this process (torch's default threads, then 1 thread)
and the speed-up from a 2-worker Dask LocalCluster (1 thread per worker).

    python benchmarks/bench_batch.py                      # 4 volumes of 8×128×128, SAM2.1-tiny at 1024 px
    python benchmarks/bench_batch.py --image-size 256     # quicker on a small shared CPU

All runs use the same inputs, prompts and model (SAM2.1-tiny architecture, random weights: the
speed is that of the real network) and are timed end to end in the same invocation: model
loading, Dask cluster start-up and writing the outputs included. On a loaded machine a process with
several torch threads can be slower than one with a single thread (oversubscription), hence both.
The load average is printed: on a shared machine it changes the numbers more than anything else.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from napari_ruac.batch import ModelSpec, read_report, run_batch
from napari_ruac.core.boxes import box_on_largest_slice
from napari_ruac.io import write_image
from napari_ruac.samples import nuclei_stack


def write_inputs(folder: Path, volumes: int, shape: tuple[int, int, int], objects: int) -> Path:
    """Seeded nuclei stacks as TIFF and a prompt file boxing the largest nuclei on their largest slice."""
    folder.mkdir(parents=True)
    prompts = {}
    for index in range(volumes):
        sample = nuclei_stack(seed=index, shape=shape)
        name = f"stack_{index:02d}.tif"
        write_image(folder / name, sample.image, spacing=sample.spacing, unit=sample.unit, kind="image")
        ids, sizes = np.unique(sample.labels[sample.labels > 0], return_counts=True)
        prompts[name] = []
        for object_id in ids[np.argsort(-sizes)][:objects]:
            z, box = box_on_largest_slice(sample.labels == object_id)
            prompts[name].append({"object": int(object_id), "slice": z, "box": box})
    path = folder.parent / "prompts.json"
    path.write_text(json.dumps(prompts))
    return path


def timed(label: str, **kwargs) -> tuple[float, list[dict]]:
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    summary = run_batch(**kwargs)
    seconds = time.perf_counter() - started
    if summary.failed:
        raise RuntimeError(f"{label}: {summary.failed} volumes failed: {summary.failures}")
    rows = read_report(kwargs["out_dir"])
    per_volume = {r["volume"]: float(r["seconds"]) for r in rows}
    print(
        f"{label:<24s} {seconds:7.1f} s  {3600 * summary.ok / seconds:7.1f} volumes/hour   "
        f"per volume {np.mean(list(per_volume.values())):5.1f} s   "
        f"load avg {load_before:.1f} → {os.getloadavg()[0]:.1f}"
    )
    return seconds, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", type=int, default=4)
    parser.add_argument("--slices", type=int, default=8)
    parser.add_argument("--size", type=int, default=128, help="in-plane size of each volume (pixels)")
    parser.add_argument("--objects", type=int, default=1, help="objects tracked per volume")
    parser.add_argument("--image-size", type=int, default=1024, help="model input size (SAM2.1's own is 1024)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    spec = ModelSpec("sam2.1_hiera_tiny", device="cpu", pretrained=False, image_size=args.image_size)
    shape = (args.slices, args.size, args.size)
    print(
        f"{args.volumes} volumes of {shape[0]}×{shape[1]}×{shape[2]} (z×y×x, uint16 TIFF), "
        f"{args.objects} object(s) each; "
        f"SAM2.1-tiny (random weights) at {args.image_size} px, method ruac, CPU: {os.cpu_count()} cores, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads in this process"
    )
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        prompts = write_inputs(root / "inputs", args.volumes, shape, args.objects)
        common = dict(inputs=root / "inputs", prompts=prompts, model=spec)
        threads = torch.get_num_threads()
        local, _ = timed(f"this process, {threads} threads", out_dir=root / "local", **common)
        torch.set_num_threads(1)
        single, _ = timed("this process, 1 thread", out_dir=root / "local_1", **common)
        torch.set_num_threads(threads)
        dask, _ = timed(
            f"Dask, {args.workers} workers × 1 thread", out_dir=root / "dask", scheduler="local",
            workers=args.workers, threads_per_worker=1, **common,
        )  # fmt: skip
    print(f"speed-up from {args.workers} Dask workers (end-to-end wall time, this process / Dask): "
          f"{local / dask:.2f}× vs {threads} threads, {single / dask:.2f}× vs 1 thread")


if __name__ == "__main__":
    main()
