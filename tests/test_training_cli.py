"""``ruac-train`` as a user runs it: a real process killed mid-run and resumed, torchrun (gloo, CPU)
with one and two processes, export from the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from napari_ruac import load_model
from ruac_training import checkpointing
from ruac_training.cli import main
from training_support import tiny_config, write_blob_folder

PYTHON = sys.executable
TORCHRUN = str(Path(sys.executable).with_name("torchrun"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_blob_folder(tmp_path_factory.mktemp("blobs"), count=4, size=64, objects=2)


def write_config(path: Path, run_dir: Path, data_root: Path, **sections) -> Path:
    config = tiny_config(run_dir, data_root, model={"image_size": 64}, prompts={"correction_rounds": 0},
                         data={"batch_size": 1, "max_objects": 1}, **sections)
    config["data"] = {**tiny_config(run_dir, data_root)["data"], "batch_size": 1, "max_objects": 1}
    path.write_text(yaml.safe_dump(config))
    return path


def environment() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    return env


def final_state(run_dir: Path) -> dict:
    return checkpointing.load_checkpoint(checkpointing.latest_checkpoint(run_dir / "checkpoints"))


def same_parameters(a: dict, b: dict) -> bool:
    return all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"]) and all(
        torch.equal(a["attackers"][k], b["attackers"][k]) for k in a["attackers"])


@pytest.mark.slow
def test_killed_process_resumes_to_the_same_parameters(tmp_path, data):
    sections = {"train": {"epochs": 2, "log_every": 1, "image_every": 0}, "checkpoint": {"every_steps": 2, "keep_last": 10}}
    straight = write_config(tmp_path / "straight.yaml", tmp_path / "straight", data, **sections)
    assert main([str(straight), "--quiet"]) == 0  # in-process, uninterrupted: 8 steps
    killed = write_config(tmp_path / "killed.yaml", tmp_path / "killed", data, **sections)
    process = subprocess.Popen([PYTHON, "-m", "ruac_training.cli", str(killed), "--quiet"], env=environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = tmp_path / "killed" / "checkpoints" / "step_00000002.pt"
    deadline = time.time() + 120
    while not first.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)  # no chance to save anything
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
    reached = final_state(tmp_path / "killed")["step"]
    assert 2 <= reached < 8
    resumed = subprocess.run([PYTHON, "-m", "ruac_training.cli", "--resume", str(tmp_path / "killed"), "--quiet"],
                             env=environment(), capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = final_state(tmp_path / "straight"), final_state(tmp_path / "killed")
    assert a["step"] == b["step"] == 8
    assert same_parameters(a, b)
    assert "from step %d" % reached in (tmp_path / "killed" / "log.txt").read_text()


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path, data):
    config = write_config(tmp_path / "c.yaml", tmp_path / "run", data, train={"epochs": 20, "log_every": 1, "image_every": 0})
    process = subprocess.Popen([PYTHON, "-m", "ruac_training.cli", str(config), "--quiet"], env=environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "run" / "log.txt"
    deadline = time.time() + 120
    while not (log.exists() and "step 2/" in log.read_text()) and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-2000:]
    assert "stopping after this step" in stderr
    state = final_state(tmp_path / "run")
    assert 2 <= state["step"] < 80 and (tmp_path / "run" / "checkpoints" / f"step_{state['step']:08d}.pt").is_file()


@pytest.mark.slow
def test_torchrun_single_process_matches_the_plain_run(tmp_path, data):
    sections = {"train": {"epochs": 1, "log_every": 1, "image_every": 2}}
    plain = write_config(tmp_path / "plain.yaml", tmp_path / "plain", data, **sections)
    assert main([str(plain), "--quiet"]) == 0
    launched = write_config(tmp_path / "launched.yaml", tmp_path / "launched", data, **sections)
    result = subprocess.run([TORCHRUN, "--standalone", "--nproc_per_node", "1", "-m", "ruac_training.cli",
                             str(launched), "--quiet"], env=environment(), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1 process(es) (torchrun)" in (tmp_path / "launched" / "log.txt").read_text()
    assert same_parameters(final_state(tmp_path / "plain"), final_state(tmp_path / "launched"))
    assert list((tmp_path / "launched" / "tensorboard").glob("events.out.tfevents.*"))


@pytest.mark.slow
def test_torchrun_two_processes_shard_the_data(tmp_path, data):
    config = write_config(tmp_path / "two.yaml", tmp_path / "two", data, train={"epochs": 1, "log_every": 1, "image_every": 0})
    result = subprocess.run([TORCHRUN, "--standalone", "--nproc_per_node", "2", "-m", "ruac_training.cli",
                             str(config), "--quiet"], env=environment(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (tmp_path / "two" / "log.txt").read_text()
    assert "2 process(es) (torchrun)" in log and "(2 per epoch)" in log  # 4 images / 2 ranks / batch 1
    assert final_state(tmp_path / "two")["step"] == 2


def test_export_command_writes_a_loadable_model(tmp_path, data, capsys):
    config = write_config(tmp_path / "run.yaml", tmp_path / "run", data, train={"epochs": 1, "max_steps": 1, "log_every": 1, "image_every": 0})
    assert main([str(config), "--quiet"]) == 0
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "out" / "cells")]) == 0
    assert "cells.safetensors" in capsys.readouterr().out
    model = load_model(tmp_path / "out" / "cells.json", device="cpu")
    assert model.image_size == 64 and model.info.ruac_trained


def test_cli_reports_bad_input_without_a_traceback(tmp_path, data, capsys):
    assert main([str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    config = write_config(tmp_path / "c.yaml", tmp_path / "r", data)
    assert main([str(config), "data.batch_sise=2"]) == 2
    assert "data.batch_size" in capsys.readouterr().err  # the suggestion
    assert main(["--resume", str(tmp_path / "nothing")]) == 2
