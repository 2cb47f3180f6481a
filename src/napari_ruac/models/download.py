"""Downloading checkpoints: streamed to a temp file, sha256-verified, then renamed into place.

A file that fails its hash never reaches its final name; a network failure says which file
to put where so a user without internet can install it by hand.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from .registry import ModelSpec, checkpoint_path, get_spec, is_offline

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total or 0)
CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A checkpoint could not be fetched."""


class ChecksumError(RuntimeError):
    """A file's sha256 is not the one the registry expects."""


def sha256_of(path: str | Path, progress: ProgressCallback | None = None) -> str:
    digest = hashlib.sha256()
    total = os.path.getsize(path)
    done = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def download_file(
    url: str, destination: str | Path, sha256: str | None, progress: ProgressCallback | None = None, timeout: float = 60
) -> Path:
    """Fetch ``url`` to ``destination`` atomically; verify ``sha256`` when given."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"could not download {url}: {exc}") from exc
    actual = digest.hexdigest()
    if sha256 is not None and actual != sha256.lower():
        partial.unlink(missing_ok=True)
        raise ChecksumError(
            f"downloaded file from {url} has sha256 {actual}, expected {sha256}; the file was discarded. "
            "The download was corrupted or the server sent a different file: try again."
        )
    os.replace(partial, destination)
    _write_verified_marker(destination, actual)
    return destination


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _write_verified_marker(path: Path, digest: str) -> None:
    stat = path.stat()
    _marker(path).write_text(f"{digest} {stat.st_size} {stat.st_mtime_ns}\n")


def verify_file(path: str | Path, sha256: str, progress: ProgressCallback | None = None) -> None:
    """Raise ChecksumError unless ``path`` has ``sha256``; a marker file avoids re-hashing unchanged files."""
    path = Path(path)
    stat = path.stat()
    marker = _marker(path)
    if marker.is_file():
        parts = marker.read_text().split()
        if parts == [sha256, str(stat.st_size), str(stat.st_mtime_ns)]:
            return
    actual = sha256_of(path, progress)
    if actual != sha256:
        raise ChecksumError(
            f"{path} has sha256 {actual}, expected {sha256}: the file is corrupt or not the official "
            f"checkpoint. Delete it and run `napari-ruac download` again."
        )
    _write_verified_marker(path, actual)


def download_model(name: str, progress: ProgressCallback | None = None, force: bool = False) -> Path:
    """Make sure the checkpoint of registry model ``name`` is in the cache; return its path."""
    spec: ModelSpec = get_spec(name)
    destination = checkpoint_path(spec.name)
    if destination.is_file() and not force:
        verify_file(destination, spec.sha256)
        return destination
    if is_offline():
        raise DownloadError(_manual_install_hint(spec, destination, "offline mode (NAPARI_RUAC_OFFLINE) is set"))
    errors = []
    for url in spec.urls:
        try:
            return download_file(url, destination, spec.sha256, progress)
        except DownloadError as exc:
            errors.append(str(exc))
    raise DownloadError(_manual_install_hint(spec, destination, "; ".join(errors)))


def _manual_install_hint(spec: ModelSpec, destination: Path, reason: str) -> str:
    return (
        f"model {spec.name!r} is not in the cache and could not be downloaded ({reason}). "
        f"Download {spec.url} (sha256 {spec.sha256}, {spec.size_bytes / 1e6:.0f} MB) and put it at "
        f"{destination} — or set NAPARI_RUAC_CACHE to a folder holding models/{spec.filename}."
    )
