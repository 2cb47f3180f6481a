"""``ruac-hyp``: the RUAC analytic map joined with the disagreement of SAM2's mask hypotheses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fixture_models import blob_scene
from napari_ruac import ImagePredictor, VolumePredictor
from napari_ruac.core.boxes import tight_box
from napari_ruac.uq import get_method
from napari_ruac.uq.ruac import hypothesis_disagreement

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_disagreement_by_hand():
    p = torch.tensor([[[0.9, 0.9, 0.2]]])  # (B=1, H=1, W=3)
    # four hypotheses per pixel: σ⁻¹ of (0.9, 0.1, 0.1, 0.9) → p̄ 0.5; all 0.9 → p̄ 0.9; (0.9, 0.9, 0.9, 0.9) vs p 0.2
    probs = torch.tensor([[0.9, 0.9, 0.9], [0.1, 0.9, 0.9], [0.1, 0.9, 0.9], [0.9, 0.9, 0.9]])
    logits = torch.logit(probs)[None, :, None, :]  # (1, M=4, 1, 3)
    expected = torch.tensor([[[0.8, 0.0, 1.0]]])  # 2·|0.9−0.5|, 0, min(1, 2·|0.2−0.9|)
    torch.testing.assert_close(hypothesis_disagreement(p, logits), expected, atol=1e-5, rtol=0)


def test_ruac_hyp_keeps_ruacs_mask_and_only_adds_uncertainty(fitted):
    image, labels = blob_scene(seed=11, count=2)
    predictor = ImagePredictor(fitted)
    predictor.set_image(image)
    box = tight_box(labels == 1)
    ruac = predictor.predict(box=box, method="ruac")
    hyp = predictor.predict(box=box, method="ruac-hyp")
    np.testing.assert_array_equal(hyp.mask, ruac.mask)
    np.testing.assert_allclose(hyp.probability, ruac.probability, atol=1e-6)
    assert (hyp.uncertainty >= ruac.uncertainty - 1e-6).all()
    assert 0.0 <= hyp.uncertainty.min() and hyp.uncertainty.max() <= 1.0
    assert hyp.uncertainty.sum() > ruac.uncertainty.sum()  # the fitted decoder's hypotheses do differ somewhere
    assert not get_method("ruac-hyp").uncertainty_is_entropy


def test_ruac_hyp_is_one_pass_and_runs_through_a_volume(fitted):
    image, labels = blob_scene(seed=3, count=1)
    volume = np.stack([image] * 3)
    result = VolumePredictor(fitted, method="ruac-hyp").segment(volume, {1: {"box": tight_box(labels == 1)}})
    assert result.mask.shape == volume.shape and result.mask[1].any()
    assert 0.0 <= result.uncertainty.min() <= result.uncertainty.max() <= 1.0
