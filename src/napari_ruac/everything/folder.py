"""``batch DIR --all``: segment everything in every image/volume of a folder, resumable (a file whose
objects CSV exists is skipped unless ``overwrite``), one failed file does not stop the others."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from ..io import read_image
from .files import EverythingOutputs, iter_everything_file, objects_csv_path
from ..core.progress import Progress


@dataclass
class FileDone:
    path: Path
    outputs: EverythingOutputs | None = None
    error: str | None = None
    skipped: bool = False


def iter_everything_folder(
    input_dir: str | os.PathLike, out_dir: str | os.PathLike, model, overwrite: bool = False,
    read_options: dict | None = None, **kwargs
) -> Iterator[Progress | FileDone]:
    """``Progress`` (``item`` = the file's name) while a file runs, a FileDone when it is finished, skipped or failed.
    ``read_options``: ``read_image`` keywords for every file (``timepoint``, ``channel``, ``channel_axis``)."""
    from ..batch.runner import list_inputs
    from ..io import output_path

    out = Path(out_dir)
    files = list_inputs(input_dir, out)
    out.mkdir(parents=True, exist_ok=True)
    for path in files:
        try:
            data = read_image(path, **{k: v for k, v in (read_options or {}).items() if v is not None})
            done_csv = objects_csv_path(output_path(data, "labels", "labels", out))
            if done_csv.exists() and not overwrite:
                yield FileDone(path, skipped=True)
                continue
            outputs = None
            for event in iter_everything_file(data, model, out, **kwargs):
                if isinstance(event, Progress):
                    yield replace(event, item=path.name)
                else:
                    outputs = event
            yield FileDone(path, outputs)
        except (ValueError, RuntimeError, OSError) as exc:
            yield FileDone(path, error=str(exc))
