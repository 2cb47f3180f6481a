"""torch.distributed set-up: one process per GPU under ``torchrun``, and the same code path with
one process (no torchrun: an in-memory store, world size 1), on CUDA (nccl) or CPU (gloo)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    backend: str
    launched: bool  # started by torchrun (env:// rendezvous)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def pick_backend(requested: str, device: torch.device) -> str:
    if requested and requested != "auto":
        return requested
    return "nccl" if device.type == "cuda" else "gloo"


def init_distributed(device: torch.device, backend: str = "auto", timeout_minutes: float = 30) -> DistInfo:
    """Join (or create) the process group. Without torchrun: a single-process group on a HashStore."""
    backend = pick_backend(backend, device)
    timeout = timedelta(minutes=timeout_minutes)
    if dist.is_initialized():
        if launched_by_torchrun() or dist.get_world_size() > 1 or dist.get_backend() == backend:
            return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)),
                            dist.get_backend(), launched_by_torchrun())
        dist.destroy_process_group()  # our own single-process group on another backend (e.g. a CPU run before)
    if launched_by_torchrun():
        dist.init_process_group(backend=backend, init_method="env://", timeout=timeout)
        launched = True
    else:
        dist.init_process_group(backend=backend, store=dist.HashStore(), rank=0, world_size=1, timeout=timeout)
        launched = False
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)), backend, launched)


def device_for_rank(requested: torch.device, local_rank: int) -> torch.device:
    """Under torchrun on CUDA each process takes GPU ``LOCAL_RANK``."""
    if requested.type == "cuda" and launched_by_torchrun():
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return requested


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over ranks (a no-op for one process)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def barrier() -> None:
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
