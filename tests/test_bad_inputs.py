"""The bad-input sweep (issue 17): what a new user gets wrong, through the CLI entry function in-process.

Every case ends in a one-line error naming the problem (exit status 2; batch: the number of failed
volumes) or in a documented success, never in a traceback, and leaves no stray output behind.
Inputs are generated in a temporary folder; the model is the shipped ruac-micro (fast, real).
"""

from __future__ import annotations

import gzip
import json

import nibabel as nib
import numpy as np
import pytest
import tifffile

from napari_ruac.cli import main
from napari_ruac.io import write_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")
MICRO = ["--model", "ruac-micro", "--device", "cpu"]
BOX = ["--box", "10", "10", "40", "40"]
NOTICES = ("no --slice given",)  # informational lines the CLI prints before the work (not errors)


def _image(seed=0, shape=(64, 64)):
    rng = np.random.default_rng(seed)
    image = rng.normal(40, 8, shape).clip(0, 255)
    image[..., 20:40, 20:40] += 150
    return image.clip(0, 255).astype(np.uint8)


def _make_inputs(root):
    """Every input file a case refers to, by name."""
    root.mkdir(exist_ok=True)
    files = {}

    def put(name, write):
        path = root / name
        write(path)
        files[name] = path

    put("good.png", lambda p: write_image(p, _image()))
    put("good.nii.gz", lambda p: write_image(p, _image(1, (5, 64, 64)).astype(np.int16), spacing=(2.0, 0.7, 0.7),
                                             kind="image"))  # fmt: skip
    put("good.tif", lambda p: write_image(p, _image(2, (4, 64, 64)), spacing=(2.0, 0.5, 0.5), unit="µm", kind="image"))
    put("empty.png", lambda p: p.write_bytes(b""))
    put("garbage.png", lambda p: p.write_bytes(b"\x89PNG not really" * 20))
    put("garbage.nii.gz", lambda p: p.write_bytes(b"\x1f\x8b\x08 not gzip"))
    put("garbage.nii", lambda p: p.write_bytes(b"not a nifti header" * 30))
    put("garbage.tif", lambda p: p.write_bytes(b"II*\x00" + b"\xff" * 64))
    put("notes.txt", lambda p: p.write_text("hello"))
    put("image.xyz", lambda p: p.write_bytes(b"1234"))

    def truncated_nifti(p):
        full = root / "full.nii.gz.src"
        nib.save(nib.Nifti1Image(np.zeros((64, 64, 20), np.float32), np.eye(4)), str(full) + ".nii.gz")
        raw = gzip.decompress((root / "full.nii.gz.src.nii.gz").read_bytes())
        p.write_bytes(gzip.compress(raw[: len(raw) // 3]))
        (root / "full.nii.gz.src.nii.gz").unlink()

    put("cut.nii.gz", truncated_nifti)

    def truncated_tiff(p, **kwargs):
        tifffile.imwrite(p, _image(3, (24, 48, 48)), **kwargs)
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 3])

    put("cut_imagej.tif", lambda p: truncated_tiff(p, imagej=True, metadata={"axes": "ZYX", "spacing": 2.0}))
    put("cut_ome.ome.tif", lambda p: truncated_tiff(p, ome=True, metadata={"axes": "ZYX"}))
    nan = _image().astype(np.float32)
    nan[5, 5] = np.nan
    put("nan.npy", lambda p: np.save(p, nan))
    inf = _image().astype(np.float32)
    inf[3, 3] = np.inf
    put("inf.npy", lambda p: np.save(p, inf))
    nan_volume = _image(1, (3, 64, 64)).astype(np.float32)
    nan_volume[1, 2, 2] = np.nan
    put("nan.nii.gz", lambda p: write_image(p, nan_volume, kind="image"))
    put("five_d.npy", lambda p: np.save(p, np.zeros((2, 3, 4, 32, 32), np.float32)))
    put("stack.npy", lambda p: np.save(p, _image(4, (4, 48, 48)).astype(np.float32)))
    put("one_d.npy", lambda p: np.save(p, np.arange(64, dtype=np.float32)))
    put("tiny.npy", lambda p: np.save(p, np.ones((1, 1), np.float32)))
    put("complex.npy", lambda p: np.save(p, np.ones((32, 32), np.complex64)))
    put("text.npy", lambda p: np.save(p, np.full((32, 32), "a")))
    put("object.npy", lambda p: np.save(p, np.array([{"a": 1}, None], dtype=object), allow_pickle=True))
    put("bool.npy", lambda p: np.save(p, _image() > 100))
    put("int64.npy", lambda p: np.save(p, _image().astype(np.int64) * 1000))
    put("rgba.png", lambda p: write_image(p, np.dstack([_image(), _image(1), _image(2), np.full((64, 64), 255, np.uint8)]), kind="image"))
    put("constant.png", lambda p: write_image(p, np.full((64, 64), 128, np.uint8)))
    put("constant.nii.gz", lambda p: write_image(p, np.zeros((3, 32, 32), np.float32), kind="image"))
    movie = np.stack([_image(s, (4, 64, 64)) for s in range(3)])  # T, Z, Y, X
    put("movie.tif", lambda p: tifffile.imwrite(p, movie, imagej=True, metadata={"axes": "TZYX"}))
    channels = np.stack([_image(0, (4, 64, 64)), _image(1, (4, 64, 64))], axis=1)  # Z, C, Y, X
    put("channels.tif", lambda p: tifffile.imwrite(p, channels, imagej=True, metadata={"axes": "ZCYX"}))
    four_d = np.stack([_image(s, (3, 64, 64)) for s in range(2)], axis=-1).transpose(2, 1, 0, 3).astype(np.int16)
    put("four_d.nii.gz", lambda p: nib.save(nib.Nifti1Image(four_d, np.eye(4)), p))
    put("folder", lambda p: p.mkdir())
    put("a_file", lambda p: p.write_text("in the way"))
    put("corrupt.safetensors", lambda p: p.write_bytes(b"\x00" * 40))
    put("corrupt.pt", lambda p: p.write_bytes(b"PK\x03\x04 not a zip"))
    return files


def _batch_inputs(root):
    good = root / "batch_in"
    good.mkdir()
    write_image(good / "a.png", _image())
    write_image(good / "b.png", _image(5))
    (root / "batch_empty").mkdir()
    (root / "prompts.json").write_text(json.dumps({"a.png": [{"box": [10, 10, 40, 40]}], "b.png": [{"box": [5, 5, 30, 30]}]}))
    (root / "bad.json").write_text("{not json")
    (root / "unknown.json").write_text(json.dumps({"zzz.png": [{"box": [1, 1, 9, 9]}]}))
    (root / "bad.csv").write_text("name,what\nx,y\n")
    movies = root / "batch_movies"  # time series and multi-channel stacks: batch needs --timepoint / --channel
    movies.mkdir()
    stack = np.stack([_image(s, (4, 64, 64)) for s in range(3)])
    tifffile.imwrite(movies / "movie.tif", stack, imagej=True, metadata={"axes": "TZYX"})
    tifffile.imwrite(movies / "channels.tif", stack[:2].transpose(1, 0, 2, 3), imagej=True, metadata={"axes": "ZCYX"})
    mixed = root / "batch_mixed"
    mixed.mkdir()
    write_image(mixed / "a.png", _image())
    (mixed / "broken.png").write_bytes(b"\x89PNG broken" * 10)


# (argv, exit status, text the error line must contain); {name} is an input file, {out} a fresh output folder
SEGMENT = ["segment"]
CASES = [
    # ---- files that cannot be read
    (SEGMENT + ["{missing.png}", *BOX], 2, "does not exist"),
    (SEGMENT + ["{folder}", *BOX], 2, "is a folder"),
    (SEGMENT + ["{image.xyz}", *BOX], 2, "unsupported file type"),
    (SEGMENT + ["{notes.txt}", *BOX], 2, "unsupported file type"),
    (SEGMENT + ["{empty.png}", *BOX], 2, "is empty (0 bytes)"),
    (SEGMENT + ["{garbage.png}", *BOX], 2, "garbage.png"),
    (SEGMENT + ["{garbage.nii.gz}", *BOX], 2, "garbage.nii.gz"),
    (SEGMENT + ["{garbage.nii}", *BOX], 2, "garbage.nii"),
    (SEGMENT + ["{garbage.tif}", *BOX], 2, "Cannot read TIFF"),
    (SEGMENT + ["{cut.nii.gz}", *BOX], 2, "cut.nii.gz"),
    (SEGMENT + ["{cut_imagej.tif}", *BOX, "--slice", "12"], 2, "promises 24 images"),
    (SEGMENT + ["{cut_ome.ome.tif}", *BOX], 2, "truncated"),
    # ---- values and shapes the model cannot use
    (SEGMENT + ["{nan.npy}", *BOX, *MICRO], 2, "NaN or infinite"),
    (SEGMENT + ["{inf.npy}", *BOX, *MICRO], 2, "NaN or infinite"),
    (SEGMENT + ["{nan.nii.gz}", *BOX, *MICRO], 2, "NaN or infinite"),
    (SEGMENT + ["{five_d.npy}", *BOX], 2, "cannot tell which axes"),
    (SEGMENT + ["{one_d.npy}", *BOX], 2, "one_d.npy"),
    (SEGMENT + ["{tiny.npy}", *BOX, *MICRO], 2, "at least 2×2"),
    (SEGMENT + ["{complex.npy}", *BOX, *MICRO], 2, "complex"),
    (SEGMENT + ["{text.npy}", *BOX, *MICRO], 2, "text.npy"),
    (SEGMENT + ["{object.npy}", *BOX], 2, "object.npy"),
    (SEGMENT + ["{constant.png}", *BOX, *MICRO], 2, "no object to find"),
    (SEGMENT + ["{constant.nii.gz}", *BOX, *MICRO], 2, "no object to find"),
    # ---- time points and channels: CLI options, named as options
    (SEGMENT + ["{movie.tif}", *BOX], 2, "--timepoint N"),
    (SEGMENT + ["{movie.tif}", *BOX, "--timepoint", "7"], 2, "--timepoint 7 is outside 0…2"),
    (SEGMENT + ["{good.tif}", *BOX, "--timepoint", "1"], 2, "has no time axis"),
    (SEGMENT + ["{channels.tif}", *BOX, "--channel", "4"], 2, "--channel 4 is outside 0…1"),
    (SEGMENT + ["{good.tif}", *BOX, "--channel", "1"], 2, "has a single channel"),
    (SEGMENT + ["{four_d.nii.gz}", *BOX], 2, "--timepoint N"),
    (SEGMENT + ["{four_d.nii.gz}", *BOX, "--timepoint", "5"], 2, "--timepoint 5 is outside 0…1"),
    (SEGMENT + ["{good.nii.gz}", *BOX, "--channel", "1"], 2, "--channel"),
    (SEGMENT + ["{stack.npy}", *BOX, "--channel-axis", "7"], 2, "--channel-axis 7 is outside the 3 axes"),
    # ---- prompts
    (SEGMENT + ["{good.png}"], 2, "give a prompt"),
    (SEGMENT + ["{good.png}", "--box", "500", "500", "600", "600", *MICRO], 2, "outside"),
    (SEGMENT + ["{good.png}", "--box", "-90", "-90", "-10", "-10", *MICRO], 2, "outside"),
    (SEGMENT + ["{good.png}", "--box", "10", "10", "10", "10", *MICRO], 2, "box"),
    (SEGMENT + ["{good.png}", "--box", "0", "0", "0", "0", *MICRO], 2, "box"),
    (SEGMENT + ["{good.png}", "--box", "40", "40", "10", "10", *MICRO], 2, "box"),
    (SEGMENT + ["{good.png}", "--box", "nan", "10", "40", "40", *MICRO], 2, "box"),
    (SEGMENT + ["{good.png}", "--points", "3;4", *MICRO], 2, "X,Y pairs"),
    (SEGMENT + ["{good.png}", "--points", "a,b", *MICRO], 2, "X,Y pairs"),
    (SEGMENT + ["{good.png}", "--points", "900,900", *MICRO], 2, "outside"),
    (SEGMENT + ["{good.png}", "--points", "30,30", "--labels", "1", "0", *MICRO], 2, "label"),
    (SEGMENT + ["{good.png}", "--points", "30,30", "--labels", "5", *MICRO], 2, "label"),
    (SEGMENT + ["{good.png}", *BOX, "--slice", "3", *MICRO], 2, "2D image"),
    (SEGMENT + ["{good.nii.gz}", *BOX, "--slice", "40", *MICRO], 2, "outside"),
    (SEGMENT + ["{good.nii.gz}", *BOX, "--slice", "-2", *MICRO], 2, "outside"),
    # ---- options
    (SEGMENT + ["{good.png}", *BOX, "--window", "200", "100", *MICRO], 2, "window"),
    (SEGMENT + ["{good.png}", *BOX, "--window", "5", "5", *MICRO], 2, "window"),
    (SEGMENT + ["{good.png}", *BOX, "--model", "sam3_huge"], 2, "unknown model 'sam3_huge'"),
    (SEGMENT + ["{good.png}", *BOX, "--model", "/nope/model.pt"], 2, "does not exist"),
    (SEGMENT + ["{good.png}", *BOX, "--model", "{folder}"], 2, "is a folder"),
    (SEGMENT + ["{good.png}", *BOX, "--model", "{corrupt.safetensors}", "--device", "cpu"], 2, "corrupt.json beside it"),
    (SEGMENT + ["{good.png}", *BOX, "--model", "{corrupt.pt}", "--device", "cpu"], 2, "corrupt.pt"),
    (SEGMENT + ["{good.png}", *BOX, "--model", "ruac-micro", "--device", "gpu0"], 2, "--device 'gpu0' is not a device"),
    (SEGMENT + ["{good.png}", *BOX, "--model", "ruac-micro", "--device", "cuda:7"], 2, "--device"),
    (SEGMENT + ["{good.png}", *BOX, *MICRO, "--method", "magic"], 2, "unknown method 'magic'"),
    (SEGMENT + ["{good.nii.gz}", *BOX, *MICRO, "--method", "tta"], 2, "single images only"),
    (SEGMENT + ["{good.png}", *BOX, *MICRO, "--method", "laplace"], 2, "needs a fitted posterior"),
    (SEGMENT + ["{good.png}", *BOX, *MICRO, "--method", "varnet"], 2, "variance network"),
    (SEGMENT + ["{good.png}", *BOX, *MICRO, "--method", "ruac-mc", "--num-samples", "0"], 2, "--num-samples"),
    (SEGMENT + ["{good.png}", *BOX, *MICRO, "--num-samples", "-3"], 2, "--num-samples"),
    (SEGMENT + ["{good.png}", *BOX, *MICRO, "--out", "{a_file}"], 2, "--out"),
    (SEGMENT + ["{good.png}", *BOX, *MICRO, "--out", "{a_file}/sub"], 2, "--out"),
    (SEGMENT + ["{good.png}", *BOX, *MICRO, "--out", "/proc/ruac-out"], 2, "--out /proc/ruac-out: no permission"),
    (SEGMENT + ["{good.png}", *BOX, *MICRO, "--ruac-checkpoint", "/nope/head.safetensors"], 2, "does not exist"),
    (SEGMENT + ["{good.png}", *BOX, "--model", "{corrupt.pt}", "--config", "nope.yaml", "--device", "cpu"], 2,
     "not a readable PyTorch checkpoint"),  # fmt: skip
    # ---- batch
    (["batch", "{missing_dir}", "--out", "{out}", "--prompts", "{prompts.json}", *MICRO], 2, "does not exist"),
    (["batch", "{batch_empty}", "--out", "{out}", "--prompts", "{prompts.json}", *MICRO], 2, "no images in"),
    (["batch", "{batch_in}", "--out", "{batch_in}", "--prompts", "{prompts.json}", *MICRO], 2, "is the input folder"),
    (["batch", "{batch_in}", "--out", "{out}", *MICRO], 2, "give prompts"),
    (["batch", "{batch_in}", "--out", "{out}", "--prompts", "{nope.json}", *MICRO], 2, "nope.json"),
    (["batch", "{batch_in}", "--out", "{out}", "--prompts", "{bad.json}", *MICRO], 2, "bad.json"),
    (["batch", "{batch_in}", "--out", "{out}", "--prompts", "{bad.csv}", *MICRO], 2, "bad.csv"),
    (["batch", "{batch_in}", "--out", "{out}", "--prompts", "{unknown.json}", *MICRO], 2, "zzz.png"),
    (["batch", "{batch_in}", "--out", "{a_file}", "--prompts", "{prompts.json}", *MICRO], 2, "--out"),
    (["batch", "{batch_in}", "--out", "{out}", "--prompts", "{prompts.json}", "--model", "sam3_huge"], 2, "unknown model"),
    (["batch", "{batch_in}", "--out", "{out}", "--prompts", "{prompts.json}", "--model", "ruac-micro", "--device", "gpu0"],
     2, "--device 'gpu0'"),  # fmt: skip
    (["batch", "{batch_in}", "--out", "{out}", "--prompts", "{prompts.json}", *MICRO, "--method", "magic"], 2, "magic"),
    # ---- other commands
    (["embed", "{good.nii.gz}", *MICRO], 2, "--cache DIR"),
    (["embed", "{good.nii.gz}", "--cache", "{a_file}", *MICRO], 2, "--cache"),
    (["embed", "{constant.nii.gz}", "--cache", "{out}", *MICRO], 2, "no object to find"),
    (["embed", "{good.nii.gz}", "--cache", "{out}", *MICRO, "--window", "3", "1"], 2, "--window LOW HIGH needs LOW < HIGH"),
    (["download", "sam3_huge"], 2, "sam3_huge"),
    (["download"], 2, "name a model"),
    (["download", "sam2.1_hiera_tiny"], 2, "offline"),
]
# documented successes: (argv, exit status, text printed)
SUCCESSES = [
    (SEGMENT + ["{good.png}", *BOX, *MICRO, "--out", "{out}"], 0, "mask:"),
    (SEGMENT + ["{bool.npy}", *BOX, *MICRO, "--out", "{out}"], 0, "mask:"),
    (SEGMENT + ["{int64.npy}", *BOX, *MICRO, "--out", "{out}"], 0, "mask:"),
    (SEGMENT + ["{rgba.png}", *BOX, *MICRO, "--out", "{out}"], 0, "mask:"),
    (SEGMENT + ["{movie.tif}", *BOX, *MICRO, "--timepoint", "1", "--out", "{out}"], 0, "mask:"),
    (SEGMENT + ["{channels.tif}", *BOX, *MICRO, "--channel", "1", "--out", "{out}"], 0, "mask:"),
    (SEGMENT + ["{four_d.nii.gz}", *BOX, *MICRO, "--timepoint", "1", "--out", "{out}"], 0, "mask:"),
    (SEGMENT + ["{good.png}", "--box", "-20", "-20", "40", "40", *MICRO, "--out", "{out}"], 0, "mask:"),  # clipped
    (["batch", "{batch_mixed}", "--out", "{out}", "--box", "10", "10", "40", "40", *MICRO, "--no-progress"], 1, "ok"),
    # batch: a time series without --timepoint is a failed row that names the option (exit status 2 = two failed)
    (["batch", "{batch_movies}", "--out", "{out}", "--box", "10", "10", "40", "40", *MICRO, "--no-progress"], 2,
     "--timepoint N"),
    (["batch", "{batch_movies}", "--out", "{out}", "--box", "10", "10", "40", "40", *MICRO, "--no-progress",
      "--timepoint", "1", "--channel", "0"], 1, "ok"),  # the movie has no channels: one failed row, one ok
    (["batch", "{batch_movies}", "--out", "{out}", "--all", *MICRO, "--no-progress", "--timepoint", "2"], 1,
     "has no time axis"),  # --all too: the movie is segmented at t=2; the channel stack has no time axis
    (["info"], 0, "✗ laplace"),  # the default model has no fitted posterior: info says so, and how to fit one
    (["embed", "{good.nii.gz}", "--cache", "{out}", *MICRO], 0, "embeddings:"),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_inputs")
    files = _make_inputs(root / "files")
    _batch_inputs(root / "files")
    return root / "files", files


def _fill(argv, folder, out):
    filled = []
    for arg in argv:
        if arg.startswith("{") and "}" in arg:
            name, rest = arg[1:].split("}", 1)
            filled.append(str(out) + rest if name == "out" else str(folder / name) + rest)
        else:
            filled.append(arg)
    return filled


def _snapshot(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _run(argv, inputs, tmp_path, capsys):
    folder, _ = inputs
    out = tmp_path / "out"
    before = _snapshot(folder)
    code = main(_fill(argv, folder, out))
    captured = capsys.readouterr()
    assert _snapshot(folder) == before, "outputs went next to the inputs or inputs changed"
    return code, captured, out


@pytest.mark.parametrize("argv,status,text", CASES, ids=[f"{i:02d}-{c[0][0]}-{c[2][:30]}" for i, c in enumerate(CASES)])
def test_bad_input_gives_one_clear_line(argv, status, text, inputs, tmp_path, capsys):
    code, captured, out = _run(argv, inputs, tmp_path, capsys)
    err = captured.err
    assert code == status, err
    assert "Traceback" not in err and "Traceback" not in captured.out
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(NOTICES)]
    assert len(lines) == 1 or (lines[0].startswith("usage:") and len([x for x in lines if "error:" in x]) == 1), err
    assert text in lines[-1], err
    assert not out.exists(), f"a failed run left {out}"


@pytest.mark.parametrize("argv,status,text", SUCCESSES, ids=[f"ok-{i:02d}" for i in range(len(SUCCESSES))])
def test_documented_successes(argv, status, text, inputs, tmp_path, capsys):
    code, captured, out = _run(argv, inputs, tmp_path, capsys)
    assert code == status, captured.err
    assert "Traceback" not in captured.err
    assert text in captured.out + captured.err
    if out.exists():
        assert not [p for p in out.rglob("*") if ".tmp" in p.name]  # no half-written files


def test_the_sweep_is_as_large_as_the_issue_says():
    assert len(CASES) + len(SUCCESSES) >= 69
