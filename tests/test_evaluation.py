"""Evaluation runner: object splitting (paper rule), CT normalisation, dataset discovery, and a
full resumable run on a tiny generated dataset (CSV, markdown, PNGs)."""

from __future__ import annotations

import csv
from pathlib import Path

import imageio.v3 as iio
import nibabel as nib
import numpy as np
import pytest

from fixture_models import blob_scene
from napari_ruac.core.intensity import ct_normalise
from napari_ruac.core.objects import split_objects
from napari_ruac.core.progress import Progress
from napari_ruac.evaluation import DatasetError, find_pairs, iter_items, run_evaluation
from napari_ruac.evaluation.events import EvaluationDone, EvaluationStarted, ImageDone
from napari_ruac.cli import evaluate as evaluate_cli
from napari_ruac.evaluation.gt_prompts import make_prompt, object_rng
from napari_ruac.metrics import EVALUATE_KEYS


def test_components_follow_the_paper_rule():
    mask = np.zeros((60, 60), bool)
    mask[5:25, 5:25] = True
    mask[5:25, 26:40] = True  # 1-px gap: closing joins it to the first square
    mask[40:55, 40:55] = True  # separate
    mask[0:3, 57:60] = True  # tiny, touching the border: dropped by min_area
    objects = split_objects(mask, min_area=20)
    assert [name for name, _ in objects] == ["cc0", "cc1"]
    joined, separate = objects[0][1], objects[1][1]
    assert joined.sum() == 20 * 20 + 20 * 14  # AND with the original: the gap is not added
    assert separate.sum() == 15 * 15
    border = np.zeros((30, 30), bool)
    border[0:12, 0:12] = True
    (_, only), = split_objects(border, min_area=10)
    assert np.array_equal(only, border)  # closing never erodes at the image border
    assert [n for n, _ in split_objects(mask, min_area=225)] == ["cc0"]  # strictly larger than min_area


def test_labels_and_colour_masks():
    labels = np.zeros((40, 40), np.uint16)
    labels[2:12, 2:12] = 3
    labels[20:35, 20:35] = 7
    assert [n for n, _ in split_objects(labels, min_area=16)] == ["label3", "label7"]
    rgb = np.zeros((40, 40, 3), np.uint8)
    rgb[2:12, 2:12] = (255, 0, 0)
    rgb[2:12, 20:30] = (255, 0, 0)
    rgb[20:35, 20:35] = (0, 128, 255)
    names = sorted(n for n, _ in split_objects(rgb, min_area=16))
    assert names == ["rgb0-128-255_cc0", "rgb255-0-0_cc0", "rgb255-0-0_cc1"]
    grey_rgb = np.repeat((labels > 0).astype(np.uint8)[..., None] * 255, 3, axis=-1)
    assert len(split_objects(grey_rgb, min_area=16)) == 2  # a grey RGB mask is a binary mask


def test_ct_normalisation_is_segvol_rule():
    rng = np.random.default_rng(0)
    volume = rng.normal(-800, 50, (6, 20, 20)).astype(np.float32)
    volume[:, 5:15, 5:15] = rng.normal(40, 20, (6, 10, 10))
    out = ct_normalise(volume)
    flat = volume.ravel()
    foreground = flat[flat > flat.mean()]
    low, high = np.percentile(foreground, [0.05, 99.95])
    expected = (np.clip(volume, low, high) - foreground.mean()) / foreground.std()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert abs(out[:, 5:15, 5:15].mean()) < 0.1  # the body (foreground) is z-scored


def test_gt_prompts_are_seeded_per_object():
    mask = np.zeros((30, 30), bool)
    mask[5:20, 8:25] = True
    assert make_prompt(mask, "box", object_rng(0, "d", "img", "cc0"), box_margin=2)["box"] == [6.0, 3.0, 27.0, 22.0]
    edge = np.zeros((30, 30), bool)
    edge[0:5, 27:30] = True  # a box +2 px is clipped to the image
    assert make_prompt(edge, "box", object_rng(0, "d", "img", "e"), box_margin=2)["box"] == [25.0, 0.0, 30.0, 7.0]
    a = make_prompt(mask, "box+point", object_rng(0, "d", "img", "cc0"), points=3)
    b = make_prompt(mask, "box+point", object_rng(0, "d", "img", "cc0"), points=3)
    c = make_prompt(mask, "point", object_rng(0, "d", "img", "cc1"), points=3)
    assert a == b and a["box"] == [8.0, 5.0, 25.0, 20.0] and a["labels"] == [1, 1, 1]
    assert all(mask[int(y), int(x)] for x, y in a["points"]) and a["points"] != c["points"]


def _write_blobs(root: Path, count: int = 3) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(count):
        image, labels = blob_scene(seed=40 + i, size=96, count=2)
        iio.imwrite(root / "images" / f"scene{i}.png", image)
        iio.imwrite(root / "masks" / f"scene{i}_mask.png", labels.astype(np.uint8))
    return root


def test_dataset_discovery_errors(tmp_path):
    with pytest.raises(DatasetError, match="needs an image folder"):
        find_pairs(tmp_path)
    root = _write_blobs(tmp_path / "blobs", count=1)
    assert [p.stem for p in find_pairs(root)] == ["scene0"]
    (root / "masks" / "scene0_mask.png").rename(root / "masks" / "other.png")
    with pytest.raises(DatasetError, match="matching|same name"):
        find_pairs(root)


def test_nifti_volume_is_sliced_and_normalised(tmp_path):
    root = tmp_path / "ct"
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    rng = np.random.default_rng(1)
    volume = rng.normal(-700, 30, (48, 48, 5)).astype(np.float32)  # nibabel order (x, y, z)
    labels = np.zeros((48, 48, 5), np.uint8)
    labels[10:30, 12:34, 1:3] = 1
    volume[labels > 0] = 60
    nib.save(nib.Nifti1Image(volume, np.eye(4)), root / "imagesTr" / "case.nii.gz")
    nib.save(nib.Nifti1Image(labels, np.eye(4)), root / "labelsTr" / "case.nii.gz")
    (pair,) = find_pairs(root)
    items = list(iter_items(pair, "ct"))
    assert [item.image_id for item in items] == ["case_z0001", "case_z0002"]  # only slices with foreground
    assert items[0].image.dtype == np.float32 and items[0].value_range[0] < 0 < items[0].value_range[1]
    assert items[0].mask.sum() == 20 * 22


def test_tiff_stack_is_sliced_with_one_intensity_range(tmp_path):
    import tifffile

    root = tmp_path / "stack"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rng = np.random.default_rng(2)
    volume = rng.integers(100, 400, (5, 40, 40)).astype(np.uint16)
    labels = np.zeros((5, 40, 40), np.uint16)
    labels[0, 5:20, 5:20] = 1
    labels[3, 10:30, 10:25] = 2
    tifffile.imwrite(root / "images" / "cells.tif", volume, imagej=True, metadata={"axes": "ZYX"})
    tifffile.imwrite(root / "labels" / "cells_labels.tif", labels, imagej=True, metadata={"axes": "ZYX"})
    items = list(iter_items(find_pairs(root)[0], "stack"))
    assert [i.image_id for i in items] == ["cells_z0000", "cells_z0003"]
    assert items[0].value_range == items[1].value_range and items[0].image.dtype == np.uint16
    assert [n for n, _ in split_objects(items[1].mask, min_area=16)] == ["label2"]


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_full_run_writes_everything_and_resumes(tmp_path, tiny_model):
    data = _write_blobs(tmp_path / "blobs")
    out = tmp_path / "out"
    methods = ["ruac", "sam2", "tta", "prompt", "laplace"]
    kwargs = dict(methods=methods, model=tiny_model, out=out, laplace_fit=1, num_samples=2)
    events = list(run_evaluation([data], **kwargs))
    assert isinstance(events[0], EvaluationStarted) and isinstance(events[-1], EvaluationDone)
    files = [e for e in events if isinstance(e, Progress)]
    assert [(e.stage, e.done, e.total, e.item) for e in files] == [("file", i, 3, f"blobs/scene{i - 1}") for i in (1, 2, 3)]
    computed = sum(e.computed for e in events if isinstance(e, ImageDone))
    rows = _rows(out / "blobs" / "results.csv")
    assert computed == len(rows) == 2 * 2 * len(methods)  # 2 images (1 fitted Laplace) × 2 objects × methods
    assert {r["image"] for r in rows} == {"scene1", "scene2"}
    assert set(EVALUATE_KEYS) <= set(rows[0]) and all(0 <= float(r["iou"]) <= 1 for r in rows)
    assert len(_rows(out / "blobs" / "risk_coverage.csv")) == len(rows)
    summary = (out / "blobs" / "summary.md").read_text()
    assert "ruac vs each method" in summary and "laplace" in summary and "scene0" in summary
    assert {r["method"] for r in _rows(out / "blobs" / "summary.csv")} == set(methods)
    for name in ("radar.png", "risk_coverage.png", "bar_auroc.png", "bar_brier.png"):
        assert (out / "blobs" / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "summary.md").is_file() and (out / "blobs" / "laplace_posterior.json").is_file()
    images = _rows(out / "blobs" / "images.csv")  # one image-level row per image × method (issue 13)
    assert len(images) == len(_rows(out / "blobs" / "review_coverage.csv")) == 2 * len(methods)
    assert {r["object"] for r in images} == {"*"} and all(r["objects"] == "2" for r in images)
    assert all(0 <= float(r["coverage_top1"]) <= float(r["coverage_top10"]) <= 1 for r in images if r["coverage_top1"] != "nan")
    assert "Image level" in summary and "coverage_top10" in summary and "Pooled over every object" in summary
    assert "interior_auroc" in summary and "object_score" in rows[0]
    assert (out / "blobs" / "plots" / "review_coverage.png").is_file() and (out / "blobs" / "plots" / "bar_coverage_top3.png").is_file()

    before = (out / "blobs" / "results.csv").read_bytes()
    again = list(run_evaluation([data], **kwargs))
    assert sum(e.computed for e in again if isinstance(e, ImageDone)) == 0
    assert sum(e.skipped for e in again if isinstance(e, ImageDone)) == len(rows)
    assert (out / "blobs" / "results.csv").read_bytes() == before

    # an interrupted run (some rows lost) recomputes only what is missing
    kept = [r for r in rows if not (r["image"] == "scene2" and r["method"] == "sam2")]
    with open(out / "blobs" / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    resumed = list(run_evaluation([data], **kwargs))
    assert sum(e.computed for e in resumed if isinstance(e, ImageDone)) == len(rows) - len(kept)
    assert len(_rows(out / "blobs" / "results.csv")) == len(rows)


def test_cli_runs_and_reports_bad_input(tmp_path, tiny_model, monkeypatch, capsys):
    import argparse

    parser = evaluate_cli.add_arguments(argparse.ArgumentParser())
    args = parser.parse_args([str(tmp_path / "nothing"), "--methods", "sam2", "--out", str(tmp_path / "o")])
    monkeypatch.setattr("napari_ruac.evaluation.runner._load_model", lambda *a, **k: tiny_model)
    assert evaluate_cli.run(args) == 2
    assert "not a folder" in capsys.readouterr().err
    args = parser.parse_args([str(tmp_path / "nothing"), "--methods", "laplace", "--out", str(tmp_path / "o")])
    assert evaluate_cli.run(args) == 2
    assert "--laplace-fit" in capsys.readouterr().err
    data = _write_blobs(tmp_path / "blobs", count=1)
    args = parser.parse_args([str(data), "--methods", "sam2,ruac", "--out", str(tmp_path / "o")])
    assert evaluate_cli.run(args) == 0
    assert len(_rows(tmp_path / "o" / "blobs" / "results.csv")) == 2 * 2


def test_cli_passes_band_and_box_margin():
    import argparse

    parser = evaluate_cli.add_arguments(argparse.ArgumentParser())
    settings = evaluate_cli.settings_from_args(parser.parse_args(["d", "--band", "3", "--box-margin", "2"]))
    assert settings.band == 3.0 and settings.box_margin == 2.0
    assert evaluate_cli.settings_from_args(parser.parse_args(["d"])).band == 2.0  # issue 13's default band
