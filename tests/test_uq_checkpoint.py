"""The post-hoc heads are extras of the model: Laplace posterior, variance net and fusion head
survive save_ruac_checkpoint → load_model and predict exactly as before."""

from __future__ import annotations

import numpy as np
import torch

from fixture_models import blob_scene, random_model
from napari_ruac.core.boxes import tight_box
from napari_ruac import ImagePredictor, load_model
from napari_ruac.models import save_ruac_checkpoint
from napari_ruac.models.extra_heads import DenseFusion, VarianceHead
from napari_ruac.uq.laplace import LaplacePosterior, fit_laplace


def _predictions(model, image, box):
    predictor = ImagePredictor(model)
    predictor.set_image(image)
    return {
        "laplace": predictor.predict(box=box, method="laplace", num_samples=8, seed=1).probability,
        "probit": predictor.predict(box=box, method="laplace", laplace_mode="probit").uncertainty,
        "varnet": predictor.predict(box=box, method="varnet").uncertainty,
        "refine": predictor.predict(box=box, method="sam2", refine=True).probability,
    }


def test_extras_round_trip_through_save_ruac_checkpoint(tmp_path):
    model = random_model(seed=3)
    image, labels = blob_scene(seed=8, count=2)
    torch.manual_seed(1)
    model.attach("laplace", fit_laplace(model, [image], [labels]))
    varnet = VarianceHead()
    fusion = DenseFusion(ones_map=True)
    with torch.no_grad():
        for head in (varnet, fusion):
            for p in head.parameters():
                p.add_(0.05 * torch.randn_like(p))
    model.attach("varnet", varnet)
    model.attach("fusion", fusion)
    box = tight_box(labels == 1)
    before = _predictions(model, image, box)

    save_ruac_checkpoint(model, tmp_path / "model")
    loaded = load_model(tmp_path / "model.json", device="cpu")
    assert set(loaded.extras) == {"laplace", "varnet", "fusion"}
    assert isinstance(loaded.extras["laplace"], LaplacePosterior)
    assert loaded.extras["laplace"].fit_info["prompts"] == 2
    assert float(loaded.extras["laplace"].prior_precision) == float(model.extras["laplace"].prior_precision)
    assert loaded.extras["fusion"].ones_map is True
    after = _predictions(loaded, image, box)
    for key in before:
        np.testing.assert_allclose(after[key], before[key], atol=1e-6, err_msg=key)
