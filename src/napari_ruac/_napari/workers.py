"""Running the library's long work off the GUI thread: napari workers with a progress bar,
cancellation, and errors shown as notifications with the library's message."""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
from napari.qt.threading import create_worker
from napari.utils import progress
from napari.utils.notifications import show_error

from ..inference import ImagePredictor, Prediction
from ..inference import SliceResult, VolumePredictor


class JobFailed(Exception):
    """Carries a failure out of a worker thread (superqt swallows a generator's RuntimeError)."""


def error_message(exc: BaseException) -> str:
    """The message to show: the library's own (it names the problem and the fix); other
    exceptions keep their type name so an unexpected failure is still recognisable."""
    cause = exc.__cause__ if isinstance(exc, JobFailed) and exc.__cause__ is not None else exc
    text = str(cause).strip()
    ours = type(cause).__module__.startswith("napari_ruac") or isinstance(cause, ValueError)
    if ours and text:
        return text
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


def segment_slice_job(
    predictor: ImagePredictor, image: np.ndarray, prompt: dict, method: str, value_range=None, previous=None,
    keep_window=None,
) -> Prediction:
    """Encode one 2D image (or reuse its cached embedding) and segment one object in it; with
    ``previous`` (the mask the same prompts minus the new clicks made, decoded in ``keep_window``) the
    library's correction step."""
    try:
        predictor.set_image(image, value_range=value_range)
        if previous is not None:
            return predictor.correct(previous, box=prompt.get("box"), points=prompt.get("points"),
                                     labels=prompt.get("labels"), method=method, keep_window=keep_window)
        return predictor.predict(
            box=prompt.get("box"), points=prompt.get("points"), labels=prompt.get("labels"), method=method
        )
    except Exception as exc:
        raise JobFailed(str(exc)) from exc


def segment_volume_job(
    predictor: VolumePredictor, volume: np.ndarray, prompts: dict[int, dict], value_range=None
) -> Iterator[SliceResult]:
    """Propagate one object through the volume, yielding each finished slice."""
    iterator = None
    try:
        iterator = predictor.iter_segment(volume, prompts, value_range=value_range)
        yield from iterator
    except Exception as exc:
        raise JobFailed(str(exc)) from exc
    finally:
        if iterator is not None:
            iterator.close()


def call_job(func: Callable, *args):
    """Run any callable in a worker, turning its exception into JobFailed."""
    try:
        return func(*args)
    except Exception as exc:
        raise JobFailed(str(exc)) from exc


def start_job(
    func: Callable,
    *args,
    desc: str,
    total: int = 0,
    on_yield: Callable | None = None,
    on_return: Callable | None = None,
    on_done: Callable | None = None,
    on_error: Callable[[str], None] | None = None,
):
    """Start ``func(*args)`` in a napari worker with a progress bar of ``total`` steps (0: busy bar).

    A generator's yields advance the bar by one each and go to ``on_yield`` (on the GUI thread);
    errors become ``show_error`` notifications (and go to ``on_error``); ``on_done`` runs last in every case
    (returned, cancelled or failed). Returns the worker (``worker.quit()`` cancels).
    """
    worker = create_worker(func, *args, _start_thread=False, _ignore_errors=True)
    bar = progress(total=total or None, desc=desc)
    worker.progress_bar = bar
    if on_yield is not None:
        worker.yielded.connect(on_yield)
    if total:
        worker.yielded.connect(lambda _: bar.update(1))
    if on_return is not None:
        worker.returned.connect(on_return)
    worker.errored.connect(lambda exc: show_error(error_message(exc)))
    if on_error is not None:
        worker.errored.connect(lambda exc: on_error(error_message(exc)))
    worker.finished.connect(bar.close)
    if on_done is not None:
        worker.finished.connect(on_done)
    worker.start()
    return worker
