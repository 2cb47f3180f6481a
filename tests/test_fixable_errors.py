"""Errors name the fix the user can make, in the user's terms (issue 17, §2): the Python keyword in
the library, the option on the command line; output folders checked before the work; a failed
batch leaves no lock on its folder; methods the model cannot run say so and how to get them."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import tifffile

from napari_ruac.batch import ModelSpec, run_batch
from napari_ruac.batch.state import BatchStateError, state_dir
from napari_ruac.io import ImageReadError, OutputFolderError, check_output_folder, read_image, write_image
from napari_ruac.io.naming import command_line_names
from napari_ruac.models.device import DeviceError, resolve_device
from napari_ruac.models.preprocess import ImageError
from napari_ruac.segmentation import run_segmentation
from napari_ruac.uq import method_readiness

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def time_series(tmp_path):
    path = tmp_path / "movie.tif"
    tifffile.imwrite(path, np.zeros((3, 4, 16, 16), np.uint16), imagej=True, metadata={"axes": "TZYX"})
    return path


def test_messages_name_the_keyword_in_python_and_the_option_on_the_command_line(time_series, tmp_path):
    with pytest.raises(ImageReadError, match=r"pick one with timepoint=N, N in 0…2") as python:
        read_image(time_series)
    with command_line_names(), pytest.raises(ImageReadError, match=r"pick one with --timepoint N, N in 0…2") as cli:
        read_image(time_series)
    assert "--" not in str(python.value) and "timepoint=" not in str(cli.value)
    with command_line_names(), pytest.raises(ImageReadError, match=r"--channel 5 given, but"):
        read_image(time_series, timepoint=0, channel=5)
    with pytest.raises(ImageReadError, match=r"channel=5 given"):
        read_image(time_series, timepoint=0, channel=5)
    npy = tmp_path / "odd.npy"
    np.save(npy, np.zeros((2, 3, 8, 8, 2), np.float32))
    with command_line_names(), pytest.raises(ImageReadError, match=r"--channel-axis N"):
        read_image(npy)


def test_a_bad_device_string_says_what_is_valid():
    with pytest.raises(DeviceError, match=r"device='gpu0' is not a device: use auto, cpu, cuda, cuda:N or mps"):
        resolve_device("gpu0")
    with command_line_names(), pytest.raises(DeviceError, match=r"--device 'gpu0' is not a device.*has: .*cpu"):
        resolve_device("gpu0")
    assert str(resolve_device("cpu")) == "cpu"


def test_output_folder_problems_are_found_before_any_work(tmp_path):
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    with pytest.raises(OutputFolderError, match="out_dir .*taken is a file, not a folder"):
        check_output_folder(a_file)
    with command_line_names(), pytest.raises(OutputFolderError, match=r"--out .*taken/sub cannot be created: .* is a file"):
        check_output_folder(a_file / "sub")
    with command_line_names(), pytest.raises(OutputFolderError, match="--out /proc/ruac-out: no permission to write"):
        check_output_folder("/proc/ruac-out")  # read-only even for root
    fresh = tmp_path / "new" / "deeper"
    assert check_output_folder(fresh) == fresh and not (tmp_path / "new").exists()  # nothing created


def test_a_failed_segmentation_leaves_no_empty_output_folder(tmp_path, tiny_model):
    constant = write_image(tmp_path / "flat.png", np.full((64, 64), 9, np.uint8))
    out = tmp_path / "results" / "run1"
    with pytest.raises(ImageError, match="constant"):
        run_segmentation(constant, tiny_model, dict(box=[2, 2, 30, 30]), out_dir=out)
    assert not (tmp_path / "results").exists()
    with pytest.raises(OutputFolderError, match="is a file"):  # before reading the image or running the model
        run_segmentation(tmp_path / "missing.png", tiny_model, dict(box=[2, 2, 30, 30]), out_dir=constant)


def test_a_batch_whose_model_failed_to_load_does_not_lock_its_folder(tmp_path, tiny_model):
    folder = tmp_path / "in"
    folder.mkdir()
    image = (np.random.default_rng(0).random((48, 48)) * 255).astype(np.uint8)
    write_image(folder / "a.png", image)
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"a.png": [{"box": [4, 4, 30, 30]}]}))
    out = tmp_path / "out"
    with pytest.raises(Exception, match="does not exist"):
        run_batch(folder, out, prompts=prompts, model=ModelSpec(name=str(tmp_path / "nope.safetensors")))
    assert not out.exists()  # the model is loaded before anything is written
    # a folder whose earlier run finished nothing (e.g. killed while loading) binds no settings either
    state_dir(out).mkdir(parents=True)
    (state_dir(out) / "settings.json").write_text(json.dumps({"model": {"name": "other"}, "method": "tta"}))
    summary = run_batch(folder, out, prompts=prompts, model=tiny_model)
    assert (summary.ok, summary.failed) == (1, 0)
    with pytest.raises(BatchStateError, match="other settings"):  # finished volumes are still protected
        run_batch(folder, out, prompts=prompts, model=tiny_model, method="sam2")


def test_method_readiness_says_which_methods_the_model_can_run_and_how_to_get_the_others(tiny_model):
    readiness = method_readiness(tiny_model)
    assert readiness["ruac"] is None and readiness["sam2"] is None and readiness["tta"] is None
    assert "fitted Laplace posterior" in readiness["laplace"] and "fit_laplace" in readiness["laplace"]
    assert "variance network" in readiness["varnet"] and "train_varnet" in readiness["varnet"]
    fitted = SimpleNamespace(extras={"laplace": object(), "varnet": object()})
    assert method_readiness(fitted)["laplace"] is None and method_readiness(fitted)["varnet"] is None


@pytest.mark.viewer
def test_the_method_menu_greys_out_what_the_model_cannot_run(make_napari_viewer_proxy, qtbot, tiny_model):
    pytest.importorskip("napari")
    from napari_ruac._napari.segment_widget import SegmentWidget

    viewer = make_napari_viewer_proxy()
    viewer.add_image(np.zeros((32, 32), np.uint8), name="img")
    widget = SegmentWidget(viewer)
    widget.controls.method.setCurrentText("laplace")
    widget.set_model(tiny_model)
    menu = widget.controls.method
    items = {menu.itemText(i): menu.model().item(i) for i in range(menu.count())}
    assert not items["laplace"].isEnabled() and "Laplace posterior" in items["laplace"].toolTip()
    assert not items["varnet"].isEnabled() and items["ruac"].isEnabled() and items["ruac"].toolTip() == ""
    assert menu.currentText() == "ruac-hyp" and items["ruac-hyp"].isEnabled()  # back to the default: a method it cannot run is not left chosen
