"""Training step time of RUAC with and without the attackers (goal: attacked step ≤ 1.8× clean).

    python benchmarks/bench_training.py [--image-size 256] [--batch 2] [--objects 2] [--steps 5]

Builds SAM2.1-tiny (random weights; speed does not depend on them) with the default recipe's
frozen image encoder, then times full optimizer steps (forward, backward, AdamW) on one fixed
batch of generated scenes: "clean" = the clean branch with KL and UAA (curriculum phase before
the attack), "attacked" = the full min-max step (style + deformation attackers, second encoder
pass with input gradients, attacked-branch losses). Prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from scipy import ndimage

from napari_ruac.models import load_model, resolve_device
from ruac_training.config import load_config
from ruac_training.data import to_tensors
from ruac_training.model_setup import apply_freeze, autocast_dtype, build_attackers, parameter_groups, set_train_mode
from ruac_training.step import PhaseWeights, RUACTrainingStep, StepSettings
from ruac_training.trainer import step_generator


def scene(seed: int, size: int, objects: int) -> tuple[np.ndarray, np.ndarray]:
    """A grey image with ``objects`` bright blobs, and their masks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    masks = []
    for _ in range(objects):
        r = rng.uniform(0.08, 0.18) * size
        cy, cx = rng.uniform(r, size - r, 2)
        masks.append((yy - cy) ** 2 + (xx - cx) ** 2 <= r**2)
    image = 0.2 + 0.6 * np.any(masks, axis=0) + rng.normal(0, 0.05, (size, size))
    image = np.clip(ndimage.gaussian_filter(image, 1.0), 0, 1).astype(np.float32)
    return np.repeat(image[..., None], 3, -1), np.stack(masks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="sam2.1_hiera_tiny")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2, help="images per step")
    parser.add_argument("--objects", type=int, default=2, help="objects (prompts) per image")
    parser.add_argument("--rounds", type=int, default=None, help="corrective rounds, clean branch (default: config)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"))
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. prompts.correction_rounds=0")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = list(args.overrides) + ([f"prompts.correction_rounds={args.rounds}"] if args.rounds is not None else [])
    config = load_config({"model": {"name": args.model, "pretrained": False, "image_size": args.image_size}}, overrides)
    device = resolve_device(args.device)
    dtype = autocast_dtype(args.precision, device)

    torch.manual_seed(0)
    model = load_model(args.model, device="cpu", pretrained=False, image_size=args.image_size)
    trainable = apply_freeze(model, config["model"]["freeze"])
    attackers = build_attackers(config["attack"], int(model.sam2.hidden_dim))
    model, attackers = model.to(device), attackers.to(device)
    set_train_mode(model, trainable)
    step = RUACTrainingStep(model, attackers, StepSettings.from_config(config, "image_encoder" in trainable))
    optimizer = torch.optim.AdamW(parameter_groups(model, attackers, trainable, config["optim"]))
    items = [to_tensors(*scene(i, args.image_size, args.objects), args.image_size, args.objects) for i in range(args.batch)]
    batch = {k: torch.stack([it[k] for it in items]).to(device) for k in ("image", "masks", "valid")}
    w = config["loss"]["weights"]
    phases = {
        "clean": PhaseWeights("kl", 1.0, float(w["kl"]), 0.0, float(w["uaa"]), False),
        "attacked": PhaseWeights("full", float(w["task"]), float(w["kl"]), float(w["adversarial"]), float(w["uaa"]), True),
    }

    def one_step(weights: PhaseWeights, index: int) -> tuple[float, float]:
        if device.type == "cuda":
            torch.cuda.synchronize()
        started, cpu_started = time.perf_counter(), time.process_time()
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = step(batch, weights, step_generator(0, index, 0, 0, device))
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started, time.process_time() - cpu_started

    times: dict[str, list[float]] = {name: [] for name in phases}
    cpu_times: dict[str, list[float]] = {name: [] for name in phases}
    for index in range(args.warmup):
        for weights in phases.values():
            one_step(weights, index)
    for index in range(args.steps):  # interleaved, so load changes hit both alike
        for name, weights in phases.items():
            wall, cpu = one_step(weights, index)
            times[name].append(wall)
            cpu_times[name].append(cpu)
    clean, attacked = (statistics.median(times[k]) for k in ("clean", "attacked"))
    rounds = config["prompts"]["correction_rounds"], config["prompts"]["attacked_correction_rounds"]
    print(f"device: {device} ({torch.get_num_threads()} threads)  precision: {dtype or 'fp32'}  model: {args.model} "
          f"@ {args.image_size}px  batch: {args.batch} images × {args.objects} objects  "
          f"correction rounds (clean, attacked): {rounds}  steps: {args.steps} (+{args.warmup} warm-up)")
    print(f"clean step     {clean * 1e3:9.1f} ms (median; min {min(times['clean']) * 1e3:.1f})")
    print(f"attacked step  {attacked * 1e3:9.1f} ms (median; min {min(times['attacked']) * 1e3:.1f})")
    print(f"ratio attacked/clean: {attacked / clean:.2f} (wall-clock medians)  (goal ≤ 1.8)")
    if device.type == "cpu":  # CPU time of this process: insensitive to other processes sharing the cores
        clean_cpu, attacked_cpu = (statistics.median(cpu_times[k]) for k in ("clean", "attacked"))
        print(f"CPU time: clean {clean_cpu * 1e3:.1f} ms, attacked {attacked_cpu * 1e3:.1f} ms, "
              f"ratio {attacked_cpu / clean_cpu:.2f}")


if __name__ == "__main__":
    main()
