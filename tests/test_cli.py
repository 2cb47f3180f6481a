"""The napari-ruac command line, end to end on real files (random weights, small sizes)."""

import json
import sys

import nibabel as nib
import numpy as np
import pytest
from skimage import data, io

from napari_ruac.cli import main
from napari_ruac.io import read_image, write_image

MODEL = ["--random-weights", "--model", "sam2.1_hiera_tiny", "--image-size", "256", "--device", "cpu"]


def test_segment_a_png_writes_mask_uncertainty_overlay_summary(tmp_path, capsys):
    image = tmp_path / "coins.png"
    io.imsave(image, data.coins())
    assert main(["segment", str(image), "--box", "60", "40", "120", "95", "--out", str(tmp_path / "out"), *MODEL]) == 0
    out = tmp_path / "out"
    mask = read_image(out / "coins_mask.png").array
    uncertainty = read_image(out / "coins_uncertainty.tif").array
    assert mask.shape == data.coins().shape and uncertainty.dtype == np.float32
    assert 0 <= uncertainty.min() and uncertainty.max() <= 1
    overlay = io.imread(out / "coins_overlay.png")
    assert overlay.ndim == 3 and overlay.shape[0] > 100
    summary = json.loads((out / "coins_summary.json").read_text())
    assert summary["method"] == "ruac-hyp" and summary["voxels"] == int((mask > 0).sum())
    assert "coins_mask.png" in capsys.readouterr().out


def test_segment_a_nifti_volume_keeps_its_geometry(tmp_path):
    rng = np.random.default_rng(0)
    volume = (rng.normal(0, 20, (5, 64, 72)) + 40).astype(np.int16)
    volume[:, 20:40, 25:50] += 300
    affine = np.diag([3.0, 0.8, 0.7, 1.0])
    affine[:3, 3] = [-50.0, 12.0, 7.5]
    path = write_image(tmp_path / "scan.nii.gz", volume, affine=affine, kind="image")
    code = main(
        ["segment", str(path), "--box", "25", "20", "50", "40", "--slice", "2", "--window", "-160", "240",
         "--method", "sam2", *MODEL]
    )
    assert code == 0
    source, mask_file = nib.load(path), nib.load(tmp_path / "scan_mask.nii.gz")
    assert np.allclose(source.affine, mask_file.affine) and mask_file.shape == source.shape
    uncertainty = nib.load(tmp_path / "scan_uncertainty.nii.gz")
    assert np.allclose(uncertainty.header.get_zooms(), source.header.get_zooms())
    summary = json.loads((tmp_path / "scan_summary.json").read_text())
    assert [s["z"] for s in summary["slices"]] == list(range(5))  # propagated through every slice
    assert [s["prompted"] for s in summary["slices"]].count(True) == 1


def test_segment_says_where_projection_tracking_refused_slices(tmp_path, capsys):
    """The shipped ruac-micro tracks by box projection; on the sample CT's low-contrast organ the track now
    holds through z (mask prompt + patience), and every slice it refused is printed with its reason."""
    from napari_ruac.samples import ct_phantom

    ct = ct_phantom(seed=0)
    path = write_image(tmp_path / "ct.nii.gz", ct.image, spacing=ct.spacing, kind="image")
    argv = ["segment", str(path), "--slice", "24", "--box", "23", "42", "72", "87", "--model", "ruac-micro",
            "--device", "cpu"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    summary = json.loads((tmp_path / "ct_summary.json").read_text())
    areas = {s["z"]: s["area"] for s in summary["slices"]}
    assert areas[23] > 0 and areas[25] > 0  # carried past the prompted slice both ways (it stopped at once before)
    stops = {s["z"]: s["stopped"] for s in summary["slices"] if s["stopped"]}
    assert stops, "the organ's ends are refused somewhere"
    for z, why in stops.items():
        assert why.startswith(("slice skipped: ", "tracking stopped: ")), why
        assert f"slice {z}: {why}" in printed
        assert areas[z] == 0
    assert ("prompt it with --slice to go on" in printed) == any(w.startswith("tracking stopped") for w in stops.values())


def test_info_lists_models_devices_and_methods(capsys):
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    for expected in ("sam2.1_hiera_tiny", "not cached", "cpu", "ruac-mc", "cache:"):
        assert expected in text


@pytest.mark.parametrize(
    "argv,message",
    [
        (["segment", "missing.png", "--box", "0", "0", "5", "5"], "does not exist"),
        (["download", "sam2.1_hiera_tiny"], "offline"),
        (["download"], "name a model"),
        (["segment", "{png}"], "give a prompt"),
        (["segment", "{png}", "--box", "500", "500", "600", "600", *MODEL], "outside"),
        (["segment", "{png}", "--points", "3;4", *MODEL], "X,Y pairs"),
        (["segment", "{png}", "--box", "0", "0", "5", "5", "--slice", "3", *MODEL], "2D image"),
        (["segment", "{png}", "--box", "0", "0", "5", "5", "--model", "/nope/model.pt"], "does not exist"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(tmp_path, capsys, argv, message):
    png = tmp_path / "cam.png"
    io.imsave(png, data.camera()[:64, :64])
    argv = [a.replace("{png}", str(png)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_demo_segments_the_bundled_samples(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative --out, as `make demo` gives it
    assert main(["demo", "--out", "demo", "--objects", "1", "--method", "sam2", *MODEL]) == 0
    report = (tmp_path / "demo" / "report.md").read_text()
    assert report.count("| nuclei") == 2 and "ct_phantom.nii.gz" in report
    assert list((tmp_path / "demo").rglob("*_overlay.png"))


def test_embed_then_segment_and_batch_reuse_the_cache(tmp_path, capsys):
    volume = (np.random.default_rng(3).normal(40, 8, (4, 48, 48)) + 0).astype(np.float32)
    volume[:, 15:35, 15:35] += 120
    path = write_image(tmp_path / "in" / "stack.nii.gz", volume, kind="image")
    micro = ["--model", "ruac-micro", "--device", "cpu"]
    assert main(["embed", str(path), "--cache", str(tmp_path / "cache"), *micro]) == 0
    assert "stack.zarr" in capsys.readouterr().out
    done = sorted(p.name for p in (tmp_path / "cache" / "stack.zarr" / "done").iterdir())
    assert done == ["0", "1", "2", "3"]
    argv = ["segment", str(path), "--box", "12", "12", "38", "38", "--slice", "1", "--cache", str(tmp_path / "cache"),
            "--out", str(tmp_path / "out"), *micro]  # fmt: skip
    assert main(argv) == 0 and "recomputing" not in capsys.readouterr().err
    assert main([*argv[:-4], "--window", "0", "300", "--out", str(tmp_path / "out2"), *micro]) == 0
    assert "computed for another window: recomputing" in capsys.readouterr().err  # never silently reused
    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "batch"), "--box", "12", "12", "38", "38",
                 "--cache", str(tmp_path / "cache"), "--no-progress", *micro]) == 0  # fmt: skip


def test_zoom_option_decodes_a_small_object_in_a_window(tmp_path, capsys):
    rng = np.random.default_rng(0)
    image = (rng.random((700, 700)) * 40).astype(np.uint8)
    image[400:416, 100:116] = 220
    path = tmp_path / "big.png"
    io.imsave(path, image, check_contrast=False)
    maps = {}
    for zoom in ("on", "off"):
        out = tmp_path / zoom
        assert main(["segment", str(path), "--box", "98", "398", "118", "418", "--zoom", zoom, "--out", str(out),
                     "--model", "ruac-micro"]) == 0
        maps[zoom] = read_image(out / "big_uncertainty.tif").array
    assert not maps["on"][:, 400:].any()  # outside the 256 px window around the box: absent, U = 0
    with pytest.raises(SystemExit):
        main(["segment", str(path), "--box", "98", "398", "118", "418", "--zoom", "maybe"])
    assert "invalid choice: 'maybe'" in capsys.readouterr().err


def test_progress_bars_redraw_rarely_when_stderr_is_a_log(monkeypatch):
    import io

    from napari_ruac.cli.common import LOG_REDRAW_S, progress_bar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a log file: no terminal
    bar = progress_bar(total=3, file=io.StringIO())
    assert bar.mininterval == LOG_REDRAW_S >= 1
    bar.close()
    monkeypatch.setattr(sys, "stderr", Terminal())
    bar = progress_bar(total=3, file=io.StringIO())
    assert bar.mininterval < 1  # tqdm's own default on a terminal
    bar.close()
