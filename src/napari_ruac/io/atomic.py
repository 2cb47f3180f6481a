"""Atomic file writes: write a temporary file beside the target, then ``os.replace`` it.

A process killed mid-write leaves at most a hidden ``.name-XXXX.tmp<suffix>`` file, never a
half-written output under the final name. The temporary file keeps the full suffix
(``.nii.gz``, ``.ome.tif``) because writers such as nibabel choose the encoding from it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

MULTI_SUFFIXES = (".nii.gz", ".ome.tiff", ".ome.tif")


def full_suffix(path: Path) -> str:
    """The suffix that selects the format: ``.nii.gz`` and ``.ome.tif`` count as one suffix."""
    name = path.name.lower()
    for suffix in MULTI_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return path.name[-len(suffix) :]
    return path.suffix


def file_stem(path: str | os.PathLike) -> str:
    """``a.nii.gz`` → ``a``, ``b.ome.tif`` → ``b``: the name without its format suffix."""
    name = Path(path).name
    suffix = full_suffix(Path(name))
    return name[: len(name) - len(suffix)] if suffix else name


def _read_umask() -> int:
    """The process umask (read once at import: changing it briefly is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = full_suffix(target)
    stem = target.name[: len(target.name) - len(suffix)] if suffix else target.name
    temporary = target.with_name(f".{stem}-{secrets.token_hex(4)}.tmp{suffix}")
    try:
        yield temporary
        if not temporary.exists():
            raise OSError(f"the writer for {target} produced no file")
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
