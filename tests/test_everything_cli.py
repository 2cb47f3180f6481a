"""``napari-ruac segment IMAGE --all`` and ``napari-ruac batch DIR --all``: labels, uncertainty and a
per-object CSV (ranked by uncertainty score, physical volume from the spacing, never a false unit)."""

from __future__ import annotations

import csv

import nibabel as nib
import numpy as np
import pytest

from napari_ruac.cli import main
from napari_ruac.everything.files import object_table, objects_csv_path, read_objects_csv, write_objects_csv
from napari_ruac.io import read_image

from fixture_models import blob_scene

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_segment_all_writes_labels_uncertainty_and_a_ranked_object_table(tmp_path, capsys):
    image, truth = blob_scene(seed=3, size=192, count=5)
    np.save(tmp_path / "blobs.npy", image)
    assert main(["segment", str(tmp_path / "blobs.npy"), "--all", "--model", "ruac-micro", "--device", "cpu",
                 "--grid", "8", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    labels = read_image(tmp_path / "out" / "blobs_labels.npy").array
    uncertainty = read_image(tmp_path / "out" / "blobs_uncertainty.npy").array
    rows = _rows(tmp_path / "out" / "blobs_objects.csv")
    assert labels.shape == uncertainty.shape == truth.shape and 4 <= labels.max() <= 6
    assert sorted(int(r["id"]) for r in rows) == list(range(1, labels.max() + 1))
    scores = [float(r["review_score"]) for r in rows]
    assert scores == sorted(scores, reverse=True) and [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    assert all(0.0 <= float(r["uncertainty_score"]) < float("inf") for r in rows)
    for r in rows:
        assert int(r["area"]) == (labels == int(r["id"])).sum()
        assert r["physical_unit"] == "pixels" and float(r["physical_volume"]) == int(r["area"])
        assert r["status"] == ""
    assert f"review first: object {rows[0]['id']}" in out


def test_batch_all_on_volumes_scales_by_spacing_without_a_false_unit(tmp_path, capsys):
    from napari_ruac.samples.nuclei import nuclei_stack

    folder = tmp_path / "in"
    folder.mkdir()
    stack = nuclei_stack(seed=3, shape=(6, 96, 96))
    nifti = nib.Nifti1Image(np.transpose(stack.image, (2, 1, 0)), np.diag([0.5, 0.5, 2.0, 1.0]))
    nib.save(nifti, folder / "bare.nii.gz")
    (folder / "broken.tif").write_bytes(b"not a tiff")
    argv = ["batch", str(folder), "--out", str(tmp_path / "out"), "--all", "--model", "ruac-micro", "--device", "cpu",
            "--grid", "4", "--seed-slices", "3", "--no-progress"]
    assert main(argv) == 1  # one failed file, the other done
    rows = _rows(tmp_path / "out" / "bare_objects.csv")
    assert rows and all(r["physical_unit"] == "units unknown (spacing applied)" for r in rows)
    assert all(float(r["physical_volume"]) == pytest.approx(int(r["area"]) * 0.5, rel=1e-4) for r in rows)
    assert all(r["seed_slice"] == "3" and int(r["z1"]) > int(r["z0"]) for r in rows)
    report = {r["file"]: r for r in _rows(tmp_path / "out" / "everything_report.csv")}
    assert report["bare.nii.gz"]["status"] == "done" and report["broken.tif"]["status"] == "failed"
    capsys.readouterr()
    assert main(argv) == 1  # rerun: the finished file is skipped, the broken one fails again
    assert "bare.nii.gz: already done" in capsys.readouterr().err


def test_segment_all_on_a_volume_segments_every_slice_by_default(tmp_path, capsys):
    # two discs that live only in the first and in the last quarter of a 12-slice stack, and one short one in
    # between: the middle slice holds none of them; segmenting every slice finds all three, each as one 3D object
    zz, yy, xx = np.mgrid[:12, :96, :96]
    top = (zz <= 3) & ((yy - 30) ** 2 + (xx - 30) ** 2 <= 12**2)
    bottom = (zz >= 7) & ((yy - 64) ** 2 + (xx - 64) ** 2 <= 12**2)
    short = (zz >= 3) & (zz <= 4) & ((yy - 70) ** 2 + (xx - 22) ** 2 <= 10**2)
    stack = np.where(top | bottom | short, 200, 20).astype(np.uint8)
    np.save(tmp_path / "stack.npy", stack)
    assert main(["segment", str(tmp_path / "stack.npy"), "--all", "--model", "ruac-micro", "--device", "cpu",
                 "--out", str(tmp_path / "out")]) == 0
    assert "segmenting each of the 12 slices and linking the objects through z" in capsys.readouterr().err
    labels = read_image(tmp_path / "out" / "stack_labels.npy").array
    for disc in (top, bottom, short):
        ids, counts = np.unique(labels[disc], return_counts=True)
        assert ids[np.argmax(counts)] > 0 and counts.max() > 0.7 * disc.sum()  # found, and as one object
    rows = _rows(tmp_path / "out" / "stack_objects.csv")
    assert len(rows) == 3 and sorted(int(r["z1"]) - int(r["z0"]) for r in rows) == [2, 4, 5]


def test_bad_all_arguments_are_clear_errors(tmp_path, capsys):
    np.save(tmp_path / "flat.npy", np.full((64, 64), 3, np.uint8))
    base = ["segment", str(tmp_path / "flat.npy"), "--all", "--model", "ruac-micro", "--device", "cpu"]
    assert main(base + ["--grid", "0"]) == 2
    assert "grid density points_per_side must be a positive" in capsys.readouterr().err
    assert main(base + ["--method", "tta"]) == 2
    assert "single images only; for segment-everything" in capsys.readouterr().err
    assert main(base + ["--box", "1", "1", "9", "9"]) == 2
    assert "drop --box" in capsys.readouterr().err
    assert main(base) == 0  # a constant image: no objects is a valid outcome, said so
    assert "0 objects, none found" in capsys.readouterr().out
    broken = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    broken[3, 3] = np.nan
    np.save(tmp_path / "nan.npy", broken)
    assert main(["segment", str(tmp_path / "nan.npy")] + base[2:]) == 2
    err = capsys.readouterr().err
    assert "NaN" in err and "segment all" not in err  # the error alone, no half-drawn progress bar


def test_object_csv_keeps_the_review_status_through_a_save_and_reload(tmp_path):
    from napari_ruac.everything import EverythingResult
    from napari_ruac.everything.result import row_for

    labels = np.zeros((20, 20), np.int32)
    labels[2:6, 2:6] = 1
    labels[10:15, 10:15] = 2
    unc = np.where(labels == 2, 0.6, 0.1).astype(np.float32)
    rows = [row_for(i, labels == i, unc, (0, 0), predicted_iou=0.9, stability=0.9) for i in (1, 2)]
    result = EverythingResult(labels=labels, uncertainty=unc, objects=rows)
    path = objects_csv_path(tmp_path / "cells_labels.tif")
    assert path.name == "cells_objects.csv"
    write_objects_csv(path, object_table(result, 0.25, "µm^2", statuses={2: "fixed", 1: "accepted"}))
    back = read_objects_csv(path)
    assert [(r["id"], r["rank"], r["status"]) for r in back] == [(2, 1, "fixed"), (1, 2, "accepted")]
    assert back[0]["physical_unit"] == "µm^2" and float(back[0]["physical_volume"]) == 25 * 0.25
    path.write_text(path.read_text().replace("fixed", "maybe"))
    with pytest.raises(ValueError, match="status 'maybe'"):
        read_objects_csv(path)
