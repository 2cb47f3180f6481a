"""Train the video-memory path of a micro model (memory encoder, memory attention, object pointers)
on synthetic z-stacks, so that ``VolumePredictor`` propagates a prompted object through slices.

``ruac-train`` trains single images only; SAM2's memory modules would otherwise keep their random
initialisation. Everything the image path uses (encoder, prompt encoder, mask decoder, RUAC head)
stays frozen, so the single-image model — and every number measured on it — is unchanged. Each step
takes one generated volume (``ruac_training.synthetic.generate_volume``, nuclei or CT), prompts up to
two objects with their ground-truth box on one slice, tracks them ``--frames`` slices up or down with
exactly the inference code (``napari_ruac.inference.volume_tracking.track_frame``), and applies SAM2's
losses (focal 20 + dice 1 on the selected mask where the object is present, object-score BCE) on
every propagated slice.

    python scripts/train_micro_memory.py MODEL.json --out runs/micro_memory [--steps 1500]

Writes ``OUT/memory.safetensors`` (the memory modules only; ``scripts/ship_micro.py --memory`` merges
them) and ``OUT/log.txt``; ``--evaluate N`` reports the propagation IoU on N held-out volumes.
"""

from __future__ import annotations

import argparse
import warnings
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from napari_ruac.core.boxes import tight_box

MEMORY_PREFIXES = ("memory_encoder", "memory_attention", "obj_ptr_proj", "obj_ptr_tpos_proj", "maskmem_tpos_enc",
                   "no_mem_pos_enc", "no_obj_ptr", "no_obj_embed_spatial", "mask_downsample")
warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad")  # track_frame's float(iou)
TRAIN_SEED, EVAL_SEED = 50_000, 90_000  # volume seeds: training counts up from one, evaluation from the other


class Capture:
    """A one-pass 'method' for track_frame that keeps the selected mask (with its graph) for the loss."""

    def __init__(self) -> None:
        self.selected = None

    def apply(self, model, selected, options):
        self.selected = selected
        probability = torch.sigmoid(selected.logit.float())
        return selected.logit, probability, torch.zeros_like(probability)


def memory_parameters(model) -> list[torch.nn.Parameter]:
    """Freeze everything, then unfreeze SAM2's video-memory modules; returns those parameters."""
    for p in model.parameters():
        p.requires_grad_(False)
    params = []
    for name, p in model.sam2.named_parameters():
        if name.split(".")[0] in MEMORY_PREFIXES:
            p.requires_grad_(True)
            params.append(p)
    return params


def memory_state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.sam2.state_dict().items() if k.split(".")[0] in MEMORY_PREFIXES}


def pick_run(labels: np.ndarray, rng: np.random.Generator, frames: int) -> tuple[int, int, list[int]] | None:
    """(object id, prompt slice, slices in tracking order) for a random object that is large on the prompt slice."""
    ids = [i for i in np.unique(labels) if i]
    rng.shuffle(ids)
    for object_id in ids:
        areas = (labels == object_id).sum(axis=(1, 2))
        candidates = np.nonzero(areas >= max(40, 0.4 * areas.max()))[0]
        if len(candidates) == 0:
            continue
        z = int(rng.choice(candidates))
        step = 1 if rng.random() < 0.5 else -1
        slices = [z + step * k for k in range(frames) if 0 <= z + step * k < labels.shape[0]]
        if len(slices) >= 3:
            return int(object_id), z, slices
    return None


def track_sequence(model, predictor, volume: np.ndarray, labels: np.ndarray, object_id: int, slices: list[int],
                   value_range, jitter: np.ndarray | None = None):
    """Track one object along ``slices`` (the first is prompted); returns [(selected, target mask)] per slice."""
    from napari_ruac.inference.volume_tracking import track_frame
    from napari_ruac.uq import MethodOptions

    box = tight_box(labels[slices[0]] == object_id)
    if jitter is not None:
        box = list(np.clip(np.asarray(box) + jitter, 0, [labels.shape[2], labels.shape[1]] * 2))
    track = predictor._make_track(object_id, {slices[0]: {"box": box}}, volume.shape)
    capture, outputs = Capture(), []
    reverse = slices[-1] < slices[0]
    for index, z in enumerate(slices):
        with torch.no_grad():
            features = predictor._slice_features(volume[z], value_range)
        track_frame(model, capture, MethodOptions(), track, z, features, volume.shape[0], reverse, index == 0)
        outputs.append((capture.selected, labels[z] == object_id))
    return outputs


def sequence_loss(outputs, low: int) -> tuple[torch.Tensor, float]:
    """SAM2's losses on the propagated slices; returns (loss, mean IoU where the object is present)."""
    from ruac_training.losses.task import dice_loss, focal_loss

    losses, ious = [], []
    for selected, truth in outputs[1:]:
        target = torch.from_numpy(truth.astype(np.float32))[None, None]
        target = F.interpolate(target, size=(low, low), mode="area")[0]
        logit = selected.logit.float()
        present = float(truth.any())
        score = F.binary_cross_entropy_with_logits(selected.object_score.float(), torch.full_like(selected.object_score.float(), present))
        loss = score
        if present:
            loss = loss + 20 * focal_loss(logit[:, None], target[:, None], 0.25, 2.0).mean() + dice_loss(logit[:, None], target[:, None]).mean()
            with torch.no_grad():
                predicted, truth_low = logit > 0, target > 0.5
                ious.append(float((predicted & truth_low).sum() / (predicted | truth_low).sum().clamp_min(1)))
        losses.append(loss)
    return torch.stack(losses).mean(), float(np.mean(ious)) if ious else float("nan")


def volume_for(seed: int):
    """A generated nuclei (even seeds) or CT (odd) volume as (Z, Y, X, C) slices, labels, value range."""
    from napari_ruac.inference import VolumePredictor
    from ruac_training.synthetic import generate_volume

    scene = generate_volume(("nuclei", "ct")[seed % 2], seed)
    low, high = np.percentile(scene.image, (0.5, 99.5))
    return VolumePredictor._check_volume(scene.image), scene.labels, (float(low), float(high))


@torch.no_grad()
def evaluate(model, volumes: int, frames: int, seed: int = EVAL_SEED) -> float:
    """Mean IoU of propagated slices (full tracks of ``frames`` slices from a GT box) on held-out volumes."""
    from napari_ruac.inference import VolumePredictor

    predictor = VolumePredictor(model, method="sam2")
    rng = np.random.default_rng(seed)
    ious = []
    for index in range(volumes):
        volume, labels, value_range = volume_for(seed + index)
        for _ in range(2):
            run = pick_run(labels, rng, frames)
            if run is None:
                continue
            object_id, _, slices = run
            outputs = track_sequence(model, predictor, volume, labels, object_id, slices, value_range)
            ious.append(sequence_loss(outputs, model.low_res_size)[1])
    return float(np.nanmean(ious))


def train(model_path: str, out: Path, steps: int, frames: int, lr: float, seed: int, log_every: int, evaluate_volumes: int) -> Path:
    from safetensors.torch import save_file

    from napari_ruac.inference import VolumePredictor
    from napari_ruac.models import load_model

    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "log.txt").open("a")

    def say(text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {text}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    model = load_model(model_path, device="cpu")
    params = memory_parameters(model)
    say(f"training {sum(p.numel() for p in params) / 1e6:.2f} M memory parameters for {steps} steps, {frames} slices per track")
    if evaluate_volumes:
        say(f"propagation IoU before training: {evaluate(model, evaluate_volumes, frames):.3f}")
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    predictor = VolumePredictor(model, method="sam2")
    rng = np.random.default_rng(seed)
    warmup = max(1, steps // 20)
    running_loss, running_iou, started = [], [], time.perf_counter()
    volume = labels = value_range = None
    model.eval()
    for name in ("memory_encoder", "memory_attention"):  # dropout on in the trained modules only
        getattr(model.sam2, name).train()
    for step in range(steps):
        if step % 4 == 0:  # a fresh volume every 4 steps (rendering one costs about half a second)
            volume, labels, value_range = volume_for(TRAIN_SEED + seed * 100_000 + step // 4)
        factor = (step + 1) / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))
        for group in optimizer.param_groups:
            group["lr"] = lr * max(factor, 0.02)
        optimizer.zero_grad(set_to_none=True)
        total = []
        for _ in range(2):
            run = pick_run(labels, rng, frames)
            if run is None:
                continue
            object_id, _, slices = run
            jitter = rng.uniform(-3, 3, 4)  # a slightly noisy prompt box, as users draw them
            outputs = track_sequence(model, predictor, volume, labels, object_id, slices, value_range, jitter)
            loss, iou = sequence_loss(outputs, model.low_res_size)
            total.append(loss)
            running_iou.append(iou)
        if not total:
            continue
        loss = torch.stack(total).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        running_loss.append(float(loss))
        if (step + 1) % log_every == 0:
            say(f"step {step + 1}/{steps} loss {np.mean(running_loss):.4f} propagated IoU {np.nanmean(running_iou):.3f} "
                f"({(time.perf_counter() - started) / (step + 1):.2f} s/step)")
            running_loss, running_iou = [], []
            save_file(memory_state(model), str(out / "memory.safetensors"))
    model.eval()
    save_file(memory_state(model), str(out / "memory.safetensors"))
    if evaluate_volumes:
        say(f"propagation IoU after training: {evaluate(model, evaluate_volumes, frames):.3f}")
    return out / "memory.safetensors"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="the micro model (.json export or training checkpoint)")
    parser.add_argument("--out", default="runs/micro_memory")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--frames", type=int, default=5, help="slices per track (the first is prompted)")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--evaluate", type=int, default=12, help="held-out volumes for the propagation IoU (0: skip)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    train(args.model, Path(args.out), args.steps, args.frames, args.lr, args.seed, args.log_every, args.evaluate)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
