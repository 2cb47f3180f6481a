"""Prompt perturbation: SAM2's box-noise bounds (10 % of the side, ≤ 20 image px), click jitter,
N samples per prompt kept in order, and the decoder plumbing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fixture_models import blob_scene
from napari_ruac.core.boxes import tight_box
from napari_ruac import ImagePredictor
from napari_ruac.models import PromptBatch
from napari_ruac.uq import get_method
from napari_ruac.uq.prompt_perturbation import perturb_prompts

S = 256


@pytest.mark.parametrize("image_hw", [None, (384, 512)])
def test_box_noise_respects_ten_percent_and_twenty_pixels(image_hw):
    boxes = torch.tensor([[10.0, 20.0, 40.0, 35.0], [5.0, 8.0, 250.0, 240.0]])  # small box, large box
    prompts = PromptBatch(boxes=boxes)
    n = 500
    out = perturb_prompts(prompts, n, torch.Generator().manual_seed(0), S, image_hw=image_hw)
    assert out.boxes.shape == (2 * n, 4)
    sx, sy = (1.0, 1.0) if image_hw is None else (S / image_hw[1], S / image_hw[0])
    for i, box in enumerate(boxes):
        rows = out.boxes[i * n : (i + 1) * n]  # prompt-major: this prompt's n samples
        w, h = box[2] - box[0], box[3] - box[1]
        bound = torch.tensor([min(0.1 * w, 20 * sx), min(0.1 * h, 20 * sy)] * 2)
        delta = (rows - box).abs()
        assert (delta <= bound + 1e-5).all()
        assert (delta.max(0).values > 0.9 * bound).all()  # the full range is used
        assert (rows[:, 2] > rows[:, 0]).all() and (rows[:, 3] > rows[:, 1]).all()
        assert rows.min() >= 0 and rows.max() <= S - 1
    # the large box is capped by the 20-pixel limit, the small one by 10 % of its side
    assert (out.boxes[n:] - boxes[1]).abs().max() <= 20 * max(sx, sy) + 1e-5
    assert (out.boxes[:n, 0] - boxes[0, 0]).abs().max() <= 3.0 + 1e-5


def test_clicks_move_a_few_pixels_and_keep_their_labels():
    points = torch.tensor([[[100.0, 120.0], [30.0, 40.0]]])
    labels = torch.tensor([[1, 0]], dtype=torch.int32)
    out = perturb_prompts(PromptBatch(points=points, labels=labels), 64, torch.Generator().manual_seed(1), S, point_px=3)
    assert out.points.shape == (64, 2, 2) and torch.equal(out.labels, labels.repeat(64, 1))
    delta = (out.points - points).abs()
    assert delta.max() <= 3 + 1e-5 and delta.max() > 2.5


def test_zero_noise_reproduces_sam2_for_every_prompt_in_order(tiny_model):
    image, labels = blob_scene(seed=3, count=2)
    predictor = ImagePredictor(tiny_model)
    predictor.set_image(image)
    boxes = [tight_box(labels == 1), tight_box(labels == 2)]
    sam2 = predictor.predict_batch(boxes=boxes, method="sam2")
    still = predictor.predict_batch(boxes=boxes, method="prompt", num_samples=3, batch_size=2, box_noise=0.0)
    for a, b in zip(sam2, still):
        np.testing.assert_allclose(b.probability, a.probability, atol=1e-5)
    jittered = predictor.predict_batch(boxes=boxes, method="prompt", num_samples=6, seed=2)
    again = predictor.predict_batch(boxes=boxes, method="prompt", num_samples=6, seed=2)
    assert np.abs(jittered[0].probability - sam2[0].probability).max() > 1e-5
    np.testing.assert_array_equal(jittered[1].probability, again[1].probability)
    assert get_method("prompt").supports_volume is False
