"""The RUAC trainer: set-up from a config, a training loop that is a generator of progress events,
periodic atomic checkpoints with everything needed for an exact resume, validation, TensorBoard.

    trainer = Trainer(load_config("run.yaml"))
    for event in trainer.iter_train():      # the CLI wraps this in a tqdm bar
        ...
"""

from __future__ import annotations

import inspect
import logging
import os
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from napari_ruac.models import resolve_device

from . import checkpointing as ckpt
from .config import ConfigError, save_config
from .data import build_clip_datasets, build_datasets, build_loader
from .distributed import all_reduce_sum, barrier, device_for_rank, init_distributed
from .model_setup import (
    apply_freeze, autocast_dtype, build_attackers, build_training_model, parameter_groups, set_train_mode,
)
from .memory_step import MemorySettings, MemoryTrainingStep, validate_memory
from .schedule import apply_lr, lr_factor
from .step import LOG_KEYS, PhaseWeights, RUACTrainingStep, StepSettings, phase_weights
from .tensorboard import Board
from .validation import validate

log = logging.getLogger("ruac_training")
MEMORY_PHASE = PhaseWeights("memory", 1.0, 0.0, 0.0, 0.0, False)
# DDP's note that a 1×1 conv's gradient has other strides than its bucket view: harmless, and noisy
warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")


@dataclass
class Progress:
    """What the loop reports: ``event`` is step, validation, checkpoint, done or stopped."""

    event: str
    step: int
    total_steps: int
    epoch: int
    phase: str = ""
    values: dict[str, float] = field(default_factory=dict)
    path: Path | None = None


def step_generator(seed: int, step: int, micro: int, rank: int, device: torch.device) -> torch.Generator:
    """The generator of one micro-batch's prompts and Weibull samples: a function of the position
    in training only, so a resumed run draws exactly what the uninterrupted run drew."""
    state = int(np.random.SeedSequence([seed, step, micro, rank]).generate_state(1, np.uint64)[0] >> 1)
    generator = torch.Generator(device=device if device.type != "mps" else "cpu")
    generator.manual_seed(state)
    return generator


def _no_buffer_sync() -> dict:
    """SAM2's buffers are constants: skip DDP's per-forward buffer broadcast (keyword renamed in torch 2.14)."""
    params = inspect.signature(DistributedDataParallel.__init__).parameters
    return {"forward_sync_buffers": False} if "forward_sync_buffers" in params else {"broadcast_buffers": False}


class Trainer:
    """Everything a run needs, built once; ``iter_train`` runs (or resumes) it."""

    def __init__(self, config: dict, resume: bool = False) -> None:
        self.config = config
        run = config["run"]
        self.run_dir = Path(run["dir"])
        self.checkpoint_dir = self.run_dir / "checkpoints"
        self.seed = int(run["seed"])
        if run.get("cpu_threads"):
            torch.set_num_threads(int(run["cpu_threads"]))
        if run.get("deterministic"):
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        requested = resolve_device(run.get("device"))
        dist_cfg = config["distributed"]
        self.dist = init_distributed(requested, dist_cfg["backend"], dist_cfg["timeout_minutes"])
        self.device = device_for_rank(requested, self.dist.local_rank)
        self.autocast = autocast_dtype(run["precision"], self.device)
        self._stop = False
        self._build(config)
        self.step = 0
        self.best: dict = {"metric": config["val"]["metric"], "value": None, "step": None}
        if resume:
            self._restore()
        elif self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(config, self.run_dir / "config.yaml")
        self.board = Board(self.run_dir / "tensorboard", self.dist.is_main, purge_step=self.step if resume else None)
        if self.dist.is_main:
            self._log_to_file()

    # ---- set-up ------------------------------------------------------------------------------
    def _build(self, config: dict) -> None:
        torch.manual_seed(self.seed)  # identical random initialisation on every rank
        model = build_training_model(config["model"])
        self.memory_mode = config["train"].get("mode", "image") == "memory"
        self.trainable = apply_freeze(model, config["model"].get("freeze") or [], memory=self.memory_mode)
        # memory mode: SAM2's video path on clips (memory_step.py); no attackers, no UAA game
        attackers = nn.ModuleDict() if self.memory_mode else build_attackers(config["attack"], feature_dim=int(model.sam2.hidden_dim))
        self.model, self.attackers = model.to(self.device), attackers.to(self.device)
        encoder_trainable = "image_encoder" in self.trainable
        if self.memory_mode:
            self.step_module = MemoryTrainingStep(self.model, MemorySettings.from_config(config, encoder_trainable))
        else:
            self.step_module = RUACTrainingStep(self.model, self.attackers, StepSettings.from_config(config, encoder_trainable))
        use_ddp = self.dist.world_size > 1 or config["distributed"]["wrap_single"]
        self.forward = self.step_module
        if use_ddp:
            ids = [self.device.index] if self.device.type == "cuda" and self.device.index is not None else None
            # find_unused_parameters: attackers idle before the full phase, box/click embeddings vary by batch
            self.forward = DistributedDataParallel(self.step_module, device_ids=ids, find_unused_parameters=True,
                                                   **_no_buffer_sync())
        optim = config["optim"]
        groups = parameter_groups(self.model, self.attackers, self.trainable, optim)
        self.optimizer = torch.optim.AdamW(groups, betas=tuple(optim["betas"]))
        data = config["data"]
        build = build_clip_datasets if self.memory_mode else build_datasets
        train_set, val_set = build(data, self.model.image_size, self.seed, **({"memory": config["memory"]} if self.memory_mode else {}))
        pin = self.device.type == "cuda" if data["pin_memory"] == "auto" else bool(data["pin_memory"])
        rank, world = self.dist.rank, self.dist.world_size
        self.train_set = train_set
        self.train_loader, self.sampler = build_loader(
            train_set, int(data["batch_size"]), int(data["num_workers"]), pin, rank, world, self.seed, train=True)
        self.val_loader = None
        if val_set is not None and len(val_set):
            self.val_loader, _ = build_loader(val_set, int(config["val"]["batch_size"]), int(data["num_workers"]), pin,
                                              rank, world, self.seed, train=False)
        self.accumulate = int(optim["accumulate"])
        batches = len(self.sampler) // int(data["batch_size"])
        self.steps_per_epoch = batches // self.accumulate
        if self.steps_per_epoch == 0:
            raise ConfigError(
                f"{len(train_set)} training images cannot fill one optimizer step of batch_size {data['batch_size']} × "
                f"accumulate {self.accumulate} × {world} process(es); lower data.batch_size or add data.")
        total = int(config["train"]["epochs"]) * self.steps_per_epoch
        if config["train"].get("max_steps"):
            total = min(total, int(config["train"]["max_steps"]))
        self.total_steps = total

    def _log_to_file(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.run_dir / "log.txt")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        self._handler = handler

    # ---- checkpoints --------------------------------------------------------------------------
    def state(self) -> dict:
        """The resumable state: tensors and primitives only."""
        return {
            "format": ckpt.FORMAT,
            "version": 1,
            "ruac_config": self.model.config(),
            "model": self.model.state_dict(),
            "attackers": self.attackers.state_dict(),
            "attackers_config": {name: m.config() for name, m in self.attackers.items()},
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "epoch": self.step // self.steps_per_epoch,
            "steps_per_epoch": self.steps_per_epoch,
            "rng": ckpt.rng_state(),
            "best": dict(self.best),
            "trainable": list(self.trainable),
            "config": self.config,
        }

    def save(self, best: bool = False) -> Path | None:
        """Write ``checkpoints/step_N.pt`` (or ``best.pt``) from the main process; all ranks wait."""
        path = None
        if self.dist.is_main:
            path = self.checkpoint_dir / "best.pt" if best else ckpt.step_path(self.checkpoint_dir, self.step)
            ckpt.atomic_save(self.state(), path)
            if not best:
                ckpt.prune(self.checkpoint_dir, int(self.config["checkpoint"]["keep_last"]))
            log.info("saved %s", path)
        barrier()
        return path

    def _restore(self) -> None:
        path = ckpt.latest_checkpoint(self.checkpoint_dir)
        if path is None:
            raise FileNotFoundError(f"nothing to resume: {self.checkpoint_dir} holds no step_*.pt checkpoint.")
        state = ckpt.load_checkpoint(path)
        if state["steps_per_epoch"] != self.steps_per_epoch:
            raise ConfigError(f"{path} was written with {state['steps_per_epoch']} steps per epoch, this set-up has "
                              f"{self.steps_per_epoch}: resume with the same data, batch size and number of GPUs.")
        self.model.load_state_dict(state["model"])
        self.attackers.load_state_dict(state["attackers"])
        self.optimizer.load_state_dict(state["optimizer"])
        for group in self.optimizer.param_groups:  # the config's rates win (ruac-train --resume RUN optim.lr.memory=...)
            group["initial_lr"] = float(self.config["optim"]["lr"][group["name"]])
        self.step = int(state["step"])
        self.best = dict(state["best"])
        ckpt.set_rng_state(state["rng"])
        self.resumed_from = path

    # ---- the loop -----------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Finish the current step, save a checkpoint and stop (Ctrl-C / SIGTERM)."""
        self._stop = True

    def _stop_agreed(self) -> bool:
        flag = torch.tensor([1.0 if self._stop else 0.0], device=self.device)
        return bool(all_reduce_sum(flag).item() > 0)

    def phase(self) -> PhaseWeights:
        if self.memory_mode:
            return MEMORY_PHASE
        return phase_weights(self.step / self.steps_per_epoch, self.config["loss"])

    def iter_train(self) -> Iterator[Progress]:
        """Train to ``total_steps`` (from the restored step), yielding a Progress per step and event."""
        cfg = self.config
        every_ckpt, log_every = int(cfg["checkpoint"]["every_steps"]), int(cfg["train"]["log_every"])
        image_every = int(cfg["train"]["image_every"] or 0)
        val_every = cfg["val"]["every_steps"]
        log.info("training %d steps (%d per epoch) on %s, %d process(es)%s, from step %d",
                 self.total_steps, self.steps_per_epoch, self.device, self.dist.world_size,
                 " (torchrun)" if self.dist.launched else "", self.step)
        log.info("trainable parameters: %s", ", ".join(
            f"{g['name']} {sum(p.numel() for p in g['params']) / 1e6:.3g} M (lr {g['initial_lr']:g})"
            for g in self.optimizer.param_groups))
        while self.step < self.total_steps:
            epoch = self.step // self.steps_per_epoch
            done_in_epoch = self.step - epoch * self.steps_per_epoch
            self.train_set.set_epoch(epoch)
            self.sampler.set_epoch(epoch, start=done_in_epoch * self.accumulate * int(cfg["data"]["batch_size"]))
            batches = iter(self.train_loader)
            set_train_mode(self.model, self.trainable)
            for _ in range(done_in_epoch, self.steps_per_epoch):
                started = time.perf_counter()
                weights = self.phase()
                visuals = bool(image_every) and (self.step + 1) % image_every == 0
                values, shown = self._optimizer_step(batches, weights, visuals)
                self.step += 1
                values["seconds"] = time.perf_counter() - started
                if self.step % log_every == 0 or self.step == self.total_steps:
                    values = self._reduce(values)
                    self.board.scalars(values, self.step)
                    log.info("step %d/%d %s %s", self.step, self.total_steps, weights.phase,
                             " ".join(f"{k}={v:.4g}" for k, v in sorted(values.items())))
                if shown is not None:
                    self.board.images(shown, self.step)
                yield Progress("step", self.step, self.total_steps, epoch, weights.phase, values)
                stop = self._stop_agreed()
                if self.step % every_ckpt == 0 or stop:
                    yield Progress("checkpoint", self.step, self.total_steps, epoch, weights.phase, path=self.save())
                if val_every and self.step % int(val_every) == 0:
                    yield self._validate(epoch)
                    set_train_mode(self.model, self.trainable)
                if stop:
                    yield Progress("stopped", self.step, self.total_steps, epoch, weights.phase)
                    return
                if self.step >= self.total_steps:
                    break
            if not val_every:
                yield self._validate(epoch)
        if self.step % every_ckpt != 0:
            yield Progress("checkpoint", self.step, self.total_steps, self.step // self.steps_per_epoch, path=self.save())
        yield Progress("done", self.step, self.total_steps, self.step // self.steps_per_epoch)

    def _optimizer_step(self, batches, weights: PhaseWeights, visuals: bool):
        apply_lr(self.optimizer, lr_factor(self.step, self.total_steps, self.config["optim"]["schedule"],
                                           int(self.config["optim"]["warmup_steps"]), float(self.config["optim"]["min_lr_ratio"])))
        self.optimizer.zero_grad(set_to_none=True)
        sums: dict[str, torch.Tensor] = {}
        shown = None
        for micro in range(self.accumulate):
            batch = {k: v.to(self.device, non_blocking=True) for k, v in next(batches).items()}
            generator = step_generator(self.seed, self.step, micro, self.dist.rank, self.device)
            sync = micro == self.accumulate - 1 or not isinstance(self.forward, DistributedDataParallel)
            with nullcontext() if sync else self.forward.no_sync():
                with torch.autocast(self.device.type, dtype=self.autocast or torch.float32, enabled=self.autocast is not None):
                    out = self.forward(batch, weights, generator, visuals=visuals and micro == 0)
                (out.loss / self.accumulate).backward()
            for key, value in out.logs.items():  # tensors: one device sync per step, below
                sums[key] = sums.get(key, 0.0) + value / self.accumulate
            shown = out.visuals if out.visuals is not None else shown
        clip = self.config["optim"]["clip_grad_norm"]
        if clip:
            for params in (list(self.model.parameters()), list(self.attackers.parameters())):
                grads = [p for p in params if p.grad is not None]
                if grads:
                    torch.nn.utils.clip_grad_norm_(grads, float(clip))
        self.optimizer.step()
        keys = list(sums)
        totals = dict(zip(keys, torch.stack([sums[k] for k in keys]).tolist())) if keys else {}
        for group in self.optimizer.param_groups:
            totals[f"lr/{group['name']}"] = group["lr"]
        return totals, shown

    def _reduce(self, values: dict[str, float]) -> dict[str, float]:
        """Mean of the logged values over ranks; a fixed key list keeps every rank's all_reduce alike."""
        if self.dist.world_size == 1:
            return values
        keys = [*LOG_KEYS, "seconds", *(f"lr/{g['name']}" for g in self.optimizer.param_groups)]
        pairs = [[values.get(k, 0.0), 1.0 if k in values else 0.0] for k in keys]
        summed = all_reduce_sum(torch.tensor(pairs, dtype=torch.float64, device=self.device)).tolist()
        return {k: v / n for k, (v, n) in zip(keys, summed) if n > 0}

    def _validate(self, epoch: int) -> Progress:
        if self.val_loader is None:
            return Progress("validation", self.step, self.total_steps, epoch, values={})
        if self.memory_mode:
            metrics = validate_memory(self.model, self.val_loader, self.device, self.config["val"]["max_batches"])
        else:
            metrics = validate(self.model, self.val_loader, self.device, self.autocast, self.config["val"]["max_batches"])
        self.board.scalars(metrics, self.step, prefix="val")
        log.info("validation at step %d: %s", self.step, " ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())))
        key, mode = self.config["val"]["metric"], self.config["val"]["mode"]
        value = metrics.get(key)
        path = None
        if value is not None and value == value:
            previous = self.best["value"]
            if previous is None or (value > previous if mode == "max" else value < previous):
                self.best = {"metric": key, "value": float(value), "step": self.step}
                path = self.save(best=True)
        return Progress("validation", self.step, self.total_steps, epoch, values=metrics, path=path)

    def close(self) -> None:
        self.board.close()
        handler = getattr(self, "_handler", None)
        if handler is not None:
            log.removeHandler(handler)
            handler.close()
