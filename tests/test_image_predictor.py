"""ImagePredictor: the three-line API, SAM2 parity, caching, intensities, methods, bad input."""

import warnings

import numpy as np
import pytest
import torch
from sam2.sam2_image_predictor import SAM2ImagePredictor
from skimage import data

from fixture_models import blob_scene
from napari_ruac.core.boxes import tight_box
from napari_ruac import ImagePredictor
from napari_ruac.inference import ImageError, NoImageError, PromptError
from napari_ruac.models.uncertainty import binary_entropy


def test_three_lines_give_typed_maps(tiny_model):
    predictor = ImagePredictor(tiny_model, method="ruac")
    predictor.set_image(data.coins())
    out = predictor.predict(box=[20, 30, 120, 140])
    h, w = data.coins().shape
    assert out.mask.dtype == bool and out.mask.shape == (h, w)
    assert out.probability.dtype == np.float32 and out.uncertainty.dtype == np.float32
    assert 0 <= out.uncertainty.min() and out.uncertainty.max() <= 1
    assert 0 <= out.probability.min() and out.probability.max() <= 1
    assert isinstance(out.iou, float) and out.method == "ruac"


def test_a_model_name_is_loaded_and_a_wrong_model_named(tmp_path):
    from napari_ruac import VolumePredictor

    predictor = ImagePredictor("ruac-micro")  # the shipped model, loaded offline
    assert predictor.model.info.name == "ruac-micro"
    predictor.set_image(data.coins())
    assert predictor.predict(box=[20, 30, 120, 140]).mask.any()
    assert VolumePredictor("ruac-micro").model.info.name == "ruac-micro"
    with pytest.raises(TypeError, match="model must be a RUACModel.*'ruac-micro'.*got ndarray"):
        ImagePredictor(np.zeros((4, 4)))
    with pytest.raises(Exception, match="nothing-here"):
        ImagePredictor(str(tmp_path / "nothing-here.json"))


@pytest.mark.parametrize(
    "prompt",
    [dict(box=[20, 30, 200, 160]), dict(points=[[100, 80]], labels=[1]), dict(points=[[100, 80], [30, 30]], labels=[1, 0])],
)
def test_matches_sam2_image_predictor(fitted, prompt):
    rgb = data.astronaut()
    ours = ImagePredictor(fitted, method="sam2")
    ours.set_image(rgb)
    out = ours.predict(**prompt)
    reference = SAM2ImagePredictor(fitted.sam2)
    reference._bb_feat_sizes = fitted.feature_sizes
    reference.set_image(rgb)
    kwargs = dict(box=np.array(prompt["box"])) if "box" in prompt else dict(
        point_coords=np.array(prompt["points"], float), point_labels=np.array(prompt["labels"])
    )
    multimask = "points" in prompt and len(prompt["points"]) == 1
    masks, ious, low = reference.predict(**kwargs, multimask_output=multimask, return_logits=True)
    best = int(np.argmax(ious))
    assert np.array_equal(masks[best] > 0, out.mask)
    assert abs(ious[best] - out.iou) < 1e-5
    assert np.allclose(low[best], out.low_res_logits, atol=1e-4)


def test_ruac_mask_equals_sam2_mask_and_sam2_uncertainty_is_its_entropy(fitted, blob):
    predictor = ImagePredictor(fitted)
    predictor.set_image(blob[0])
    box = tight_box(blob[1] == 1)
    ruac, sam2 = predictor.predict(box=box), predictor.predict(box=box, method="sam2")
    assert np.array_equal(ruac.mask, sam2.mask)
    # on the model's grid U = H(P) exactly; both maps are then resampled to the image alike
    low_res_probability = torch.sigmoid(torch.from_numpy(sam2.low_res_logits))
    expected = binary_entropy(torch.from_numpy(sam2.probability)).numpy()
    assert np.abs(sam2.uncertainty - expected).mean() < 0.01
    from napari_ruac.inference.prediction import upsample

    resampled = upsample(binary_entropy(low_res_probability)[None], blob[0].shape)[0].numpy()
    assert np.allclose(sam2.uncertainty, resampled, atol=1e-5)


def test_uncertainty_is_higher_where_the_mask_is_wrong(fitted):
    image, labels = blob_scene(seed=31, count=1)
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 30, image.shape), 0, 255).astype(np.uint8)
    predictor = ImagePredictor(fitted)
    predictor.set_image(noisy)
    truth = labels == 1
    for method in ("ruac", "ruac-mc", "sam2"):
        out = predictor.predict(box=tight_box(truth), method=method)
        error = out.mask != truth
        assert error.any() and (~error).any()
        assert out.uncertainty[error].mean() > 3 * out.uncertainty[~error].mean(), method


def test_new_prompts_reuse_the_embedding(tiny_model, monkeypatch):
    predictor = ImagePredictor(tiny_model)
    calls = []
    original = tiny_model.encode_image
    monkeypatch.setattr(tiny_model, "encode_image", lambda x: calls.append(1) or original(x))
    image = data.camera()[::2, ::2]
    predictor.set_image(image)
    predictor.predict(box=[10, 10, 100, 100])
    predictor.predict(points=[[50, 50]])
    predictor.set_image(image.copy())  # same content: a cache hit
    predictor.predict(box=[20, 20, 60, 60])
    assert len(calls) == 1
    predictor.set_image(image[::-1].copy())
    assert len(calls) == 2


def test_intensity_handling_for_microscopy_and_ct(tiny_model):
    base = data.coins()
    predictor = ImagePredictor(tiny_model, method="sam2")
    predictor.set_image(base.astype(np.uint16) * 200, value_range=(0, 255 * 200))
    as_uint16 = predictor.predict(box=[20, 30, 120, 140])
    predictor.set_image(base.astype(np.float32) / 255.0, value_range=(0, 1))
    as_float = predictor.predict(box=[20, 30, 120, 140])
    predictor.set_image(base)
    as_uint8 = predictor.predict(box=[20, 30, 120, 140])
    assert np.allclose(as_uint16.probability, as_uint8.probability, atol=1e-5)
    assert np.allclose(as_float.probability, as_uint8.probability, atol=1e-5)
    ct = ImagePredictor(tiny_model, intensity=(-160, 240))
    ct.set_image((base.astype(np.int16) * 4 - 400))
    assert ct.value_range == (-160.0, 240.0)
    auto = ImagePredictor(tiny_model)
    auto.set_image(base.astype(np.uint16) * 100 + 3000)
    low, high = auto.value_range
    assert 3000 <= low < high <= 3000 + 255 * 100  # percentiles of the data, not the dtype range


def test_rgba_and_grey_inputs(tiny_model):
    predictor = ImagePredictor(tiny_model)
    rgba = np.dstack([data.astronaut(), np.full(data.astronaut().shape[:2], 255, np.uint8)])
    predictor.set_image(rgba)
    assert predictor.predict(box=[100, 50, 300, 300]).mask.shape == rgba.shape[:2]
    predictor.set_image(data.camera()[..., None])
    assert predictor.predict(box=[100, 50, 300, 300]).mask.shape == data.camera().shape


def test_batch_equals_single_predictions(fitted, blob):
    predictor = ImagePredictor(fitted)
    predictor.set_image(blob[0])
    boxes = [tight_box(blob[1] == 1), [5, 5, 60, 60]]
    batch = predictor.predict_batch(boxes=boxes)
    for box, out in zip(boxes, batch):
        single = predictor.predict(box=box)
        assert np.array_equal(single.mask, out.mask)
        assert np.allclose(single.uncertainty, out.uncertainty, atol=1e-5)


def test_monte_carlo_is_seeded(fitted, blob):
    predictor = ImagePredictor(fitted, method="ruac-mc", num_samples=8)
    predictor.set_image(blob[0])
    box = tight_box(blob[1] == 1)
    a, b = predictor.predict(box=box, seed=3), predictor.predict(box=box, seed=3)
    c = predictor.predict(box=box, seed=4)
    assert np.array_equal(a.uncertainty, b.uncertainty) and not np.array_equal(a.uncertainty, c.uncertainty)


def test_previous_logits_refine_a_click(fitted, blob):
    predictor = ImagePredictor(fitted)
    predictor.set_image(blob[0])
    first = predictor.predict(box=tight_box(blob[1] == 1))
    again = predictor.predict(points=[[5, 5]], labels=[0], mask_input=first.low_res_logits)
    assert again.mask.shape == first.mask.shape


def test_bad_inputs_give_clear_errors(tiny_model):
    predictor = ImagePredictor(tiny_model)
    with pytest.raises(NoImageError, match="set_image"):
        predictor.predict(box=[0, 0, 10, 10])
    with pytest.raises(ImageError, match="VolumePredictor"):
        predictor.set_image(np.zeros((2, 3, 64, 64)))
    with pytest.raises(ImageError, match="channel-first"):
        predictor.set_image(np.zeros((3, 64, 64)))
    nan_image = np.zeros((64, 64), np.float32)
    nan_image[3, 4] = np.nan
    with pytest.raises(ImageError, match="NaN"):
        predictor.set_image(nan_image)
    with pytest.raises(ImageError, match="dtype"):
        predictor.set_image(np.zeros((64, 64), complex))
    predictor.set_image(data.camera()[:100, :120])
    with pytest.raises(PromptError, match="no prompt"):
        predictor.predict()
    with pytest.raises(PromptError, match="entirely outside"):
        predictor.predict(box=[500, 500, 600, 600])
    with pytest.raises(PromptError, match="x0 < x1"):
        predictor.predict(box=[50, 50, 10, 10])
    with pytest.raises(PromptError, match="outside"):
        predictor.predict(points=[[130, 10]])
    with pytest.raises(PromptError, match="labels"):
        predictor.predict(points=[[10, 10], [20, 20]], labels=[1])
    with pytest.raises(PromptError, match="NaN"):
        predictor.predict(box=[0, 0, np.nan, 10])
    with pytest.raises(ValueError, match="unknown method"):
        predictor.predict(box=[0, 0, 10, 10], method="magic")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = predictor.predict(box=[-20, 10, 60, 200])  # sticks out: clipped, not refused
    assert any("clipped" in str(w.message) for w in caught) and out.mask.shape == (100, 120)


def test_the_default_method_is_ruac_hyp_everywhere(tiny_model):
    """One home: uq.DEFAULT_METHOD is what the predictors and the CLI use when not told."""
    from napari_ruac import VolumePredictor
    from napari_ruac.cli.main import build_parser
    from napari_ruac.uq import DEFAULT_METHOD

    assert DEFAULT_METHOD == "ruac-hyp"
    predictor = ImagePredictor(tiny_model)
    predictor.set_image(data.coins())
    assert predictor.predict(box=[20, 30, 120, 140]).method == "ruac-hyp"
    assert VolumePredictor(tiny_model).method.name == "ruac-hyp"
    assert build_parser().parse_args(["segment", "x.png", "--box", "1", "2", "3", "4"]).method == "ruac-hyp"
