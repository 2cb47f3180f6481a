"""Behaviour with a model whose logits mean something (the ``fitted`` fixture): every baseline's
uncertainty is higher where its mask is wrong than where it is right, on a held-out scene."""

from __future__ import annotations

import pytest
import torch

from fixture_models import blob_scene
from napari_ruac.core.boxes import tight_box
from napari_ruac import ImagePredictor
from napari_ruac.uq.laplace import fit_laplace
from ruac_training.posthoc import iter_train_varnet, prepare_samples


@pytest.fixture(scope="module")
def held_out(fitted):
    image, labels = blob_scene(seed=11, count=1)
    predictor = ImagePredictor(fitted)
    predictor.set_image(image)
    return predictor, labels == 1


@pytest.fixture(scope="module")
def heads(fitted):
    """A Laplace posterior and a variance net fitted on other scenes than the held-out one."""
    scenes = [blob_scene(seed=s, count=2) for s in (20, 21)]
    posterior = fit_laplace(fitted, [im for im, _ in scenes], [lab for _, lab in scenes])
    scenes = [blob_scene(seed=s, count=2) for s in (30, 31, 32)]
    samples = prepare_samples(fitted, [im for im, _ in scenes], [lab for _, lab in scenes])
    torch.manual_seed(0)
    varnet = None
    for event in iter_train_varnet(fitted, None, None, steps=40, batch_size=2, lr=1e-3, attach=False, samples=samples):
        varnet = event["head"]
    return {"laplace_posterior": posterior, "varnet": varnet}


METHODS = {
    "sam2": {},
    "tta": {"num_samples": 4, "batch_size": 4},
    "prompt": {"num_samples": 8},
    "laplace": {"num_samples": 16},
    "laplace-probit": {"laplace_mode": "probit"},
    "varnet": {},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(METHODS))
def test_uncertainty_is_higher_on_erroneous_pixels(name, held_out, heads):
    predictor, truth = held_out
    method = name.split("-")[0]
    out = predictor.predict(box=tight_box(truth), method=method, **METHODS[name], **heads)
    wrong = out.mask != truth
    assert wrong.sum() >= 20 and (~wrong).sum() > 1000  # both kinds of pixel exist
    on_errors, on_correct = out.uncertainty[wrong].mean(), out.uncertainty[~wrong].mean()
    assert on_errors > 2 * on_correct, (name, on_errors, on_correct)
    iou = (out.mask & truth).sum() / (out.mask | truth).sum()
    assert iou > 0.8  # and the mask itself is still good
