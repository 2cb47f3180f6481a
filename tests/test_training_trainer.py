"""The trainer in-process: exact resume after a stop, validation + best checkpoint, export → predictor,
config errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fixture_models import blob_scene
from napari_ruac.core.boxes import tight_box
from napari_ruac import ImagePredictor, load_model
from ruac_training import checkpointing
from ruac_training.config import ConfigError, load_config
from ruac_training.export import export_run
from ruac_training.trainer import Trainer
from training_support import run_all, tiny_config, write_blob_folder


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_blob_folder(tmp_path_factory.mktemp("blobs"), count=5, size=64, objects=2)


def fast_config(run_dir, data_root, *overrides):
    """8 optimizer steps (2 epochs × 4) across all three curriculum phases, accumulation 2."""
    base = tiny_config(run_dir, data_root, model={"image_size": 64}, prompts={"correction_rounds": 1})
    return load_config(base, [
        "data.batch_size=1", "data.max_objects=1", "data.val_fraction=0.2", "optim.accumulate=1",
        "train.epochs=2", "loss.curriculum.task_only_epochs=0.5", "loss.curriculum.kl_epochs=0.5",
        "val.every_steps=3", "checkpoint.every_steps=1000", *overrides,
    ])




def assert_same_state(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_stop_and_resume_gives_the_uninterrupted_parameters(tmp_path, data):
    straight, events = run_all(fast_config(tmp_path / "straight", data))
    assert straight.total_steps == 8 and events[-1].event == "done"
    phases = [e.phase for e in events if e.event == "step"]
    assert phases == ["task"] * 2 + ["kl"] * 2 + ["full"] * 4

    first, events = run_all(fast_config(tmp_path / "resumed", data), stop_at=3)
    assert events[-1].event == "stopped" and first.step == 3
    assert [e.step for e in events if e.event == "checkpoint"] == [3]
    second, events = run_all(fast_config(tmp_path / "resumed", data), resume=True)
    assert second.resumed_from.name == "step_00000003.pt" and events[-1].event == "done"
    assert_same_state(straight.model.state_dict(), second.model.state_dict())
    assert_same_state(straight.attackers.state_dict(), second.attackers.state_dict())
    assert any(not torch.equal(v, first_v) for v, first_v in zip(second.model.state_dict().values(),
                                                                checkpointing.load_checkpoint(first.checkpoint_dir / "step_00000003.pt")["model"].values()))


def test_checkpoint_is_weights_only_and_loads_as_a_model(tmp_path, data):
    extras = "model.extras={varnet: {class: VarianceHead, config: {}}}"
    trainer, events = run_all(fast_config(tmp_path / "run", data, "train.epochs=1", "val.every_steps=2", extras))
    validations = [e for e in events if e.event == "validation"]
    assert validations and {"iou", "auroc", "pearson"} <= set(validations[0].values)
    # the entropy of the same probability is validated beside the model's map (the baseline to beat)
    values = validations[0].values
    assert {"interior_auroc", "entropy_interior_auroc", "entropy_auroc", "object_rho", "entropy_object_rho"} <= set(values)
    assert all(0.0 <= values[k] <= 1.0 for k in ("auroc", "entropy_auroc") if values[k] == values[k])
    best = trainer.checkpoint_dir / "best.pt"
    state = torch.load(best, map_location="cpu", weights_only=True)
    assert state["best"]["metric"] == "iou" and state["best"]["step"] in (2, 4)
    model = load_model(trainer.checkpoint_dir / "step_00000004.pt", device="cpu")  # napari_ruac reads training checkpoints
    assert_same_state(model.head.state_dict(), trainer.model.head.state_dict())
    # the export: all weights (a from-scratch config), loadable by the predictor
    weights, _ = export_run(trainer.run_dir, which="last")
    assert weights == trainer.run_dir / "export" / "model.safetensors"
    exported = load_model(trainer.run_dir / "export", device="cpu")  # the folder is enough
    assert_same_state(exported.sam2.state_dict(), trainer.model.sam2.state_dict())
    assert_same_state(exported.extras.state_dict(), trainer.model.extras.state_dict())  # carried, frozen here
    assert list(exported.extras) == ["varnet"]
    image, labels = blob_scene(seed=2, size=96, count=1)
    predictor = ImagePredictor(exported)
    predictor.set_image(image)
    prediction = predictor.predict(box=tight_box(labels == 1))
    assert prediction.mask.shape == (96, 96) and 0 <= prediction.uncertainty.min() <= prediction.uncertainty.max() <= 1


def test_small_export_of_a_registry_model_holds_decoder_and_head_only(tmp_path, data):
    config = fast_config(tmp_path / "registry", data, "model.name=sam2.1_hiera_tiny", "model.sam2_config=null",
                         "train.max_steps=2", "val.every_steps=null")
    trainer, _ = run_all(config)
    weights, _ = export_run(trainer.run_dir, which="last", include_sam2=False)
    assert weights.stat().st_size < 25e6  # decoder (4.2 M params) + head, not the 39 M of SAM2.1-tiny
    exported = load_model(weights.with_suffix(".json"), device="cpu", pretrained=False)  # base from the registry
    assert_same_state(exported.sam2.sam_mask_decoder.state_dict(), trainer.model.sam2.sam_mask_decoder.state_dict())
    assert_same_state(exported.head.state_dict(), trainer.model.head.state_dict())
    predictor = ImagePredictor(exported)
    image, labels = blob_scene(seed=1, size=80, count=1)
    predictor.set_image(image)
    assert predictor.predict(box=tight_box(labels == 1)).probability.shape == (80, 80)


def test_bf16_autocast_path_runs_on_cpu(tmp_path, data):
    """The CUDA recipe's bf16 autocast, exercised on CPU by the same code (precision=bf16)."""
    trainer, events = run_all(fast_config(tmp_path / "bf16", data, "run.precision=bf16", "train.max_steps=5",
                                          "val.every_steps=null"))
    assert trainer.autocast == torch.bfloat16
    steps = [e.values for e in events if e.event == "step"]
    assert steps[-1]["task_attacked"] > 0 and all(np.isfinite(v["total"]) for v in steps)
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # weights stay fp32


@pytest.mark.gpu
def test_cuda_bf16_nccl_run_resumes_close_to_uninterrupted(tmp_path, data):
    config = fast_config(tmp_path / "gpu", data, "run.device=cuda", "run.deterministic=true", "val.every_steps=null")
    straight, _ = run_all(config)
    assert straight.autocast == torch.bfloat16 and straight.dist.backend == "nccl"
    resumed_config = fast_config(tmp_path / "gpu2", data, "run.device=cuda", "run.deterministic=true", "val.every_steps=null")
    run_all(resumed_config, stop_at=3)
    resumed, _ = run_all(resumed_config, resume=True)
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(value, resumed.model.state_dict()[key], rtol=1e-3, atol=1e-5)


def test_model_from_a_sam2_config_yaml_or_inline_mapping(tmp_path):
    import yaml

    from napari_ruac.models.sam2_build import reduced_hiera
    from ruac_training.model_setup import apply_freeze, build_training_model

    config = reduced_hiera(embed_dim=8)
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(config))
    from_yaml = build_training_model({"sam2_config": str(tmp_path / "small.yaml"), "image_size": 96, "name": "small"})
    from_dict = build_training_model({"sam2_config": config, "image_size": 96, "name": None})
    assert from_yaml.image_size == from_dict.image_size == 96
    assert from_yaml.sam2.image_encoder.trunk.patch_embed.proj.out_channels == 8
    trainable = apply_freeze(from_dict, ["image_encoder", "prompt_encoder", "extras"])
    assert trainable == ["mask_decoder", "head"]
    assert not any(p.requires_grad for p in from_dict.sam2.image_encoder.parameters())
    assert not any(p.requires_grad for p in from_dict.sam2.memory_attention.parameters())  # never trained
    assert all(p.requires_grad for p in from_dict.sam2.sam_mask_decoder.parameters())


def test_config_errors_name_the_key(tmp_path, data):
    with pytest.raises(ConfigError, match="optim.lr"):
        load_config(tiny_config(tmp_path, data), ["optim.lrr=3"])
    with pytest.raises(ConfigError, match="model.freeze"):
        load_config(tiny_config(tmp_path, data), ["model.freeze=[encoder]"])
    with pytest.raises(ConfigError, match="cannot fill one optimizer step"):
        Trainer(fast_config(tmp_path / "big", data, "data.batch_size=8"))
