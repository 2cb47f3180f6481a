"""Output folders checked before any work: a file in the way, a parent that is a file, no write
permission; and no empty folder left behind by a run that failed."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .naming import argument


class OutputFolderError(ValueError):
    """An output folder that cannot be used; the message names the option and what to give instead."""


def check_output_folder(path: str | os.PathLike, keyword: str = "out_dir") -> Path:
    """Raise unless ``path`` is (or can be made) a writable folder; creates nothing."""
    folder = Path(path).expanduser()
    name = argument(keyword)
    if folder.exists() and not folder.is_dir():
        raise OutputFolderError(f"{name} {folder} is a file, not a folder; give a folder (it is created if missing).")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OutputFolderError(f"{name} {folder} cannot be created: {existing} is a file. Give another folder.")
    if not _can_write_in(existing):
        where = "" if existing == folder else f" (it would be created in {existing})"
        raise OutputFolderError(
            f"{name} {folder}: no permission to write there{where}. Give a folder you can write to."
        )
    return folder


def _can_write_in(folder: Path) -> bool:
    """Try it: create and delete a file there (permission bits, read-only mounts, ACLs alike)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def output_folder(path: str | os.PathLike, keyword: str = "out_dir") -> Iterator[Path]:
    """Check ``path`` first; if the work inside the block fails, remove the folders it created while still empty."""
    folder = check_output_folder(path, keyword).absolute()
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        yield folder
    except BaseException:
        for created in missing:  # deepest first
            with contextlib.suppress(OSError):
                created.rmdir()
        raise
