"""Resumable training checkpoints: tensors and primitives only (``torch.load(weights_only=True)``),
written atomically (temp file + ``os.replace``), with every RNG state, so that a killed run resumes
to the same step and ends with the same parameters as an uninterrupted run."""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import torch

from napari_ruac.io import atomic_path
from napari_ruac.models.checkpoint import read_torch_file

FORMAT = "ruac-training"
_STEP_FILE = re.compile(r"step_(\d+)\.pt$")


def rng_state() -> dict:
    """torch, numpy, python (and CUDA) RNG states as tensors/primitives."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, state, gauss = random.getstate()
    out = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": version, "state": list(state), "gauss": gauss},
    }
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_save(obj: dict, path: Path) -> Path:
    """``torch.save`` to a temp file in the same folder, then rename: never a half-written checkpoint."""
    with atomic_path(path) as temporary:
        torch.save(obj, temporary)
    return path


def load_checkpoint(path: Path) -> dict:
    """A training checkpoint (weights_only); a clear error for anything else."""
    obj = read_torch_file(path)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ValueError(f"{path} is not a ruac-train checkpoint (no format={FORMAT!r}).")
    return obj


def step_path(folder: Path, step: int) -> Path:
    return folder / f"step_{step:08d}.pt"


def latest_checkpoint(folder: Path) -> Path | None:
    """The step file with the highest step (None when there is none)."""
    steps = sorted((int(m.group(1)), p) for p in folder.glob("step_*.pt") if (m := _STEP_FILE.search(p.name)))
    return steps[-1][1] if steps else None


def prune(folder: Path, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` step files (best.pt stays)."""
    steps = sorted((int(m.group(1)), p) for p in folder.glob("step_*.pt") if (m := _STEP_FILE.search(p.name)))
    for _, path in steps[: max(0, len(steps) - max(1, keep_last))]:
        path.unlink(missing_ok=True)
