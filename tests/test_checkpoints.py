"""Loading weights: official-format files, our safetensors export, training checkpoints, bad files."""

import pickle
from dataclasses import replace

import numpy as np
import pytest
import torch

from napari_ruac import ImagePredictor, load_model
from napari_ruac.models import CheckpointError, DeviceError, registry, save_ruac_checkpoint
from napari_ruac.models.download import sha256_of


@pytest.fixture(scope="module")
def official_file(tmp_path_factory, tiny_model):
    """A file in the official format ({"model": state_dict}) named like the registry's."""
    path = tmp_path_factory.mktemp("ckpt") / "sam2.1_hiera_tiny.pt"
    torch.save({"model": tiny_model.sam2.state_dict()}, path)
    return path


def _outputs(model, blob):
    predictor = ImagePredictor(model, method="ruac")
    predictor.set_image(blob[0])
    return predictor.predict(box=[40, 40, 150, 150])


def test_official_checkpoint_loads_by_path(official_file, tiny_model, blob):
    model = load_model(official_file, device="cpu", image_size=256)
    assert model.info.pretrained and model.info.name == "sam2.1_hiera_tiny"
    a, b = _outputs(model, blob), _outputs(tiny_model, blob)
    assert np.array_equal(a.mask, b.mask) and np.allclose(a.uncertainty, b.uncertainty)


def test_registry_name_loads_from_the_cache(official_file, tiny_model, monkeypatch):
    spec = replace(registry.MODELS["sam2.1_hiera_tiny"], sha256=sha256_of(official_file))
    monkeypatch.setitem(registry.MODELS, spec.name, spec)
    target = registry.checkpoint_path(spec.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(official_file.read_bytes())
    try:
        model = load_model("tiny", device="cpu", image_size=256)
        for key, value in tiny_model.sam2.state_dict().items():
            assert torch.equal(model.sam2.state_dict()[key], value), key
    finally:
        target.unlink()


def test_missing_registry_checkpoint_offline_names_file_and_place():
    with pytest.raises(Exception) as info:
        load_model("sam2.1_hiera_base_plus", device="cpu")
    assert "sam2.1_hiera_base_plus.pt" in str(info.value) and "dl.fbaipublicfiles.com" in str(info.value)


def test_ruac_export_round_trip_with_trained_head(tmp_path, fitted, blob):
    model = load_model("tiny", device="cpu", pretrained=False, image_size=256)
    model.load_state_dict(fitted.state_dict())
    with torch.no_grad():  # "train" the head: the reloaded model must carry it
        for p in model.head.parameters():
            p.add_(0.05 * torch.randn_like(p))
    weights, config = save_ruac_checkpoint(model, tmp_path / "trained", notes={"epochs": 3})
    assert weights.suffix == ".safetensors" and config.suffix == ".json"
    loaded = load_model(tmp_path / "trained.safetensors", device="cpu")
    assert loaded.info.ruac_trained and loaded.info.notes["epochs"] == 3
    a, b = _outputs(model, blob), _outputs(loaded, blob)
    assert np.allclose(a.uncertainty, b.uncertainty, atol=1e-6)
    assert not np.allclose(a.uncertainty, _outputs(fitted, blob).uncertainty, atol=1e-3)


def test_head_only_export_uses_the_base_model(tmp_path, official_file, tiny_model, monkeypatch, blob):
    spec = replace(registry.MODELS["sam2.1_hiera_tiny"], sha256=sha256_of(official_file))
    monkeypatch.setitem(registry.MODELS, spec.name, spec)
    target = registry.checkpoint_path(spec.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(official_file.read_bytes())
    try:
        model = load_model("tiny", device="cpu", image_size=256)
        weights, _ = save_ruac_checkpoint(model, tmp_path / "head_only", include_sam2=False)
        assert weights.stat().st_size < 0.2 * official_file.stat().st_size
        loaded = load_model(tmp_path / "head_only.json", device="cpu")
        assert np.allclose(_outputs(loaded, blob).probability, _outputs(tiny_model, blob).probability, atol=1e-6)
    finally:
        target.unlink()


def test_training_checkpoint_loads(tmp_path, tiny_model, blob):
    path = tmp_path / "step_10.pt"
    torch.save({"ruac_config": tiny_model.config(), "model": tiny_model.state_dict(), "step": 10}, path)
    loaded = load_model(path, device="cpu")
    assert np.array_equal(_outputs(loaded, blob).mask, _outputs(tiny_model, blob).mask)


def test_checkpoint_of_another_size_is_a_clear_error(tmp_path):
    small = load_model("sam2.1_hiera_small", device="cpu", pretrained=False, image_size=256)
    path = tmp_path / "sam2.1_hiera_tiny.pt"  # named tiny, holds small
    torch.save({"model": small.sam2.state_dict()}, path)
    with pytest.raises(CheckpointError, match="different model size"):
        load_model(path, device="cpu", image_size=256)


@pytest.mark.parametrize(
    "content,match",
    [(b"", "empty"), (b"\x00garbage" * 50, "not a readable PyTorch checkpoint")],
)
def test_corrupt_files_are_clear_errors(tmp_path, content, match):
    path = tmp_path / "sam2.1_hiera_tiny.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        load_model(path, device="cpu")


class _Payload:
    def __reduce__(self):
        return (print, ("this code must never run",))


def test_pickles_with_code_are_refused(tmp_path):
    path = tmp_path / "sam2.1_hiera_tiny.pt"
    torch.save({"model": {"x": torch.zeros(1)}, "evil": _Payload()}, path, pickle_module=pickle)
    with pytest.raises(CheckpointError, match="weights-only"):
        load_model(path, device="cpu")


def test_unknown_architecture_needs_a_config(tmp_path, tiny_model):
    path = tmp_path / "my_model.pt"
    torch.save({"model": tiny_model.sam2.state_dict()}, path)
    with pytest.raises(CheckpointError, match="config="):
        load_model(path, device="cpu")
    model = load_model(path, device="cpu", config=registry.MODELS["sam2.1_hiera_tiny"].config, image_size=256)
    assert model.info.pretrained


def test_missing_path_and_bad_device():
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model("/nonexistent/model.pt")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available"):
            load_model("tiny", device="cuda", pretrained=False, image_size=256)
