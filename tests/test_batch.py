"""Batch runs in this process: outputs and geometry, report numbers, failures, resume, prompt sources, cancel."""

from __future__ import annotations

import json
import os

import nibabel as nib
import numpy as np
import pytest
from fixture_models import blob_scene
from scipy import ndimage

from napari_ruac.batch import (
    BatchStateError,
    LabelPrompts,
    TemplatePrompt,
    VolumeDone,
    iter_batch,
    read_report,
    run_batch,
)
from napari_ruac.batch.volume import physical_volume_unit
from napari_ruac.core.boxes import box_on_largest_slice
from napari_ruac.core.progress import Progress
from napari_ruac.inference import ImagePredictor, VolumePredictor
from napari_ruac.io import read_image, write_image


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def blob_volume(seed: int, slices: int = 3, size: int = 64, count: int = 2):
    """A small stack: one blob scene repeated with fresh noise per slice, and its labels."""
    image, labels = blob_scene(seed=seed, size=size, count=count)
    rng = np.random.default_rng(seed)
    stack = np.stack([np.clip(image + rng.normal(0, 6, image.shape), 0, 255) for _ in range(slices)])
    return stack.astype(np.float32), np.stack([labels] * slices)


def box(mask2d):
    return box_on_largest_slice(mask2d)[1]


def _files(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()}


def _leftovers(folder):
    return [p for p in folder.rglob("*") if ".tmp" in p.name]


@pytest.fixture
def batch_inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    ct, ct_labels = blob_volume(1)
    affine = np.array([[0.0, 0.0, -0.9, 40.0], [0.0, 0.7, 0.0, -12.0], [2.5, 0.0, 0.0, 7.5], [0, 0, 0, 1]])
    write_image(folder / "ct.nii.gz", ct, affine=affine, kind="image")
    cells, cells_labels = blob_volume(2, count=1)
    write_image(folder / "cells.tif", cells.astype(np.uint16), spacing=(2.0, 0.5, 0.5), unit="µm", kind="image")
    flat, flat_labels = blob_scene(seed=3, size=64, count=2)
    write_image(folder / "flat.png", flat, kind="image")
    (folder / "broken.nii.gz").write_bytes(b"\x1f\x8b\x08 this is not a gzip stream")
    write_image(folder / "outside.tif", cells.astype(np.uint16), kind="image")
    prompts = {
        "ct.nii.gz": [
            {"object": 1, "slice": 1, "box": box(ct_labels[1] == 1)},
            {"object": 2, "slice": 1, "points": [np.argwhere(ct_labels[1] == 2).mean(0)[::-1].tolist()]},
        ],
        "cells": [{"slice": 0, "box": box(cells_labels[0] == 1)}],
        "flat.png": [{"object": 4, "box": box(flat_labels == 1)}, {"object": 9, "box": box(flat_labels == 2)}],
        "broken.nii.gz": [{"box": [1, 1, 9, 9]}],
        "outside.tif": [{"slice": 7, "box": [1, 1, 9, 9]}],
    }
    (tmp_path / "prompts.json").write_text(json.dumps(prompts))
    return folder, tmp_path / "prompts.json", prompts


def test_batch_writes_outputs_in_the_inputs_geometry_and_reports_failures(tiny_model, batch_inputs, tmp_path):
    folder, prompt_file, prompts = batch_inputs
    out = tmp_path / "out"
    events = []
    summary = run_batch(folder, out, prompts=prompt_file, model=tiny_model, on_event=events.append)
    assert (summary.inputs, summary.ok, summary.failed, summary.skipped) == (5, 3, 2, 0)
    assert "not a gzip" in summary.failures["broken.nii.gz"] or "broken.nii.gz" in summary.failures["broken.nii.gz"]
    assert "slice 7 is outside the volume's 3 slices" in summary.failures["outside.tif"]
    assert [e.done for e in events if isinstance(e, VolumeDone)] == [1, 2, 3, 4, 5]

    # NIfTI: affine and header geometry kept; labels and uncertainty equal VolumePredictor's own assembly
    source = nib.load(folder / "ct.nii.gz")
    for name in ("ct_mask.nii.gz", "ct_uncertainty.nii.gz"):
        written = nib.load(out / name)
        np.testing.assert_allclose(written.affine, source.affine)
        assert written.header.get_zooms() == source.header.get_zooms()
        assert int(written.header["sform_code"]) == int(source.header["sform_code"])
    ct = read_image(folder / "ct.nii.gz")
    objects = {
        r["object"]: {r["slice"]: {k: v for k, v in r.items() if k in ("box", "points")}} for r in prompts["ct.nii.gz"]
    }
    reference = VolumePredictor(tiny_model).segment_objects(ct.array, objects)
    np.testing.assert_array_equal(read_image(out / "ct_mask.nii.gz").array, reference.labels)
    np.testing.assert_allclose(read_image(out / "ct_uncertainty.nii.gz").array, reference.uncertainty, atol=1e-6)

    # TIFF: spacing and unit kept
    cells = read_image(folder / "cells.tif")
    for name in ("cells_mask.tif", "cells_uncertainty.tif"):
        written = read_image(out / name)
        assert written.spacing == cells.spacing == (2.0, 0.5, 0.5)
        assert written.unit == cells.unit == "µm"
        assert written.array.shape == cells.array.shape

    # 2D PNG: each object's pixels come from its own prediction
    flat = read_image(folder / "flat.png")
    predictor = ImagePredictor(tiny_model)
    predictor.set_image(flat.array)
    labels = read_image(out / "flat_mask.png").array
    masks = {r["object"]: predictor.predict(box=r["box"]).mask for r in prompts["flat.png"]}
    for object_id, mask in masks.items():
        assert (labels == object_id).any() and mask[labels == object_id].all()
    np.testing.assert_array_equal(labels > 0, masks[4] | masks[9])

    rows = read_report(out)
    by_volume = {}
    for row in rows:
        by_volume.setdefault(row["volume"], []).append(row)
    assert sorted(by_volume) == ["broken.nii.gz", "cells.tif", "ct.nii.gz", "flat.png", "outside.tif"]
    assert [r["status"] for r in by_volume["outside.tif"]] == ["failed"]
    assert "outside" in by_volume["outside.tif"][0]["error"]
    zooms = np.prod(source.header.get_zooms())
    for row in by_volume["ct.nii.gz"]:
        voxels = int((reference.labels == int(row["object"])).sum())
        assert int(row["voxels"]) == voxels
        assert float(row["physical_volume"]) == pytest.approx(voxels * zooms, rel=1e-5)
        assert row["prompt_slices"] == "1" and row["status"] == "ok"
    assert [r["object"] for r in by_volume["flat.png"]] == ["4", "9"]
    assert by_volume["flat.png"][0]["physical_unit"] == "pixels"  # no spacing, no unit: counted in pixels

    # single-object volume: the report's uncertainty numbers from the files (mask dilated by 2 px per slice)
    mask = read_image(out / "cells_mask.tif").array == 1
    uncertainty = read_image(out / "cells_uncertainty.tif").array
    region = np.stack([ndimage.binary_dilation(m, iterations=2) for m in mask])
    (row,) = by_volume["cells.tif"]
    assert float(row["mean_uncertainty"]) == pytest.approx(uncertainty[region].mean(), rel=1e-4)
    assert float(row["max_uncertainty"]) == pytest.approx(uncertainty[region].max(), rel=1e-4)
    assert float(row["uncertain_fraction"]) == pytest.approx((uncertainty[region] >= 0.5).mean(), rel=1e-4)
    assert float(row["physical_volume"]) == pytest.approx(mask.sum() * 0.5, rel=1e-5)
    assert row["physical_unit"] == "µm^3"

    # a rerun skips the finished volumes (files untouched), retries the failed ones, keeps one row each
    before = _files(out)
    again = run_batch(folder, out, prompts=prompt_file, model=tiny_model)
    assert (again.ok, again.failed, again.skipped) == (0, 2, 3)
    assert _files(out) == {**before, "report.csv": _files(out)["report.csv"]}
    rows_again = read_report(out)
    assert sorted((r["volume"], r["object"], r["status"]) for r in rows_again) == sorted(
        (r["volume"], r["object"], r["status"]) for r in rows
    )
    assert not _leftovers(out)

    # other settings in the same folder are refused
    with pytest.raises(BatchStateError, match=r"other settings \(changed: method\)"):
        run_batch(folder, out, prompts=prompt_file, model=tiny_model, method="sam2")


@pytest.fixture
def labelled_volume(tmp_path):
    folder = tmp_path / "in"
    (folder / "labels").mkdir(parents=True)
    image, labels = blob_volume(5, slices=2)
    labels[0, labels[0] == 2] = 0  # object 2 only on slice 1: its largest slice
    write_image(folder / "v.tif", image.astype(np.uint16), kind="image")
    write_image(folder / "labels" / "v.tif", labels.astype(np.uint8))
    return folder, labels


def test_label_files_csv_json_and_template_prompts_agree(tiny_model, labelled_volume, tmp_path):
    folder, labels = labelled_volume
    from_labels = run_batch(folder, tmp_path / "labels_out", prompts=LabelPrompts(), model=tiny_model)
    assert from_labels.ok == 1
    rows = read_report(tmp_path / "labels_out")
    assert [(r["object"], r["prompt_slices"]) for r in rows] == [("1", "0"), ("2", "1")]

    (z1, box1), (z2, box2) = box_on_largest_slice(labels == 1), box_on_largest_slice(labels == 2)
    csv_lines = [
        "file,object,slice,x0,y0,x1,y1",
        f"v.tif,1,{z1},{','.join(map(str, box1))}",
        f"v,2,{z2},{','.join(map(str, box2))}",  # by stem
    ]
    (tmp_path / "p.csv").write_text("\n".join(csv_lines) + "\n")
    run_batch(folder, tmp_path / "csv_out", prompts=tmp_path / "p.csv", model=tiny_model)
    for name in ("v_mask.tif", "v_uncertainty.tif"):
        np.testing.assert_array_equal(
            read_image(tmp_path / "labels_out" / name).array, read_image(tmp_path / "csv_out" / name).array
        )

    template = TemplatePrompt(box=box2, slice=1)
    run_batch(folder, tmp_path / "template_out", prompts=template, model=tiny_model)
    (tmp_path / "one.json").write_text(json.dumps([{"file": "v.tif", "object": 1, "slice": 1, "box": box2}]))
    run_batch(folder, tmp_path / "json_out", prompts=tmp_path / "one.json", model=tiny_model)
    template_mask = read_image(tmp_path / "template_out" / "v_mask.tif").array
    np.testing.assert_array_equal(template_mask, read_image(tmp_path / "json_out" / "v_mask.tif").array)
    assert set(np.unique(template_mask)) <= {0, 1}


def test_label_file_of_the_wrong_shape_fails_that_volume_only(tiny_model, labelled_volume, tmp_path):
    folder, labels = labelled_volume
    image, _ = blob_volume(6, slices=2)
    write_image(folder / "w.tif", image.astype(np.uint16), kind="image")
    write_image(folder / "labels" / "w.tif", labels[:, :32].astype(np.uint8))
    summary = run_batch(folder, tmp_path / "out", prompts=LabelPrompts(), model=tiny_model)
    assert (summary.ok, summary.failed) == (1, 1)
    assert "label file w.tif has shape (2, 32, 64)" in summary.failures["w.tif"]
    assert (tmp_path / "out" / "v_mask.tif").is_file() and not (tmp_path / "out" / "w_mask.tif").exists()
    log = tmp_path / "out" / ".ruac-batch" / "failed" / "w.tif.log"
    assert "BatchPromptError" in log.read_text()


def test_cancelled_volume_leaves_nothing_and_is_redone(tiny_model, labelled_volume, tmp_path):
    folder, _ = labelled_volume
    out = tmp_path / "out"
    events = iter_batch(folder, out, prompts=LabelPrompts(), model=tiny_model)
    for event in events:
        if isinstance(event, Progress):
            assert event.stage == "slice" and event.item == "v.tif"
            break
    events.close()
    assert not (out / "v_mask.tif").exists() and not (out / ".ruac-batch" / "done" / "v.tif.json").exists()
    assert not _leftovers(out) and not (out / ".ruac-batch" / "lock").exists()
    assert [r["volume"] for r in read_report(out)] == []
    summary = run_batch(folder, out, prompts=LabelPrompts(), model=tiny_model)
    assert (summary.ok, summary.skipped) == (1, 0)
    assert os.path.isfile(out / "v_mask.tif")


def test_volume_of_a_nifti_without_units_never_claims_a_unit(tiny_model, tmp_path):
    """0.7×0.7×2.0 spacing, no xyzt unit: the volume is scaled but the unit is not made up (was 'px^3')."""
    folder = tmp_path / "in"
    folder.mkdir()
    image, labels = blob_volume(4, slices=2, count=1)
    nifti = nib.Nifti1Image(np.transpose(image, (2, 1, 0)), np.diag([0.7, 0.7, 2.0, 1.0]))
    assert nifti.header.get_xyzt_units() == ("unknown", "unknown")
    nib.save(nifti, folder / "bare.nii.gz")
    data = read_image(folder / "bare.nii.gz")
    assert data.unit is None and data.spacing == pytest.approx((2.0, 0.7, 0.7))
    assert physical_volume_unit(data) == (pytest.approx(0.98), "units unknown (spacing applied)")
    plain = read_image(folder / "bare.nii.gz")
    plain.spacing = (1.0, 1.0, 1.0)
    assert physical_volume_unit(plain) == (1.0, "voxels")

    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"bare.nii.gz": [{"slice": 0, "box": box(labels[0] == 1)}]}))
    run_batch(folder, tmp_path / "out", prompts=prompts, model=tiny_model)
    (row,) = read_report(tmp_path / "out")
    assert row["status"] == "ok" and row["physical_unit"] == "units unknown (spacing applied)"
    assert float(row["physical_volume"]) == pytest.approx(int(row["voxels"]) * 0.98, rel=1e-5)
