"""Refining an existing mask: a label image's object becomes SAM2's mask prompt, corrective clicks
then refine it; bad masks and absent ids are clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_ruac.core.boxes import tight_box
from napari_ruac.inference import ImagePredictor, PromptError
from napari_ruac.inference.prompts import MASK_PROMPT_LOGIT, low_res_mask, object_mask
from napari_ruac.models.prompt_map import region_prompt_map

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_object_mask_and_its_errors():
    labels = np.zeros((20, 30), np.uint16)
    labels[2:6, 3:9] = 4
    assert object_mask(labels, 4).sum() == 24
    with pytest.raises(PromptError, match=r"label id 5 is absent from the labels; ids present: 4"):
        object_mask(labels, 5)
    with pytest.raises(PromptError, match="positive label id"):
        object_mask(labels, 0)
    with pytest.raises(PromptError, match="integer object ids"):
        object_mask(labels.astype(float), 4)


def test_low_res_mask_shape_errors_and_small_objects():
    mask = np.zeros((100, 60), bool)
    mask[10:50, 10:30] = True
    low = low_res_mask(mask, (100, 60), 256)
    assert low.shape == (64, 64)
    # the mask stretched to the model's square: rows 10..50 of 100 → about 6..32 of 64
    rows = np.nonzero(low.any(axis=1))[0]
    assert abs(rows.min() - 6.4) <= 1 and abs(rows.max() + 1 - 32) <= 1
    with pytest.raises(PromptError, match=r"mask prompt has shape \(60, 100\) but the image is 100×60"):
        low_res_mask(mask.T, (100, 60), 256)
    with pytest.raises(PromptError, match="mask prompt is empty"):
        low_res_mask(np.zeros((100, 60), bool), (100, 60), 256)
    tiny = np.zeros((512, 512), bool)
    tiny[100, 100] = True  # 1 pixel of 8×8 per low-res cell: still a prompt
    assert low_res_mask(tiny, (512, 512), 256).sum() >= 1


def test_region_prompt_map_values():
    region = torch.zeros(1, 1, 64, 64, dtype=torch.bool)
    region[..., 10:30, 10:30] = True
    points = torch.tensor([[[200.0, 200.0], [80.0, 80.0]]])  # model pixels (256): cells 50 and 20
    out = region_prompt_map(region, points, torch.tensor([[1, 0]]), 256)[0, 0]
    assert out[15, 12] == 1 and out[40, 5] == -1
    assert out[50, 50] == 2  # a positive click outside the region
    assert out[20, 20] == -2  # a negative click inside it


def _damaged_objects(scene, count):
    """(truth, mask missing its right third, the most interior pixel of the missing part)."""
    ids, areas = np.unique(scene.labels[scene.labels > 0], return_counts=True)
    for object_id in ids[np.argsort(-areas)][:count]:
        truth = scene.labels == object_id
        xs = np.nonzero(truth)[1]
        damaged = truth.copy()
        damaged[:, xs.min() + 2 * (xs.max() - xs.min()) // 3 :] = False
        depth = ndimage.distance_transform_edt(truth & ~damaged)
        row, col = np.unravel_index(int(np.argmax(depth)), depth.shape)
        yield truth, damaged, [float(col), float(row)]


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_refine_a_damaged_mask_with_one_click_ruac_micro():
    """ruac-micro (prompt-map model): the mask alone is kept close to itself, and one positive
    click in the missing third recovers most of it (measured: mean IoU 0.65 → 0.76 on 16 objects)."""
    from ruac_training.synthetic import generate_scene

    from napari_ruac.models import load_model

    predictor = ImagePredictor(load_model("ruac-micro", device="cpu"))
    before, alone, after = [], [], []
    for kind, seed in [("cells", 7002), ("shapes", 7003)]:
        scene = generate_scene(kind, seed, 256)
        predictor.set_image(scene.image)
        for truth, damaged, click in _damaged_objects(scene, 3):
            before.append(_iou(damaged, truth))
            alone.append(_iou(predictor.refine_mask(damaged).mask, damaged))
            after.append(_iou(predictor.refine_mask(damaged, points=[click], labels=[1]).mask, truth))
    assert np.mean(alone) > 0.75
    assert np.mean(after) > np.mean(before) + 0.05


def test_correction_step_feeds_the_previous_mask_with_the_start_box_only(tiny_model, blob):
    """ImagePredictor.correct: the previous mask is the mask prompt with the user's box (never one made
    from the mask); an empty or missing previous mask decodes the prompts alone."""
    image, truth = blob
    predictor = ImagePredictor(tiny_model, zoom="off")
    predictor.set_image(image)
    ys, xs = np.nonzero(truth)
    click = [[float(xs.mean()) + 0.5, float(ys.mean()) + 0.5]]
    first = predictor.predict(points=click, labels=[1])
    previous = truth.copy()
    previous[: int(ys.mean())] = False  # half of the object
    out = predictor.correct(previous, points=click, labels=[1])
    same = predictor.refine_mask(previous, points=click, labels=[1], box=None)
    np.testing.assert_array_equal(out.probability, same.probability)
    assert not np.array_equal(out.probability, predictor.refine_mask(previous, points=click, labels=[1]).probability)
    box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
    with_box = predictor.correct(first, box=box, points=click, labels=[1])
    np.testing.assert_array_equal(with_box.probability,
                                  predictor.refine_mask(first.mask, box=box, points=click, labels=[1]).probability)
    for empty in (None, np.zeros_like(truth)):
        alone = predictor.correct(empty, points=click, labels=[1])
        np.testing.assert_array_equal(alone.probability, predictor.predict(points=click, labels=[1], multimask=False).probability)


def test_refine_on_a_plain_sam2_model_feeds_the_mask_as_logits(tiny_model, blob):
    image, labels = blob
    predictor = ImagePredictor(tiny_model, method="sam2")
    predictor.set_image(image)
    truth = labels == 1
    assert not tiny_model.info.prompt_map
    refined = predictor.refine_mask(truth, points=[[5.0, 5.0]], labels=[0])
    boxed = predictor.predict(box=tight_box(truth), points=[[5.0, 5.0]], labels=[0], multimask=False)
    assert refined.mask.shape == truth.shape
    assert not np.allclose(refined.probability, boxed.probability)  # the mask prompt changed the answer
    assert MASK_PROMPT_LOGIT == pytest.approx(6.9068, abs=1e-3)
    with pytest.raises(PromptError, match="mask prompt has shape"):
        predictor.refine_mask(truth[:-1])


# ---- batch / CLI: --from-labels --refine ------------------------------------------------------
def _write_inputs(folder, image, labels):
    from napari_ruac.io import write_image

    (folder / "labels").mkdir(parents=True)
    write_image(folder / "a.tif", image, kind="image")
    write_image(folder / "labels" / "a.tif", labels.astype(np.uint8))


def test_batch_refines_label_masks_on_every_slice_they_cover(tiny_model, blob, tmp_path):
    from napari_ruac.batch import LabelPrompts, read_report, run_batch
    from napari_ruac.io import read_image

    image, labels = blob
    volume = np.stack([image, image[::-1]]).astype(np.uint16)
    label_volume = np.stack([labels, np.zeros_like(labels)])
    _write_inputs(tmp_path / "in", volume, label_volume)
    source = LabelPrompts(refine=True)
    assert source.describe()["refine"] is True
    summary = run_batch(tmp_path / "in", tmp_path / "out", prompts=source, model=tiny_model, method="sam2")
    assert summary.ok == 1
    rows = read_report(tmp_path / "out")
    assert [r["prompt_slices"] for r in rows] == ["0"]  # the object covers slice 0 only
    # the written mask is the predictor's refinement of the label mask on that slice
    predictor = ImagePredictor(tiny_model, method="sam2")
    predictor.set_image(volume[0], value_range=predictor.intensity.value_range(volume))
    expected = predictor.refine_mask(labels == 1, box=tight_box(labels == 1)).mask
    written = read_image(tmp_path / "out" / "a_mask.tif").array
    np.testing.assert_array_equal(written[0] > 0, expected)
    assert not written[1].any()


def test_cli_refine_needs_from_labels_and_runs_with_it(blob, tmp_path, capsys):
    from napari_ruac.cli import main

    image, labels = blob
    _write_inputs(tmp_path / "in", image, labels)
    model = ["--random-weights", "--model", "sam2.1_hiera_tiny", "--image-size", "256", "--device", "cpu"]
    out = str(tmp_path / "out")
    assert main(["batch", str(tmp_path / "in"), "--out", out, "--box", "1", "1", "9", "9", "--refine"]) == 2
    assert "--refine refines existing masks: give them with --from-labels" in capsys.readouterr().err
    code = main(["batch", str(tmp_path / "in"), "--out", out, "--from-labels", "--refine", "--no-progress", *model])
    assert code == 0
    assert (tmp_path / "out" / "a_mask.tif").exists()


def test_adds_clicks_only_tells_a_correction_from_a_new_prompt():
    from napari_ruac.inference.prompts import adds_clicks_only

    box = [1.0, 2.0, 30.0, 40.0]
    before = dict(box=box, points=[[5.5, 6.5]], labels=[1])
    assert adds_clicks_only(before, dict(box=box, points=[[5.5, 6.5], [9.5, 9.5]], labels=[1, 0]))
    assert adds_clicks_only(dict(points=[[5.5, 6.5]]), dict(points=[[5.5, 6.5], [1.5, 1.5]], labels=[1, 1]))
    assert adds_clicks_only(dict(box=box), dict(box=box, points=[[3.5, 3.5]], labels=[0]))
    assert not adds_clicks_only(before, before)  # nothing added: a plain re-run
    assert not adds_clicks_only(before, dict(box=[0.0, 2.0, 30.0, 40.0], points=[[5.5, 6.5], [9.5, 9.5]], labels=[1, 0]))
    assert not adds_clicks_only(before, dict(points=[[5.5, 6.5], [9.5, 9.5]], labels=[1, 0]))  # the box went
    assert not adds_clicks_only(before, dict(box=box, points=[[5.5, 6.5], [9.5, 9.5]], labels=[0, 0]))  # sign changed
    assert not adds_clicks_only(before, dict(box=box, points=[[7.5, 6.5], [9.5, 9.5]], labels=[1, 0]))  # moved
    assert not adds_clicks_only(None, before) and not adds_clicks_only(before, None)
