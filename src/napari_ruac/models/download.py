"""Downloading checkpoints through pooch: a registry entry with its sha256, retries, a progress
bar, the cache folder from ``NAPARI_RUAC_CACHE``; the file reaches its final name only after
its hash matched (pooch downloads to a temporary file beside it).

A network failure says which file to put where, so a user without internet can install it by hand.
``file://`` URLs (local mirrors, tests) are copied by the same path.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

import pooch

from .registry import ModelSpec, checkpoint_path, get_spec, is_offline

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total or 0)
CHUNK = 1 << 20
RETRIES = 2  # extra attempts after a failed or corrupted download (network URLs)


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


class _ProgressBar:
    """pooch's progress-bar protocol (total, update, reset, close) driving a (done, total) callback."""

    def __init__(self, callback: ProgressCallback) -> None:
        self.callback, self.total, self.done = callback, 0, 0

    def update(self, count: int) -> None:
        self.done += int(count)
        self.callback(self.done, int(self.total or 0))

    def reset(self) -> None:
        self.done = 0

    def close(self) -> None:
        pass


def _downloader(progress: ProgressCallback | None, timeout: float):
    """A pooch downloader: HTTP(S) with our progress callback (tqdm by default), file:// by copying."""

    def fetch(url: str, output_file, pooch_object=None, check_only: bool = False):
        if url.startswith("file:"):
            source = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
            total, done = source.stat().st_size, 0
            with open(source, "rb") as reader, open(output_file, "wb") as writer:
                while chunk := reader.read(CHUNK):
                    writer.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
            return None
        bar = _ProgressBar(progress) if progress is not None else True
        return pooch.HTTPDownloader(progressbar=bar, timeout=timeout)(url, output_file, pooch_object)

    return fetch


def download_file(
    url: str,
    destination: str | Path,
    sha256: str | None,
    progress: ProgressCallback | None = None,
    timeout: float = 60,
    retries: int | None = None,
) -> Path:
    """Fetch ``url`` to ``destination`` with pooch (hash checked before the file gets its name)."""
    import requests.exceptions

    destination = Path(destination)
    retries = (0 if url.startswith("file:") else RETRIES) if retries is None else retries
    registry = pooch.create(
        path=destination.parent, base_url="", registry={destination.name: f"sha256:{sha256}" if sha256 else None},
        urls={destination.name: url}, retry_if_failed=retries,
    )  # fmt: skip
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # no "Downloading file ..." chatter; the progress bar says it
    try:
        registry.fetch(destination.name, downloader=_downloader(progress, timeout))
    except ValueError as exc:
        if "hash" not in str(exc).lower():
            raise DownloadError(f"could not download {url}: {exc}") from exc
        raise ChecksumError(
            f"downloaded file from {url} does not have the expected sha256 {sha256}; the file was discarded. "
            "The download was corrupted or the server sent a different file: try again."
        ) from exc
    except (OSError, requests.exceptions.RequestException) as exc:
        raise DownloadError(f"could not download {url}: {exc}") from exc
    finally:
        logger.setLevel(level)
    _write_verified_marker(destination, sha256 or sha256_of(destination))
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
