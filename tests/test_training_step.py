"""The training step: gradient routing of the min-max game, and learning on a fixed batch."""

from __future__ import annotations

import copy

import pytest
import torch

from fixture_models import blob_scene
from ruac_training.config import load_config
from ruac_training.data import to_tensors
from ruac_training.model_setup import apply_freeze, build_attackers, build_training_model, set_train_mode
from ruac_training.step import PhaseWeights, RUACTrainingStep, StepSettings, phase_weights
from ruac_training.trainer import step_generator
from training_support import tiny_config

FULL = PhaseWeights("full", 0.8, 0.05, 0.2, 0.1, True)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _batch(size: int = 64, images: int = 2):
    items = []
    for seed in range(images):
        image, labels = blob_scene(seed=seed, size=96, count=2)
        objects = [labels == i for i in (1, 2)]
        unit = (image[..., None].repeat(3, -1) / 255.0).astype("float32")
        items.append(to_tensors(unit, __import__("numpy").stack(objects), size, 2))
    return {k: torch.stack([item[k] for item in items]) for k in ("image", "masks", "valid")}


def _step(tmp_path, attack=("style", "deformation"), **overrides):
    config = load_config(tiny_config(tmp_path, tmp_path, model={"image_size": 64, "name": None,
                                                              "sam2_config": "reduced_hiera", "pretrained": False}),
                         [f"attack.{name}.enabled={name in attack}" for name in ("style", "deformation")]
                         + [f"{k}={v}" for k, v in overrides.items()])
    torch.manual_seed(0)
    model = build_training_model(config["model"])
    trainable = apply_freeze(model, config["model"]["freeze"])
    attackers = build_attackers(config["attack"], int(model.sam2.hidden_dim))
    set_train_mode(model, trainable)
    return RUACTrainingStep(model, attackers, StepSettings.from_config(config, False)), config


def _loss(step, batch, weights=FULL):
    return step(batch, weights, step_generator(0, 0, 0, 0, torch.device("cpu"))).loss


def _move(params, grads, size):
    """Plain gradient-descent move of a fixed length along the stored gradients."""
    norm = torch.sqrt(sum((g**2).sum() for g in grads))
    with torch.no_grad():
        for p, g in zip(params, grads):
            p -= size * g / norm


@pytest.mark.parametrize("attacker", ["style", "deformation"])
def test_attacker_ascends_the_loss_that_the_model_descends(tmp_path, attacker):
    step, _ = _step(tmp_path, attack=(attacker,))
    batch = _batch()
    base = _loss(step, batch)
    base.backward()
    attacker_params = [p for p in step.attackers.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    model_params = [p for p in step.model.parameters() if p.requires_grad and p.grad is not None]
    assert attacker_params and model_params
    saved = copy.deepcopy(step.state_dict())
    with torch.no_grad():
        _move(attacker_params, [p.grad for p in attacker_params], 0.2)
        after_attacker = _loss(step, batch)
        step.load_state_dict(saved)
        _move(model_params, [p.grad for p in model_params], 0.05)
        after_model = _loss(step, batch)
    # a descent step on the attacker's stored (reversed) gradient raises the loss, well above float noise
    assert float(after_attacker) - float(base) > 1e-5
    assert float(base) - float(after_model) > 1e-4


def test_grl_scale_reverses_and_scales_the_attacker_gradient(tmp_path):
    grads = {}
    for scale in (1.0, -2.0):  # -2: not reversed, twice as large
        step, _ = _step(tmp_path, attack=("deformation",), **{"attack.deformation.grl_scale": scale})
        _loss(step, _batch()).backward()
        grads[scale] = step.attackers["deformation"].net[-1].weight.grad.clone()
    assert grads[1.0].abs().sum() > 0
    torch.testing.assert_close(grads[-2.0], -2.0 * grads[1.0], rtol=1e-4, atol=1e-7)


def test_attackers_idle_before_the_full_phase(tmp_path):
    step, config = _step(tmp_path, **{"loss.curriculum.task_only_epochs": 1, "loss.curriculum.kl_epochs": 1})
    assert phase_weights(0.5, config["loss"]).phase == "task" and phase_weights(1.5, config["loss"]).phase == "kl"
    out = step(_batch(), phase_weights(0.5, config["loss"]), step_generator(0, 0, 0, 0, torch.device("cpu")))
    out.loss.backward()
    assert "task_attacked" not in out.logs and out.logs["kl"] == 0
    assert all(p.grad is None for p in step.attackers.parameters())
    # with task_logits=sample the Weibull shapes learn from the task loss from the first step
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in step.model.head.parameters())


def test_a_few_steps_reduce_the_loss_on_a_fixed_batch(tmp_path):
    step, _ = _step(tmp_path, **{"prompts.correction_rounds": 0})
    batch = _batch()
    params = [p for p in step.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-3)
    losses = []
    for _ in range(8):
        loss = _loss(step, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert losses[-1] < 0.8 * losses[0], losses


def test_attack_fraction_attacks_only_the_leading_images(tmp_path):
    step, _ = _step(tmp_path, **{"attack.fraction": 0.5})
    seen = []
    original = step.attack

    def spy(images, masks, valid, features):
        seen.append((images.shape[0], features.image_embed.shape[0]))
        return original(images, masks, valid, features)

    step.attack = spy
    out = _loss(step, _batch(images=2))
    assert seen == [(1, 1)] and torch.isfinite(out)
