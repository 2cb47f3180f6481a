"""Inputs that used to give a wrong answer without a word: each now says so (issue 17, §1)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from napari_ruac.batch import run_batch
from napari_ruac.batch.report import read_report
from napari_ruac.cli import main
from napari_ruac.inference import ImagePredictor, VolumePredictor
from napari_ruac.io import ImageReadError, read_image, write_image
from napari_ruac.models.preprocess import ImageError
from napari_ruac.segmentation import SegmentationOutputs, overlay_slice, run_segmentation

pytestmark = pytest.mark.usefixtures("one_torch_thread")
MODEL = ["--random-weights", "--model", "sam2.1_hiera_tiny", "--image-size", "256", "--device", "cpu"]


def _truncate(path, fraction=1 / 3):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


@pytest.fixture
def stack(tmp_path):
    volume = (np.random.default_rng(0).random((24, 48, 48)) * 1000).astype(np.uint16)
    return volume


@pytest.mark.parametrize(
    "write",
    [
        lambda p, a: tifffile.imwrite(p, a, imagej=True, metadata={"axes": "ZYX", "spacing": 2.0}),
        lambda p, a: tifffile.imwrite(p, a, metadata={"axes": "ZYX"}),
        lambda p, a: tifffile.imwrite(p, a, ome=True, metadata={"axes": "ZYX"}),
    ],
    ids=["imagej", "shaped", "ome"],
)
def test_truncated_tiff_stack_is_an_error_not_a_2d_image(tmp_path, stack, write):
    path = tmp_path / "stack.ome.tif"
    write(path, stack)
    assert read_image(path).array.shape == stack.shape
    _truncate(path)
    with pytest.raises(ImageReadError, match="truncated|incomplete"):
        read_image(path)


def test_truncated_imagej_stack_says_how_many_images_it_promised(tmp_path, stack):
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, stack, imagej=True, metadata={"axes": "ZYX", "spacing": 2.0})
    _truncate(path)
    with pytest.raises(ImageReadError, match="promises 24 images but only 1"):
        read_image(path)


def test_truncated_stack_fails_in_segment_and_is_a_failed_batch_row(tmp_path, stack, tiny_model, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    tifffile.imwrite(folder / "cut.tif", stack, imagej=True, metadata={"axes": "ZYX", "spacing": 2.0})
    _truncate(folder / "cut.tif")
    assert main(["segment", str(folder / "cut.tif"), "--box", "5", "5", "30", "30", "--slice", "12", *MODEL]) == 2
    err = capsys.readouterr().err
    assert "truncated" in err and "2D image" not in err and "Traceback" not in err
    assert not list(folder.glob("cut_*"))

    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"cut.tif": [{"slice": 12, "box": [5, 5, 30, 30]}]}))
    summary = run_batch(folder, tmp_path / "out", prompts=prompts, model=tiny_model)
    assert (summary.ok, summary.failed) == (0, 1)
    (row,) = read_report(tmp_path / "out")
    assert row["status"] == "failed" and "truncated" in row["error"]


def test_constant_image_or_volume_has_no_object_to_find(tmp_path, tiny_model, capsys):
    with pytest.raises(ImageError, match="constant .* no object to find"):
        ImagePredictor(tiny_model).set_image(np.full((64, 64), 7, np.uint8))
    with pytest.raises(ImageError, match="volume is constant"):
        next(VolumePredictor(tiny_model).iter_segment(np.zeros((3, 64, 64), np.float32), {1: {"box": [5, 5, 30, 30]}}))
    png = write_image(tmp_path / "flat.png", np.full((64, 64), 128, np.uint8))
    assert main(["segment", str(png), "--box", "5", "5", "30", "30", "--out", str(tmp_path / "out"), *MODEL]) == 2
    err = capsys.readouterr().err
    assert "constant (every value is 128): there is no object to find" in err and "Traceback" not in err
    volume = write_image(tmp_path / "flat.nii.gz", np.zeros((3, 32, 32), np.float32), kind="image")
    assert main(["segment", str(volume), "--box", "5", "5", "20", "20", "--no-propagate", *MODEL]) == 2
    assert "no object to find" in capsys.readouterr().err
    # a constant slice inside a real volume is still segmented (padding slices are common)
    image = np.random.default_rng(1).random((3, 64, 64)).astype(np.float32)
    image[0] = 0
    results = list(VolumePredictor(tiny_model, tracking="projection").iter_segment(image, {1: {"box": [5, 5, 30, 30]}}))
    assert {r.z for r in results} == {0, 1, 2}


def test_empty_mask_is_reported():
    empty_2d = SegmentationOutputs(*(["x"] * 4), stats=dict(voxels=0, slices=[dict(iou=0.1, area=0)]))
    assert empty_2d.warnings and "the mask is empty" in empty_2d.warnings[0]
    lost_prompt = SegmentationOutputs(*(["x"] * 4), stats=dict(voxels=40, slices=[
        dict(z=3, area=0, prompted=True), dict(z=4, area=40, prompted=False)]))  # fmt: skip
    assert lost_prompt.empty_prompts == [3] and "prompted slice 3 is empty" in lost_prompt.warnings[0]
    fine = SegmentationOutputs(*(["x"] * 4), stats=dict(voxels=40, slices=[dict(z=3, area=40, prompted=True)]))
    assert fine.warnings == []


def test_cli_warns_when_the_prompt_found_nothing(tmp_path, capsys):
    """ruac-micro on a dark, flat-noise corner with a background click: no object, and it says so."""
    image = np.random.default_rng(0).normal(20, 2, (96, 96)).clip(0, 255).astype(np.uint8)
    image[40:70, 40:70] = 200
    png = write_image(tmp_path / "dark.png", image)
    argv = ["segment", str(png), "--points", "8,8", "--labels", "0", "--model", "ruac-micro", "--device", "cpu",
            "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((tmp_path / "out" / "dark_summary.json").read_text())
    assert summary["voxels"] == 0
    assert "warning: the mask is empty" in capsys.readouterr().err


def test_overlay_shows_the_prompted_slice_not_the_largest_mask(tmp_path, tiny_model, monkeypatch):
    scores = [dict(z=0, area=1517, prompted=False), dict(z=1, area=703, prompted=True), dict(z=2, area=1040)]
    assert overlay_slice(scores) == 1
    assert overlay_slice([dict(iou=0.9, area=10)]) is None  # 2D: no slice to choose

    import napari_ruac.segmentation as segmentation

    shown = {}
    real = segmentation.overlay_png

    def spy(*args, **kwargs):
        shown.update(z=kwargs.get("z"), note=kwargs.get("z_note"))
        return real(*args, **kwargs)

    monkeypatch.setattr(segmentation, "overlay_png", spy)
    volume = (np.random.default_rng(2).random((4, 48, 48)) * 100).astype(np.float32)
    path = write_image(tmp_path / "v.nii.gz", volume, kind="image")
    outputs = run_segmentation(path, tiny_model, {2: dict(box=[5, 5, 40, 40])}, method="sam2")
    assert shown == dict(z=2, note="prompted") and outputs.overlay.is_file()
