"""A lone click checked against the image's own object proposal under it (inference/click_proposal.py)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ruac import ImagePredictor, load_model
from napari_ruac.core.overlap import iou
from napari_ruac.inference.prediction import Prediction
from napari_ruac.inference import click_proposal
from napari_ruac.inference.click_proposal import checked_click, proposal_under_click

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def micro():
    return load_model("ruac-micro", device="cpu")


def _discs(centres, radius, size=256, seed=0):
    yy, xx = np.mgrid[:size, :size]
    truth = np.zeros((size, size), np.int32)
    for i, (cy, cx) in enumerate(centres, start=1):
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2] = i
    rng = np.random.default_rng(seed)
    image = np.where(truth > 0, 170.0, 30.0) + rng.normal(0, 6, truth.shape)
    return np.clip(image, 0, 255).astype(np.uint8), truth


def test_the_proposal_under_a_click_is_the_object_there_or_nothing():
    image, truth = _discs([(60, 60), (60, 180), (180, 70), (190, 190), (120, 120)], radius=14)
    answer = truth == 2
    region = proposal_under_click(image, [180.5, 60.5], answer)
    assert region is not None and region.shape == truth.shape and iou(region, truth == 2) > 0.8
    assert proposal_under_click(image, [5.5, 250.5], answer) is None  # background: the image proposes nothing
    flat = np.full((64, 64), 7, np.uint8)
    assert proposal_under_click(flat, [30, 30], np.zeros((64, 64), bool)) is None


class _FixedAnswer:
    """Stands in for ImagePredictor: the proposal box's decode returns ``mask`` (probability 0.9 inside)."""

    def __init__(self, image, mask):
        self._array, self.mask, self.calls = image, mask, []

    def predict_batch(self, boxes=None, points=None, labels=None, window=None, **options):
        self.calls.append(dict(boxes=boxes, points=points, labels=labels, window=window))
        probability = np.where(self.mask, 0.9, 0.02).astype(np.float32)
        return [Prediction(self.mask, probability, np.zeros_like(probability), 0.9, "fake")]


def _prediction(mask):
    probability = np.where(mask, 0.9, 0.02).astype(np.float32)
    return Prediction(mask, probability, np.zeros_like(probability), 0.8, "fake")


def test_the_box_answer_replaces_the_click_answer_only_when_the_checks_hold():
    image, truth = _discs([(60, 60), (60, 180), (180, 70), (190, 190)], radius=14)
    half = (truth == 1) & (np.arange(256)[None, :] < 60)  # the click's answer: half of the disc
    answer = _prediction(half)
    whole = _FixedAnswer(image, truth == 1)  # the proposal's box gives the whole disc: taken
    taken = checked_click(whole, answer, [55.5, 60.5], {"labels": [[1]]})
    assert taken.mask is whole.mask and taken.extras["proposal_box"][0] <= 46 and taken.extras["proposal_box"][2] >= 74
    assert whole.calls[0]["points"] == [[[55.5, 60.5]]] and whole.calls[0]["labels"] == [[1]]
    assert whole.calls[0]["window"] is answer.window  # decoded where the click was: no new encode
    elsewhere = _FixedAnswer(image, truth == 2)  # the box's answer lies elsewhere: the click's stands
    assert checked_click(elsewhere, answer, [55.5, 60.5], {}) is answer
    both = _FixedAnswer(image, np.isin(truth, (1, 2, 3)))  # three discs: disagrees with the proposal (IoU 1/3)
    assert checked_click(both, answer, [55.5, 60.5], {}) is answer
    unstable = _FixedAnswer(image, truth == 1)
    unstable.predict_batch = lambda **kw: [Prediction(truth == 1, np.where(truth == 1, 0.6, 0.4).astype(np.float32),
                                                      np.zeros((256, 256), np.float32), 0.9, "fake")]
    assert checked_click(unstable, answer, [55.5, 60.5], {}) is answer  # far less stable than the click's answer
    background = _FixedAnswer(image, truth == 1)
    assert checked_click(background, _prediction(np.zeros_like(half)), [5.5, 250.5], {}).mask.sum() == 0


def test_lone_clicks_on_generated_scenes_gain_from_the_proposals(micro):
    # tuning scenes (SyntheticDataset seed 7260101): one click at each object's most interior pixel
    from ruac_training.synthetic import SyntheticDataset
    from scipy import ndimage

    scenes = SyntheticDataset(6, seed=7260101, size_range=(256, 512))
    plain, checked, taken = [], [], 0
    for index in range(len(scenes)):
        scene = scenes[index]
        predictors = [ImagePredictor(micro, click_proposal=flag) for flag in (False, True)]
        for p in predictors:
            p.set_image(scene.image)
        for object_id in [i for i in np.unique(scene.labels) if i][:6]:
            truth = scene.labels == object_id
            if truth.sum() < 16:
                continue
            distance = ndimage.distance_transform_edt(truth)
            row, col = np.unravel_index(np.argmax(distance), distance.shape)
            click = [[col + 0.5, row + 0.5]]
            outs = [p.predict(points=click, labels=[1]) for p in predictors]
            plain.append(iou(outs[0].mask, truth))
            checked.append(iou(outs[1].mask, truth))
            taken += "proposal_box" in outs[1].extras
    assert taken >= 3 and np.mean(checked) > np.mean(plain) + 0.02, (np.mean(plain), np.mean(checked), taken)


def test_only_a_lone_positive_click_is_checked(micro):
    image, truth = _discs([(60, 60), (60, 180), (180, 70), (190, 190)], radius=14)
    predictor = ImagePredictor(micro, click_proposal=True)
    predictor.set_image(image)
    seen = []
    original = click_proposal.proposal_under_click

    def spy(*args):
        seen.append(1)
        return original(*args)

    click_proposal.proposal_under_click = spy
    try:
        predictor.predict(points=[[60.5, 60.5]], labels=[1])
        assert len(seen) == 1
        predictor.predict(points=[[60.5, 60.5], [180.5, 60.5]], labels=[1, 1])
        predictor.predict(points=[[60.5, 60.5]], labels=[0])
        predictor.predict(box=[40, 40, 80, 80], points=[[60.5, 60.5]], labels=[1])
        off = ImagePredictor(micro)  # off by default
        off.set_image(image)
        off.predict(points=[[60.5, 60.5]], labels=[1])
        assert len(seen) == 1
    finally:
        click_proposal.proposal_under_click = original


def test_the_cli_option_turns_it_on(tmp_path, capsys):
    from napari_ruac.cli import main

    image, truth = _discs([(60, 60), (60, 180), (180, 70), (190, 190)], radius=14)
    np.save(tmp_path / "discs.npy", image)
    base = ["segment", str(tmp_path / "discs.npy"), "--points", "60,60", "--model", "ruac-micro",
            "--device", "cpu", "--out"]
    assert main(base + [str(tmp_path / "on"), "--click-proposal"]) == 0
    assert main(base + [str(tmp_path / "off")]) == 0
    from napari_ruac.io import read_image

    on = read_image(next((tmp_path / "on").glob("*mask*"))).array > 0
    assert iou(on, truth == 1) > 0.8
