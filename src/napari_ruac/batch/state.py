"""What makes a batch run resumable: per-volume "done" markers, the run's settings, a lock, cleanup.

Layout inside the output folder::

    OUT/.ruac-batch/settings.json        method, model, prompts, options of the run
    OUT/.ruac-batch/done/<input>.json    written last for a volume, after its outputs were renamed
                                         into place; holds the volume's report rows
    OUT/.ruac-batch/failed/<input>.log   the error (with traceback) of a volume that failed
    OUT/.ruac-batch/lock                 pid@host of the process running the batch

A volume counts as finished when its marker exists and the outputs it names exist. Temporary
files of interrupted writes (``.name-XXXXXXXX.tmp*``) are removed when a run starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
from pathlib import Path

from ..io.atomic import atomic_path

STATE_DIR = ".ruac-batch"
_TEMPORARY = re.compile(r"^\..+-[0-9a-f]{8}\.tmp.*$")


class BatchStateError(RuntimeError):
    """The output folder holds another run (different settings, or a batch still running)."""


def state_dir(out_dir: Path) -> Path:
    return Path(out_dir) / STATE_DIR


def marker_path(out_dir: Path, name: str) -> Path:
    return state_dir(out_dir) / "done" / f"{name}.json"


def failure_path(out_dir: Path, name: str) -> Path:
    return state_dir(out_dir) / "failed" / f"{name}.log"


def write_json(path: Path, content: dict) -> None:
    """Atomically write ``content`` as JSON (temporary file + rename)."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(content, indent=1, default=str))


def write_marker(out_dir: Path, name: str, record: dict) -> Path:
    """Mark input ``name`` finished; call only after all its outputs exist under their final names."""
    path = marker_path(out_dir, name)
    write_json(path, record)
    with contextlib.suppress(OSError):
        failure_path(out_dir, name).unlink()
    return path


def read_marker(out_dir: Path, name: str) -> dict | None:
    """The marker of a finished volume whose outputs still exist, else None."""
    path = marker_path(out_dir, name)
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    outputs = [record.get("mask"), record.get("uncertainty")]
    if not all(outputs) or not all((Path(out_dir) / o).is_file() for o in outputs):
        return None
    return record


def all_markers(out_dir: Path) -> list[dict]:
    """Markers of every finished volume in the folder (outputs present), sorted by input name."""
    folder = state_dir(out_dir) / "done"
    if not folder.is_dir():
        return []
    names = sorted(p.name[: -len(".json")] for p in folder.glob("*.json") if not p.name.startswith("."))
    return [record for record in (read_marker(out_dir, n) for n in names) if record is not None]


def remove_temporaries(out_dir: Path) -> list[Path]:
    """Delete leftovers of interrupted atomic writes in the output folder and the state folder."""
    removed = []
    for folder in (Path(out_dir), state_dir(out_dir), state_dir(out_dir) / "done"):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and _TEMPORARY.match(path.name):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    return removed


def check_settings(out_dir: Path, settings: dict, overwrite: bool) -> None:
    """Record the run's settings; a folder holding finished volumes of a run with other settings is an
    error unless ``overwrite`` (a run that finished nothing, e.g. its model failed to load, binds nothing)."""
    path = state_dir(out_dir) / "settings.json"
    normal = json.loads(json.dumps(settings, default=str))
    if path.is_file() and not overwrite:
        try:
            previous = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            previous = None
        finished = any(marker_path(out_dir, "x").parent.glob("*.json"))
        if previous is not None and previous != normal and finished:  # nothing finished: nothing to protect
            changed = sorted(k for k in set(previous) | set(normal) if previous.get(k) != normal.get(k))
            raise BatchStateError(
                f"{out_dir} holds a batch run with other settings (changed: {', '.join(changed)}). "
                "Resume with the same settings, choose another --out folder, or pass --overwrite to start over."
            )
    if overwrite:
        for sub in ("done", "failed"):
            shutil.rmtree(state_dir(out_dir) / sub, ignore_errors=True)
    write_json(path, normal)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def run_lock(out_dir: Path):
    """Refuse a second batch in the same folder while the first is alive; a dead holder's lock is taken over."""
    path = state_dir(out_dir) / "lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    with contextlib.suppress(OSError, ValueError):
        pid_text, _, holder = path.read_text().strip().partition("@")
        pid = int(pid_text)
        if holder == host and pid != os.getpid() and _pid_alive(pid):
            raise BatchStateError(f"another batch (pid {pid}) is writing to {out_dir}; wait for it or stop it first.")
    with atomic_path(path) as temporary:
        temporary.write_text(f"{os.getpid()}@{host}")
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if path.read_text().strip() == f"{os.getpid()}@{host}":
                path.unlink()
