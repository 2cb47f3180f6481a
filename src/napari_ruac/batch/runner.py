"""``run_batch`` / ``iter_batch``: segment every image or volume of a folder, resumably, locally or on Dask.

    from napari_ruac.batch import ModelSpec, run_batch
    summary = run_batch("scans/", "results/", prompts="prompts.json", model=ModelSpec("sam2.1_hiera_tiny"))

For each input: ``<stem>_mask.<ext>`` (label ids) and ``<stem>_uncertainty.<ext>`` in the input's
format and geometry, and rows in ``results/report.csv``. Finished volumes are skipped by a rerun.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..io import check_output_folder, format_of
from ..models import RUACModel
from ..uq import DEFAULT_METHOD, get_method
from .events import BatchStarted, BatchSummary, VolumeDone, VolumeStarted
from .model_spec import ModelSpec
from .prompts import PromptFile, file_stem, prompt_source
from .report import append_rows, failure_row, rebuild_report
from .state import all_markers, check_settings, read_marker, remove_temporaries, run_lock
from .stats import ReviewRule
from .volume import BatchSettings, VolumeOutcome, iter_volume


class BatchInputError(ValueError):
    """No usable inputs, or an output folder that would mix with them."""


def list_inputs(inputs: str | os.PathLike | Iterable, out_dir: Path) -> list[Path]:
    """Image/volume files of a folder (not recursive; hidden files and ``*_labels.*`` left out), or the given files."""
    if isinstance(inputs, (str, os.PathLike)):
        folder = Path(inputs).expanduser()
        if not folder.exists():
            raise BatchInputError(f"input {folder} does not exist.")
        if folder.is_dir():
            if folder.resolve() == Path(out_dir).resolve():
                raise BatchInputError(f"--out {out_dir} is the input folder; write results to a separate folder.")
            files = [
                p for p in sorted(folder.iterdir())
                if p.is_file() and not p.name.startswith(".") and format_of(p) and not file_stem(p).endswith("_labels")
            ]  # fmt: skip
            if not files:
                raise BatchInputError(
                    f"no images in {folder}: expected .nii/.nii.gz, .tif/.tiff/.ome.tif, .png/.jpg/.bmp or .npy files."
                )
            return files
        files = [folder]
    else:
        files = [Path(p).expanduser() for p in inputs]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise BatchInputError(f"input files do not exist: {', '.join(missing)}.")
    names = [p.name for p in files]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BatchInputError(f"several inputs share a file name ({', '.join(duplicates)}); outputs would collide.")
    if not files:
        raise BatchInputError("no inputs given.")
    return files


def _model_settings(model) -> dict:
    if isinstance(model, ModelSpec):
        return model.describe()
    if isinstance(model, RUACModel):
        info = model.info
        return dict(name=info.name, source=info.source, image_size=model.image_size, pretrained=info.pretrained)
    raise TypeError(f"model must be a loaded RUACModel, a ModelSpec or a model name; got {type(model).__name__}.")


def iter_batch(
    inputs,
    out_dir: str | os.PathLike,
    prompts,
    model: RUACModel | ModelSpec | str | None = None,
    method: str = DEFAULT_METHOD,
    intensity=None,
    scheduler: str | None = None,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    overwrite: bool = False,
    rule: ReviewRule | None = None,
    cache_dir: str | os.PathLike | None = None,
    read_options: dict | None = None,
    **options,
) -> Iterator[object]:
    """Generator of ``BatchStarted``, ``VolumeStarted``/slice ``Progress`` (local), ``VolumeDone`` events,
    ending with the ``BatchSummary``. Stop iterating to cancel (the volume in progress writes nothing).

    ``inputs``: a folder or a list of files. ``prompts``: a JSON/CSV prompt file, ``LabelPrompts()``,
    ``TemplatePrompt(box=..., slice=...)`` or a template dict. ``model``: a loaded model (local runs),
    a ``ModelSpec`` or a model name (None: the default model). ``scheduler``: None (this process),
    ``"local"`` (a Dask LocalCluster with ``workers`` processes) or a Dask scheduler address.
    ``options``: method options such as ``num_samples``, ``seed``. ``cache_dir``: on-disk embeddings, one
    store per input (``napari-ruac embed``); reused and filled. ``read_options``: ``read_image`` keywords
    for every input (``timepoint``, ``channel``, ``channel_axis``); part of the folder's settings.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir).expanduser().absolute()  # workers may run in another directory
    files = [p.absolute() for p in list_inputs(inputs, out_dir)]
    if scheduler not in (None, "local") and (workers or threads_per_worker):
        raise ValueError("workers/threads_per_worker apply to scheduler='local'; a running cluster has its own.")
    source = prompt_source(prompts)
    if isinstance(source, PromptFile):
        source.check_inputs(files)
    get_method(method)  # an unknown method is an error before any work
    if model is None or isinstance(model, str):
        model = ModelSpec(name=model)
    if scheduler is not None and not isinstance(model, ModelSpec):
        raise TypeError("with a Dask scheduler every worker builds its own model: pass model=ModelSpec(...) or a name.")
    rule = rule or ReviewRule()
    cache = None if cache_dir is None else Path(cache_dir).expanduser().absolute()
    read_options = {k: v for k, v in (read_options or {}).items() if v is not None}
    settings = BatchSettings(out_dir, source, method, intensity, dict(options), rule, cache, read_options)
    model_settings = _model_settings(model)
    check_output_folder(out_dir)
    if scheduler is None and isinstance(model, ModelSpec):
        model = model.load()  # before anything is written: a model that fails to load leaves no trace in --out
    out_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(out_dir):
        check_settings(
            out_dir,
            dict(model=model_settings, method=method, intensity=intensity, options=options,
                 prompts=source.describe(), rule=rule.__dict__, **({"read": read_options} if read_options else {})),
            overwrite,
        )  # fmt: skip
        remove_temporaries(out_dir)
        report = rebuild_report(out_dir, all_markers(out_dir))
        skipped = [p.name for p in files if read_marker(out_dir, p.name) is not None]
        pending = [p for p in files if p.name not in set(skipped)]
        yield BatchStarted([p.name for p in files], [p.name for p in pending], skipped, report)
        failures: dict[str, str] = {}
        ok = 0
        if scheduler is None:
            outcomes = _iter_local(pending, model, settings)
        else:
            from .dask_runner import iter_dask

            outcomes = iter_dask(pending, model, settings, scheduler, workers, threads_per_worker)
        done = 0
        for event in outcomes:
            if not isinstance(event, VolumeOutcome):
                yield event
                continue
            done += 1
            if event.ok:
                append_rows(out_dir, event.rows)
                ok += 1
            else:
                append_rows(out_dir, [failure_row(event.volume, event.error, round(event.seconds, 2))])
                failures[event.volume] = event.error
            yield VolumeDone(event, done, len(pending))
        yield BatchSummary(len(files), ok, len(failures), len(skipped), report, time.perf_counter() - started, failures)


def _iter_local(pending: list[Path], model, settings: BatchSettings) -> Iterator[object]:
    if isinstance(model, ModelSpec):
        model = model.load()
    for index, path in enumerate(pending, start=1):
        yield VolumeStarted(path.name, index, len(pending))
        yield from iter_volume(path, model, settings)


def run_batch(*args, on_event: Callable[[object], None] | None = None, **kwargs) -> BatchSummary:
    """``iter_batch`` run to the end; ``on_event(event)`` sees every event. Returns the ``BatchSummary``."""
    summary = None
    for event in iter_batch(*args, **kwargs):
        if on_event is not None:
            on_event(event)
        summary = event
    return summary
