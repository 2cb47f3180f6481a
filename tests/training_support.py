"""Helpers for the training tests: tiny on-disk datasets and a tiny from-scratch config."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fixture_models import blob_scene


def write_blob_folder(root: Path, count: int = 6, size: int = 96, objects: int = 3, seed: int = 0) -> Path:
    """``root/images/*.png`` (grey uint8) and ``root/masks/*.png`` (uint8 label ids)."""
    from PIL import Image

    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image, labels = blob_scene(seed=seed + i, size=size, count=objects)
        Image.fromarray(image).save(root / "images" / f"scene{i:02d}.png")
        Image.fromarray(labels.astype(np.uint8)).save(root / "masks" / f"scene{i:02d}.png")
    return root


def tiny_config(run_dir: Path, data_root: Path, **sections) -> dict:
    """A from-scratch reduced-Hiera model at 128 px on a blob folder; ``sections`` update the config."""
    config = {
        "run": {"dir": str(run_dir), "device": "cpu", "seed": 0, "cpu_threads": 1},
        "model": {"name": None, "sam2_config": "reduced_hiera", "pretrained": False, "image_size": 128},
        "data": {
            "train": [{"type": "folder", "root": str(data_root)}],
            "val_fraction": 0.0,
            "max_objects": 2,
            "min_area": 10,
            "batch_size": 2,
            "num_workers": 0,
        },
        "prompts": {"correction_rounds": 1},
        "attack": {"style": {"graph_resolution": 16, "hidden": 16}, "deformation": {"hidden": 16}},
        "loss": {"curriculum": {"task_only_epochs": 0, "kl_epochs": 0}},
        "optim": {"lr": {"mask_decoder": 1e-4, "head": 1e-3, "attackers": 1e-3}, "warmup_steps": 0},
        "train": {"epochs": 1, "log_every": 1, "image_every": 0},
        "checkpoint": {"every_steps": 1000, "keep_last": 10},
    }
    for section, values in sections.items():
        config.setdefault(section, {}).update(values)
    return config


def run_all(config, resume=False, stop_at=None):
    """Run a Trainer to its end (or request a stop after step ``stop_at``); (trainer, events)."""
    from ruac_training.trainer import Trainer

    trainer = Trainer(config, resume=resume)
    events = []
    for event in trainer.iter_train():
        events.append(event)
        if stop_at is not None and event.event == "step" and event.step == stop_at:
            trainer.request_stop()
    trainer.close()
    return trainer, events
