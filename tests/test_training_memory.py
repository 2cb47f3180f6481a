"""``train.mode: memory``: SAM2's video-memory path trained by the trainer on clips of generated
z-stacks (tiny from-scratch model at 64 px, packaged config tiny_memory): the memory weights and the
decoder change while the frozen parts do not, a stopped run resumes to the uninterrupted parameters,
clips hold what the step needs, and bad settings get errors that name the key."""

from __future__ import annotations

import pytest
import torch

from ruac_training.config import ConfigError, load_config
from ruac_training.data.clips import ClipDataset
from ruac_training.model_setup import MEMORY_MODULES
from ruac_training.trainer import Trainer
from training_support import run_all


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


def memory_config(run_dir, *overrides):
    return load_config("tiny_memory", [f"run.dir={run_dir}", "run.seed=3", *overrides])




def by_part(model) -> dict[str, dict[str, torch.Tensor]]:
    parts: dict[str, dict[str, torch.Tensor]] = {"memory": {}, "mask_decoder": {}, "image_encoder": {}, "prompt_encoder": {}}
    for name, value in model.sam2.state_dict().items():
        top = name.split(".")[0]
        part = "memory" if top in MEMORY_MODULES else {"sam_mask_decoder": "mask_decoder", "image_encoder": "image_encoder",
                                                       "sam_prompt_encoder": "prompt_encoder"}.get(top)
        if part:
            parts[part][name] = value.detach().clone()
    return parts


def changed(before: dict, after: dict) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


def test_memory_steps_train_the_memory_path_and_the_decoder_only(tmp_path):
    config = memory_config(tmp_path / "run", "val.every_steps=null")
    trainer = Trainer(config)
    assert {g["name"] for g in trainer.optimizer.param_groups} == {"mask_decoder", "memory"}
    before = by_part(trainer.model)
    events = list(trainer.iter_train())
    trainer.close()
    after = by_part(trainer.model)
    assert events[-1].event == "done" and trainer.step == 4
    moved = changed(before["memory"], after["memory"])
    for module in ("memory_encoder", "memory_attention", "obj_ptr_proj"):  # gradients reach every memory module
        assert any(name.startswith(module + ".") for name in moved), module
    assert changed(before["mask_decoder"], after["mask_decoder"])  # the decoder learns prompt-less slices
    assert not changed(before["image_encoder"], after["image_encoder"])
    assert not changed(before["prompt_encoder"], after["prompt_encoder"])
    steps = [e for e in events if e.event == "step"]
    assert {"total", "track_iou", "object_score_clean", "presence_accuracy"} <= set(steps[0].values)
    assert all(e.phase == "memory" for e in steps)
    validation = [e for e in events if e.event == "validation"]
    assert validation and {"iou", "track_iou", "loss"} <= set(validation[-1].values)
    log = (tmp_path / "run" / "log.txt").read_text()
    assert "memory" in log and "track_iou=" in log


def test_image_mode_leaves_the_memory_modules_alone(tmp_path):
    config = memory_config(tmp_path / "run")
    config["train"]["mode"] = "image"  # the same model built for image training: memory is no part of it
    from ruac_training.model_setup import apply_freeze, build_training_model

    model = build_training_model(config["model"])
    trainable = apply_freeze(model, ["image_encoder"])
    assert "memory" not in trainable
    assert not any(p.requires_grad for name, p in model.sam2.named_parameters() if name.split(".")[0] in MEMORY_MODULES)


def test_stop_and_resume_continues_at_the_right_step_with_the_same_parameters(tmp_path):
    straight, _ = run_all(memory_config(tmp_path / "straight", "val.every_steps=null"))
    first, events = run_all(memory_config(tmp_path / "resumed", "val.every_steps=null"), stop_at=1)
    assert events[-1].event == "stopped" and first.step == 1
    second, events = run_all(memory_config(tmp_path / "resumed", "val.every_steps=null"), resume=True)
    assert second.resumed_from.name == "step_00000001.pt"
    assert [e.step for e in events if e.event == "step"] == [2, 3, 4] and events[-1].event == "done"
    a, b = straight.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:3]


def test_a_resume_takes_the_learning_rates_of_its_overrides(tmp_path):
    run_all(memory_config(tmp_path / "run", "val.every_steps=null"), stop_at=1)
    trainer = Trainer(memory_config(tmp_path / "run", "val.every_steps=null", "optim.lr.memory=0.002"), resume=True)
    rates = {g["name"]: g["initial_lr"] for g in trainer.optimizer.param_groups}
    trainer.close()
    assert trainer.step == 1 and rates == {"memory": 0.002, "mask_decoder": 1e-4}


def test_clips_are_deterministic_and_start_with_the_object_present(tmp_path):
    config = memory_config(tmp_path / "run")
    dataset = ClipDataset(config["data"]["train"], image_size=64, frames=3, max_objects=2, min_area=10,
                          max_stride=2, seed=0, augment=True)
    item = dataset[3]
    assert item["image"].shape == (3, 3, 64, 64) and item["masks"].shape == (2, 3, 64, 64)
    assert item["valid"][0] and item["present"][0, 0] and item["masks"][0, 0].sum() > 0
    assert torch.equal(dataset[3]["masks"], item["masks"])  # a function of (seed, epoch, index)
    dataset.set_epoch(1)
    assert not torch.equal(dataset[3]["image"], item["image"])  # a new epoch draws new volumes


@pytest.mark.parametrize("override, key", [
    ("train.mode=video", "train.mode"),
    ("memory.frames=1", "memory.frames"),
    ("model.freeze=[memory]", "model.freeze"),
    ("data.train=[{type: synthetic, n: 4}]", "synthetic_volumes"),
])
def test_bad_memory_settings_name_the_key(tmp_path, override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        memory_config(tmp_path / "run", override)
