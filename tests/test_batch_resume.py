"""A real ``napari-ruac batch`` process killed with SIGKILL after its first volume, then run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from fixture_models import blob_scene

from napari_ruac.batch import read_report
from napari_ruac.cli import main
from napari_ruac.io import read_image, write_image


pytestmark = pytest.mark.usefixtures("one_torch_thread")


VOLUMES = ["v0.tif", "v1.nii.gz", "v2.tif", "v3.nii.gz"]


def _inputs(folder):
    folder.mkdir()
    for index, name in enumerate(VOLUMES):
        image, _ = blob_scene(seed=20 + index, size=64, count=1)
        stack = np.stack([image, image, image]).astype(np.uint16)
        write_image(folder / name, stack, spacing=(3.0, 0.5, 0.5), kind="image")


def _markers(out):
    folder = out / ".ruac-batch" / "done"
    return sorted(p.name for p in folder.glob("*.json") if not p.name.startswith(".")) if folder.is_dir() else []


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_batch_resumes_without_recomputing_or_leftovers(tmp_path):
    _inputs(tmp_path / "in")
    out = tmp_path / "out"
    args = ["batch", str(tmp_path / "in"), "--out", str(out), "--box", "10", "10", "50", "50",
            "--model", "sam2.1_hiera_tiny", "--random-weights", "--image-size", "256", "--device", "cpu"]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "napari_ruac.cli", *args, "--no-progress"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    try:
        while not _markers(out):
            assert process.poll() is None, f"batch exited early: {process.stdout.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "no volume finished within 240 s"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    finished = _markers(out)
    assert 1 <= len(finished) < len(VOLUMES), "the kill came after the whole batch: nothing to resume"
    done_names = [name[: -len(".json")] for name in finished]
    # whatever is under a final output name is complete
    outputs = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file() and not p.name.startswith(".")}
    for name in outputs:
        if name != "report.csv":
            assert read_image(out / name).array.shape == (3, 64, 64)
    kept = {n: t for n, t in outputs.items() if n.split("_")[0] in {d.split(".")[0] for d in done_names}}
    assert len(kept) == 2 * len(done_names)

    started = time.perf_counter()
    assert main([*args, "--no-progress"]) == 0
    assert time.perf_counter() - started < 240
    for name, mtime in kept.items():  # finished volumes were skipped, not recomputed
        assert (out / name).stat().st_mtime_ns == mtime, name
    assert _markers(out) == sorted(f"{v}.json" for v in VOLUMES)
    rows = read_report(out)
    assert sorted(r["volume"] for r in rows) == sorted(VOLUMES)  # one row per volume, no duplicates
    assert all(r["status"] == "ok" for r in rows)
    leftovers = [p for p in out.rglob("*") if ".tmp" in p.name or p.name == "lock"]
    assert not leftovers
    for volume in VOLUMES:
        stem = volume.split(".")[0]
        suffix = volume[len(stem) :]
        assert read_image(out / f"{stem}_mask{suffix}").spacing == (3.0, 0.5, 0.5)
