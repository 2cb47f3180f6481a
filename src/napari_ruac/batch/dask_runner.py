"""Volumes as Dask tasks: a LocalCluster (one worker per GPU, else a few CPU workers) or a cluster's address.

Each worker builds the model once (``ModelPlugin``, registered with ``Client.register_plugin``)
and keeps it for every volume it is given; a task writes its volume's outputs and "done" marker
itself, and the client gathers the outcomes as they complete and writes the report. A remote
cluster's workers need napari-ruac installed and the input/output folders at the same paths.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator

from distributed import WorkerPlugin

from .model_spec import ModelSpec, cached_model
from .volume import BatchSettings, VolumeOutcome, process_volume

PLUGIN_NAME = "napari-ruac-model"


def default_workers() -> int:
    """One worker per GPU, else a few CPU workers (half the cores, at most 4)."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.device_count()
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def _worker_index(worker) -> int:
    name = getattr(worker, "name", None)
    try:
        return int(name)
    except (TypeError, ValueError):
        return abs(hash(str(getattr(worker, "address", name))))


class ModelPlugin(WorkerPlugin):
    """Holds the worker's model: built on first use, then reused; sets torch threads and the GPU."""

    name = PLUGIN_NAME

    def __init__(self, spec: ModelSpec, torch_threads: int | None = None):
        self.spec = spec
        self.torch_threads = torch_threads
        self.device = spec.device

    def setup(self, worker):
        import torch

        if self.torch_threads:
            torch.set_num_threads(self.torch_threads)
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if self.spec.device in (None, "auto") and count > 1:
            self.device = f"cuda:{_worker_index(worker) % count}"

    def model(self):
        return cached_model(self.spec, self.device)


def run_volume_task(path: str, settings: BatchSettings, spec: ModelSpec) -> VolumeOutcome:
    """The task a worker runs for one input (its model comes from the worker's plugin)."""
    from distributed import get_worker

    plugin = get_worker().plugins.get(PLUGIN_NAME)
    try:
        model = plugin.model() if plugin is not None else cached_model(spec)
    except Exception as error:  # a model that cannot load is reported per volume, with the reason
        return VolumeOutcome(Path(path).name, "failed", error=f"the worker could not load the model: {error}")
    return process_volume(path, model, settings)


def _client(scheduler: str, workers: int | None, threads_per_worker: int | None):
    from distributed import Client, LocalCluster

    if scheduler == "local":
        count = workers or default_workers()
        cluster = LocalCluster(
            n_workers=count,
            threads_per_worker=threads_per_worker or 1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        return Client(cluster), cluster, count
    return Client(scheduler), None, None


def iter_dask(
    pending: list[Path],
    spec: ModelSpec,
    settings: BatchSettings,
    scheduler: str = "local",
    workers: int | None = None,
    threads_per_worker: int | None = None,
) -> Iterator[VolumeOutcome]:
    """Submit one task per pending input; yield each ``VolumeOutcome`` as its future completes."""
    if not pending:
        return
    from distributed import as_completed

    client, cluster, count = _client(scheduler, workers, threads_per_worker)
    futures = {}
    try:
        torch_threads = None
        if cluster is not None:
            torch_threads = max(1, (os.cpu_count() or 1) // (count * (threads_per_worker or 1)))
        client.register_plugin(ModelPlugin(spec, torch_threads), name=PLUGIN_NAME)
        for path in pending:
            key = f"ruac-batch-{path.name}"
            future = client.submit(run_volume_task, str(path), settings, spec, pure=False, key=key)
            futures[future] = path
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as error:  # the worker died (out of memory, killed) or the task could not run
                outcome = VolumeOutcome(futures[future].name, "failed", error=f"{type(error).__name__}: {error}")
            yield outcome
    finally:
        if futures:
            client.cancel(list(futures))
        client.close()
        if cluster is not None:
            cluster.close()
