"""``ruac-train fit-laplace`` / ``fit-varnet``: a model without the head cannot run the method, the
command gives it the head from an annotated folder, and the saved model then runs it (issue 17 §2)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from napari_ruac import load_model
from napari_ruac.inference import ImagePredictor
from napari_ruac.core import tight_box
from napari_ruac.uq import method_readiness
from ruac_training.cli import main
from training_support import write_blob_folder

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_blob_folder(tmp_path_factory.mktemp("annotated"), count=3, size=96, objects=2)


def runs_with(model_json, method, data):
    model = load_model(model_json, device="cpu")
    assert method_readiness(model)[method] is None
    image = np.asarray(Image.open(next((data / "images").iterdir())))
    labels = np.asarray(Image.open(next((data / "masks").iterdir())))
    predictor = ImagePredictor(model, method=method)
    predictor.set_image(image)
    prediction = predictor.predict(box=tight_box(labels == 1))
    assert prediction.uncertainty.shape == image.shape[:2]
    assert 0.0 <= prediction.uncertainty.min() <= prediction.uncertainty.max() <= 1.0


def test_the_shipped_model_says_how_to_get_laplace_and_varnet():
    readiness = method_readiness(load_model("ruac-micro", device="cpu"))
    assert "ruac-train fit-laplace" in readiness["laplace"]
    assert "ruac-train fit-varnet" in readiness["varnet"]


def test_fit_laplace_saves_a_model_that_runs_laplace(tmp_path, data, capsys):
    assert main(["fit-laplace", "ruac-micro", str(data), "--out", str(tmp_path / "micro_laplace"),
                 "--max-images", "2", "--fit-size", "32", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "2 annotated images" in out and "--method laplace" in out
    runs_with(tmp_path / "micro_laplace.json", "laplace", data)


def test_fit_varnet_saves_a_model_that_runs_varnet(tmp_path, data):
    assert main(["fit-varnet", "ruac-micro", str(data), "--out", str(tmp_path / "micro_varnet.json"),
                 "--steps", "3", "--device", "cpu"]) == 0
    runs_with(tmp_path / "micro_varnet.json", "varnet", data)


def test_bad_input_is_one_clear_line(tmp_path, data, capsys):
    empty = write_blob_folder(tmp_path / "empty", count=1, size=64, objects=1)
    mask = next((empty / "masks").iterdir())
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(mask)
    cases = [
        (["fit-laplace", "ruac-micro", str(empty), "--out", str(tmp_path / "a")], "all background"),
        (["fit-laplace", "ruac-micro", str(tmp_path / "nowhere"), "--out", str(tmp_path / "b")], "is not a folder"),
        (["fit-varnet", "ruac-micro", str(data), "--out", str(tmp_path / "no" / "c")], "does not exist"),
        (["fit-varnet", "ruac-micro", str(data), "--out", str(tmp_path / "d"), "--max-images", "0"], "--max-images"),
    ]
    for argv, expected in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert expected in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert not any(tmp_path.glob("*.safetensors"))  # nothing written by a refused run
