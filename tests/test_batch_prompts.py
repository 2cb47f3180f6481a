"""Batch prompts (JSON, CSV, label files, template), input listing, review rule, CLI argument errors (no model)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_ruac.batch import BatchInputError, BatchPromptError, LabelPrompts, PromptFile, TemplatePrompt, list_inputs
from napari_ruac.batch.prompts import prompt_source
from napari_ruac.core.boxes import box_on_largest_slice
from napari_ruac.batch.stats import ObjectStats, ReviewRule
from napari_ruac.cli import main
from napari_ruac.io import ImageData, write_image


def _image(path, shape):
    return ImageData(np.zeros(shape, np.uint8), (1.0,) * len(shape), format="tiff", path=path)


def test_json_mapping_and_list_forms_give_the_same_prompts(tmp_path):
    mapping = {
        "stack.tif": [
            {"object": 1, "slice": 2, "box": [1, 2, 10, 12]},
            {"object": 2, "slice": 2, "points": [[5, 6], [7, 8]], "labels": [1, 0]},
            {"object": 2, "slice": 4, "box": [3, 3, 9, 9]},
        ],
        "flat": {"box": [0, 0, 4, 4]},  # a single prompt, matched by stem, no slice
    }
    listed = [
        dict(item, file=name)
        for name, items in mapping.items()
        for item in (items if isinstance(items, list) else [items])
    ]
    (tmp_path / "a.json").write_text(json.dumps(mapping))
    (tmp_path / "b.json").write_text(json.dumps(listed))
    stack, flat = _image(tmp_path / "stack.tif", (6, 20, 20)), _image(tmp_path / "flat.png", (20, 20))
    expected = {
        1: {2: {"box": [1.0, 2.0, 10.0, 12.0]}},
        2: {2: {"points": [[5.0, 6.0], [7.0, 8.0]], "labels": [1, 0]}, 4: {"box": [3.0, 3.0, 9.0, 9.0]}},
    }
    for name in ("a.json", "b.json"):
        source = PromptFile.load(tmp_path / name)
        source.check_inputs([stack.path, flat.path])
        assert source.prompts_for(stack) == expected
        assert source.prompts_for(flat) == {1: {0: {"box": [0.0, 0.0, 4.0, 4.0]}}}


def test_csv_prompts_match_the_json_schema(tmp_path):
    (tmp_path / "p.csv").write_text(
        "file,object,slice,x0,y0,x1,y1,points,labels\n"
        "stack.tif,1,2,1,2,10,12,,\n"
        'stack.tif,2,2,,,,,"5,6;7,8",1;0\n'
        "stack.tif,2,4,3,3,9,9,,\n"
    )
    source = PromptFile.load(tmp_path / "p.csv")
    assert source.prompts_for(_image(tmp_path / "stack.tif", (6, 20, 20))) == {
        1: {2: {"box": [1.0, 2.0, 10.0, 12.0]}},
        2: {2: {"points": [[5.0, 6.0], [7.0, 8.0]], "labels": [1, 0]}, 4: {"box": [3.0, 3.0, 9.0, 9.0]}},
    }


def test_prompts_under_the_file_name_and_the_stem_are_merged(tmp_path):
    (tmp_path / "p.json").write_text(
        json.dumps(
            {"v.tif": [{"object": 1, "box": [0, 0, 5, 5]}], "v": [{"object": 2, "slice": 1, "box": [1, 1, 6, 6]}]}
        )
    )
    source = PromptFile.load(tmp_path / "p.json")
    assert source.prompts_for(_image(tmp_path / "v.tif", (4, 10, 10))) == {
        1: {2: {"box": [0.0, 0.0, 5.0, 5.0]}},
        2: {1: {"box": [1.0, 1.0, 6.0, 6.0]}},
    }
    (tmp_path / "q.json").write_text(
        json.dumps(
            {"v.tif": [{"object": 1, "box": [0, 0, 5, 5]}], "v": [{"object": 1, "slice": 2, "box": [1, 1, 6, 6]}]}
        )
    )
    with pytest.raises(BatchPromptError, match="two prompts on slice 2"):
        PromptFile.load(tmp_path / "q.json").prompts_for(_image(tmp_path / "v.tif", (4, 10, 10)))


def test_slice_defaults_to_the_middle_and_is_refused_on_2d_images(tmp_path):
    (tmp_path / "p.json").write_text(
        json.dumps({"v.tif": [{"box": [0, 0, 5, 5]}], "i.png": [{"slice": 3, "box": [0, 0, 5, 5]}]})
    )
    source = PromptFile.load(tmp_path / "p.json")
    assert list(source.prompts_for(_image(tmp_path / "v.tif", (7, 10, 10)))[1]) == [3]
    with pytest.raises(BatchPromptError, match="2D image"):
        source.prompts_for(_image(tmp_path / "i.png", (10, 10)))


@pytest.mark.parametrize(
    "content, message",
    [
        ("file,object,slice,x0,y0\nv.tif,1,0,1,2\n", "all four"),
        ("file,object,depth\nv.tif,1,0\n", "unknown columns"),
        ("object,slice\n1,0\n", "'file' column"),
        ("file,object,slice,x0,y0,x1,y1\nv.tif,0,0,1,2,3,4\n", "object must be a whole number ≥ 1"),
        ("file,object,slice,x0,y0,x1,y1\nv.tif,1,-1,1,2,3,4\n", "slice must be a whole number ≥ 0"),
        ("file,object,slice,x0,y0,x1,y1\nv.tif,1,,,,,\n", "give a box"),
        ("file,object,slice,x0,y0,x1,y1\nv.tif,1,0,1,2,3,4\nv.tif,1,0,5,6,7,8\n", "second prompt"),
        ('file,object,slice,points\nv.tif,1,0,"1;2"\n', "x,y;x,y"),
    ],
)
def test_bad_csv_records_are_named(tmp_path, content, message):
    (tmp_path / "p.csv").write_text(content)
    with pytest.raises(BatchPromptError, match=message) as info:
        PromptFile.load(tmp_path / "p.csv")
    assert "p.csv" in str(info.value)


def test_missing_or_unsupported_prompt_file_and_unmatched_names(tmp_path):
    with pytest.raises(BatchPromptError, match="does not exist"):
        PromptFile.load(tmp_path / "nope.json")
    (tmp_path / "p.txt").write_text("{}")
    with pytest.raises(BatchPromptError, match=r"\.json or \.csv"):
        PromptFile.load(tmp_path / "p.txt")
    (tmp_path / "p.json").write_text("{not json")
    with pytest.raises(BatchPromptError, match="not valid JSON"):
        PromptFile.load(tmp_path / "p.json")
    (tmp_path / "p.json").write_text(
        json.dumps({"scan_01.nii.gz": [{"box": [0, 0, 2, 2]}], "scan_2": [{"box": [0, 0, 2, 2]}]})
    )
    source = PromptFile.load(tmp_path / "p.json")
    with pytest.raises(BatchPromptError, match="not among the inputs: scan_2") as info:
        source.check_inputs([tmp_path / "scan_01.nii.gz", tmp_path / "scan_02.nii.gz"])
    assert "scan_02.nii.gz" in str(info.value)  # the message lists the real inputs
    with pytest.raises(BatchPromptError, match="no prompts for scan_02"):
        source.prompts_for(_image(tmp_path / "scan_02.nii.gz", (3, 8, 8)))
    (tmp_path / "q.json").write_text(json.dumps({"a": [{"box": [0, 0, 2, 2]}]}))
    with pytest.raises(BatchPromptError, match="several inputs"):
        PromptFile.load(tmp_path / "q.json").check_inputs([tmp_path / "a.tif", tmp_path / "a.nii.gz"])


def _labels_volume():
    labels = np.zeros((5, 30, 40), np.uint16)
    labels[1, 5:10, 6:12] = 3  # small part of object 3
    labels[2, 4:15, 3:20] = 3  # its largest slice
    labels[3, 20:28, 25:39] = 7
    return labels


def test_label_prompts_box_each_object_on_its_largest_slice(tmp_path):
    labels = _labels_volume()
    (tmp_path / "labels").mkdir()
    write_image(tmp_path / "labels" / "vol.tif", labels)
    source = LabelPrompts()
    prompts = source.prompts_for(_image(tmp_path / "vol.nii.gz", labels.shape))
    assert prompts == {3: {2: {"box": [3.0, 4.0, 20.0, 15.0]}}, 7: {3: {"box": [25.0, 20.0, 39.0, 28.0]}}}
    assert box_on_largest_slice(labels == 3) == (2, [3.0, 4.0, 20.0, 15.0])
    # <stem>_labels beside the input, and an explicit folder
    write_image(tmp_path / "other_labels.tif", labels)
    assert 7 in source.prompts_for(_image(tmp_path / "other.tif", labels.shape))
    assert 3 in LabelPrompts(tmp_path / "labels").prompts_for(_image(tmp_path / "x" / "vol.tif", labels.shape))


def test_label_prompts_errors(tmp_path):
    labels = _labels_volume()
    with pytest.raises(BatchPromptError, match=r"no label file for vol\.tif: looked for labels/vol\.\* or vol_labels"):
        LabelPrompts().prompts_for(_image(tmp_path / "vol.tif", labels.shape))
    write_image(tmp_path / "vol_labels.tif", labels)
    with pytest.raises(BatchPromptError, match=r"has shape \(5, 30, 40\) but vol\.tif has spatial shape \(5, 30, 41\)"):
        LabelPrompts().prompts_for(_image(tmp_path / "vol.tif", (5, 30, 41)))
    (tmp_path / "labels").mkdir()
    write_image(tmp_path / "labels" / "vol.nii.gz", labels)
    with pytest.raises(BatchPromptError, match="several label files"):
        LabelPrompts().prompts_for(_image(tmp_path / "vol.tif", labels.shape))
    with pytest.raises(BatchPromptError, match="label folder .* does not exist"):
        LabelPrompts(tmp_path / "no_such_folder")
    write_image(tmp_path / "empty_labels.tif", np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(BatchPromptError, match="no objects"):
        LabelPrompts().prompts_for(_image(tmp_path / "empty.tif", (2, 4, 4)))


def test_template_prompt(tmp_path):
    template = TemplatePrompt(box=[1, 2, 3, 4])
    assert template.prompts_for(_image(tmp_path / "v.tif", (5, 8, 8))) == {1: {2: {"box": [1.0, 2.0, 3.0, 4.0]}}}
    assert template.prompts_for(_image(tmp_path / "i.png", (8, 8))) == {1: {0: {"box": [1.0, 2.0, 3.0, 4.0]}}}
    clicks = prompt_source(dict(points=[[3, 4]], slice=1))
    assert clicks.prompts_for(_image(tmp_path / "v.tif", (5, 8, 8))) == {
        1: {1: {"points": [[3.0, 4.0]], "labels": [1]}}
    }
    with pytest.raises(BatchPromptError, match="outside v.tif's 5 slices"):
        TemplatePrompt(box=[1, 2, 3, 4], slice=9).prompts_for(_image(tmp_path / "v.tif", (5, 8, 8)))
    with pytest.raises(BatchPromptError, match="give a box"):
        TemplatePrompt()


def test_list_inputs_skips_labels_hidden_and_unknown_files(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("b.nii.gz", "a.tif", "a_labels.tif", ".hidden.tif", "notes.txt", "c.png"):
        (folder / name).write_bytes(b"x")
    (folder / "labels").mkdir()
    assert [p.name for p in list_inputs(folder, tmp_path / "out")] == ["a.tif", "b.nii.gz", "c.png"]
    with pytest.raises(BatchInputError, match="separate folder"):
        list_inputs(folder, folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchInputError, match="no images in"):
        list_inputs(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(BatchInputError, match="does not exist"):
        list_inputs(tmp_path / "missing", tmp_path / "out")


def test_review_rule_flags_uncertain_abrupt_and_lost_slices():
    rule = ReviewRule(margin=0, review_uncertainty=0.5, area_ratio=2.0, min_area=25)
    stats = ObjectStats(1, rule)
    areas = [0, 40, 50, 10, 0, 30, 30]  # appears at 1, drops at 3 (50 → 10), reappears at 5
    uncertain_on = {6}
    for z, area in enumerate(areas):
        mask = np.zeros((10, 10), bool)
        mask.flat[:area] = True
        uncertainty = np.full((10, 10), 0.9 if z in uncertain_on else 0.1, np.float32)
        stats.add(z, mask, uncertainty, prompted=z in (2, 4))
    # 1: 0 → 40 appears; 3: 50 → 10 drops; 4: prompted but empty; 5: 0 → 30 reappears; 6: uncertain
    # 4 is also abrupt? 10 → 0: the larger area 10 < min_area, so only "lost" flags it
    assert stats.review_slices() == [1, 3, 4, 5, 6]
    summary = stats.summary()
    assert summary["prompt_slices"] == [2, 4]
    assert summary["slices_with_object"] == 5
    voxels = sum(areas)
    assert summary["mean_uncertainty"] == pytest.approx((30 * 0.9 + (voxels - 30) * 0.1) / voxels, rel=1e-6)
    assert summary["uncertain_fraction"] == pytest.approx(30 / voxels)
    assert summary["max_uncertainty"] == pytest.approx(0.9)


def test_neighbourhood_includes_the_rim_around_the_mask():
    stats = ObjectStats(1, ReviewRule(margin=2))
    mask = np.zeros((20, 20), bool)
    mask[8:12, 8:12] = True
    uncertainty = np.zeros((20, 20), np.float32)
    uncertainty[6, 8] = 1.0  # two pixels above the mask: inside the 2-px rim
    uncertainty[5, 8] = 1.0  # three pixels above: outside
    stats.add(0, mask, uncertainty, prompted=True)
    from scipy import ndimage

    region = ndimage.binary_dilation(mask, iterations=2)
    assert stats.slices[0].neighbourhood == region.sum()
    assert stats.summary()["mean_uncertainty"] == pytest.approx(1.0 / region.sum())


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "give prompts"),
        (["--box", "1", "2", "3", "4", "--prompts", "p.json"], "choose one prompt source"),
        (["--prompts", "missing.json"], "does not exist"),
        (["--labels", "1", "--from-labels"], "choose one|--labels go with --points"),
    ],
)
def test_cli_prompt_errors_are_one_line(tmp_path, capsys, extra, message):
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "a.tif", np.zeros((2, 8, 8), np.uint8), kind="image")
    code = main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), *extra])
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("napari-ruac batch: error:")
    assert __import__("re").search(message, error)
