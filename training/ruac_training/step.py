"""One training forward: clean branch, attacked branch, and the weighted RUAC objective.

``RUACTrainingStep`` is the module DDP wraps. Clean branch: frozen-encoder features computed
once under no_grad; prompts (box or click, then corrective clicks) decoded round by round; SAM2's
task loss on every round. Attacked branch (full phase only): the attackers read the clean
features (detached), restyle and warp the batch (masks warped alike), the frozen encoder runs
again on the attacked image with gradients to the input only, and the same losses apply. KL is
taken on the clean branch; UAA on both. One backward trains model and attackers (GRL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from napari_ruac.models import ImageFeatures, RUACModel

from .losses import TaskLossWeights, pixel_error, task_loss, uaa_loss
from .prompts import PromptGroup, corrective_clicks, initial_prompts


#: Every value a step may log (the trainer averages them over ranks by this list).
LOG_KEYS = ("total", "task_clean", "kl", "uaa", "train_iou", "mean_uncertainty", "focal_clean", "dice_clean",
            "iou_clean", "object_score_clean", "task_attacked", "train_iou_attacked")


@dataclass(frozen=True)
class PhaseWeights:
    """Loss weights of one curriculum phase; ``attack`` runs the attacked branch."""

    phase: str
    task: float
    kl: float
    adversarial: float
    uaa: float
    attack: bool


def phase_weights(epoch: float, loss_cfg: dict) -> PhaseWeights:
    """Curriculum: task-only epochs → + KL → the full min-max game (METHOD.md §2 recipe)."""
    curriculum, w = loss_cfg["curriculum"], loss_cfg["weights"]
    task_only = float(curriculum["task_only_epochs"])
    if epoch < task_only:
        return PhaseWeights("task", 1.0, 0.0, 0.0, 0.0, False)
    if epoch < task_only + float(curriculum["kl_epochs"]):
        return PhaseWeights("kl", 1.0, float(w["kl"]), 0.0, 0.0, False)
    return PhaseWeights("full", float(w["task"]), float(w["kl"]), float(w["adversarial"]), float(w["uaa"]), True)


@dataclass
class StepSettings:
    """What the step needs from the config (prompts and loss sections)."""

    box_probability: float = 0.5
    box_noise: float = 0.1
    box_noise_max_px: float = 20.0
    correction_rounds: int = 2
    attacked_correction_rounds: int = 0
    task_logits: str = "sample"
    mask_resolution: str = "low"
    weights: TaskLossWeights = field(default_factory=TaskLossWeights)
    encoder_trainable: bool = False
    attack_fraction: float = 1.0
    prompt_map_dropout: float = 0.0
    box_loose: float = 0.0
    box_loose_fraction: float = 1.0
    box_loose_px: float = 0.0
    uaa_error_form: str = "paper"

    @classmethod
    def from_config(cls, config: dict, encoder_trainable: bool) -> "StepSettings":
        p, loss = config["prompts"], config["loss"]
        weights = TaskLossWeights(**{k: loss[k] for k in TaskLossWeights.__dataclass_fields__})
        return cls(
            float(p["box_probability"]), float(p["box_noise"]), float(p["box_noise_max_px"]),
            int(p["correction_rounds"]), int(p["attacked_correction_rounds"]),
            loss["task_logits"], loss["mask_resolution"], weights, encoder_trainable,
            float(config["attack"].get("fraction", 1.0)), float(p.get("prompt_map_dropout", 0.0)),
            box_loose=float(p.get("box_loose", 0.0)), box_loose_fraction=float(p.get("box_loose_fraction", 1.0)),
            box_loose_px=float(p.get("box_loose_px", 0.0)), uaa_error_form=str(loss.get("uaa_error_form", "paper")),
        )


@dataclass
class BranchResult:
    task: torch.Tensor
    parts: dict[str, torch.Tensor]
    uaa: torch.Tensor
    kl: torch.Tensor
    probability: torch.Tensor  # (P, h, w) last round's MacKay probability (detached)
    uncertainty: torch.Tensor  # (P, h, w) (detached)
    iou: torch.Tensor  # mean IoU of the last round's selected masks


@dataclass
class StepOutput:
    loss: torch.Tensor
    logs: dict[str, torch.Tensor]
    visuals: dict[str, torch.Tensor] | None = None


def _index_features(features: ImageFeatures, rows: torch.Tensor) -> ImageFeatures:
    return ImageFeatures(features.image_embed[rows], [f[rows] for f in features.high_res])


class RUACTrainingStep(nn.Module):
    """The model and the attackers in one module (what DDP wraps); ``forward`` returns the loss."""

    def __init__(self, model: RUACModel, attackers: nn.ModuleDict, settings: StepSettings) -> None:
        super().__init__()
        self.model = model
        self.attackers = attackers
        self.settings = settings

    # ---- one branch --------------------------------------------------------------------------
    def _head_float(self):
        return torch.autocast(self.model.device.type, enabled=False)

    def run_branch(
        self,
        features: ImageFeatures,
        targets: torch.Tensor,
        image_rows: torch.Tensor,
        rounds: int,
        generator: torch.Generator,
        with_kl: bool,
        with_uaa: bool,
    ) -> BranchResult:
        """Prompts → decoder rounds → task loss (every round), KL and UAA on the selected masks.

        ``targets``: (P, S, S) {0, 1} object masks; ``image_rows``: (P,) image of each object.
        """
        model, s = self.model, self.settings
        size = targets.shape[-1]
        low = model.low_res_size
        target_low = F.interpolate(targets[:, None].float(), size=(low, low), mode="area")[:, 0]
        target_loss = targets.float() if s.mask_resolution == "full" else target_low
        groups = initial_prompts(targets > 0, s.box_probability, s.box_noise, s.box_noise_max_px, generator,
                                 box_loose=s.box_loose, box_loose_fraction=s.box_loose_fraction,
                                 box_loose_px=s.box_loose_px)
        group_features = [_index_features(features, image_rows[g.rows]) for g in groups]
        mask_inputs: list[torch.Tensor | None] = [None] * len(groups)
        sums: dict[str, torch.Tensor] = {}
        count = 0.0
        last_probability = targets.new_zeros(targets.shape[0], low, low, dtype=torch.float32)
        last_uncertainty = torch.zeros_like(last_probability)
        last_iou = targets.new_zeros(targets.shape[0], dtype=torch.float32)
        for round_index in range(rounds + 1):
            final = round_index == rounds
            for g_index, group in enumerate(groups):
                out = self._decode_group(
                    group, group_features[g_index], mask_inputs[g_index], target_loss[group.rows],
                    target_low[group.rows], generator, with_kl, with_uaa,
                )
                weight = float(len(group.rows))
                for key, value in out["losses"].items():
                    sums[key] = sums.get(key, 0.0) + value * weight
                count += weight
                if final:
                    last_probability[group.rows] = out["probability"]
                    last_uncertainty[group.rows] = out["uncertainty"]
                    last_iou[group.rows] = out["iou"]
                else:
                    selected_logit = out["logit"]
                    mask_inputs[g_index] = selected_logit.detach()[:, None]
                    clicks, labels = corrective_clicks(target_low[group.rows] > 0.5, selected_logit.detach() > 0, size, generator)
                    groups[g_index] = group.add(clicks, labels)
        mean = {k: v / count for k, v in sums.items()}
        zero = targets.new_zeros((), dtype=torch.float32)
        parts = {k: mean[k] for k in ("focal", "dice", "iou", "object_score")}
        return BranchResult(mean["task"], parts, mean.get("uaa", zero), mean.get("kl", zero),
                            last_probability, last_uncertainty, last_iou.mean())

    def _decode_group(self, group: PromptGroup, features, mask_input, target_loss, target_low, generator, with_kl, with_uaa):
        model, s = self.model, self.settings
        use_map = None
        if model.info.prompt_map and s.prompt_map_dropout > 0:
            use_map = bool(torch.rand((), generator=generator, device=generator.device) >= s.prompt_map_dropout)
        sparse, dense = model.encode_prompts(points=group.points, labels=group.labels, mask_input=mask_input,
                                             prompt_map=use_map)
        out, selected = model.decode(features, sparse, dense, multimask=group.multimask, repeat_image=False)
        if not group.multimask and bool((selected.token_index != 0).any()):
            # a frozen (eval-mode) decoder applies SAM2's stability fallback; training supervises token 0 (as SAM2)
            selected = out.select(torch.zeros_like(selected.token_index))
        first = 1 if group.multimask else 0
        last = out.logits.shape[1] if group.multimask else 1
        candidates = last - first
        with self._head_float():
            upscaled = out.upscaled.float()
            if candidates > 1:
                upscaled = upscaled.repeat_interleave(candidates, dim=0)
            image_tokens = out.image_tokens.float()
            if candidates > 1:
                image_tokens = image_tokens.repeat_interleave(candidates, dim=0)
            params = model.head.params(
                upscaled,
                out.hyper_in[:, first:last].float().flatten(0, 1),
                out.mask_tokens[:, first:last].float().flatten(0, 1),
                image_tokens,
            )
            if s.task_logits == "sample":
                logits = model.head.sample_logits(params, 1, generator)[0]
            else:
                logits = out.logits[:, first:last].float().flatten(0, 1)
            logits = logits.view(len(group.rows), candidates, *logits.shape[-2:])
            if s.mask_resolution == "full":
                logits = F.interpolate(logits, size=target_loss.shape[-2:], mode="bilinear", align_corners=False)
            task, parts, _ = task_loss(logits, out.iou[:, first:last], out.object_score[:, 0], target_loss, s.weights)
            losses = {"task": task, **parts}
            # the mask SAM2 would return (train mode: best predicted IoU among candidates, else token 0)
            position = (selected.token_index - first).clamp_min(0)
            chosen = torch.arange(len(group.rows), device=position.device) * candidates + position
            chosen_params = type(params)(**{k: getattr(params, k)[chosen] for k in params.__dataclass_fields__})
            mean_logit, probability, uncertainty = model.head.analytic(chosen_params)
            if with_uaa:
                error = pixel_error(selected.logit.float(), target_low)
                losses["uaa"] = uaa_loss(error, uncertainty, s.uaa_error_form)
            if with_kl:
                losses["kl"] = model.head.kl(chosen_params)
            with torch.no_grad():
                predicted, truth = selected.logit > 0, target_low > 0.5
                iou = (predicted & truth).flatten(1).sum(-1) / (predicted | truth).flatten(1).sum(-1).clamp_min(1)
        return {"losses": losses, "logit": selected.logit, "probability": probability.detach(),
                "uncertainty": uncertainty.detach(), "iou": iou.float()}

    # ---- the whole step -----------------------------------------------------------------------
    def encode(self, images: torch.Tensor, need_input_grad: bool) -> ImageFeatures:
        """Image features; under no_grad when nothing upstream needs gradients (frozen encoder, clean images)."""
        if self.settings.encoder_trainable or need_input_grad:
            return self.model.encode_image(images)
        with torch.no_grad():
            return self.model.encode_image(images)

    def attack(self, images, masks, valid, features: ImageFeatures):
        """(attacked images, attacked masks) from the enabled attackers: style, then deformation."""
        embed = features.image_embed.detach().float()
        x, m = images, masks
        if "style" in self.attackers:
            x = self.attackers["style"](x, m, valid, embed).image
        if "deformation" in self.attackers:
            deformed = self.attackers["deformation"](x, m, valid, embed)
            x, m = deformed.image, deformed.masks
        return x, m

    def forward(self, batch: dict, weights: PhaseWeights, generator: torch.Generator, visuals: bool = False) -> StepOutput:
        images, masks, valid = batch["image"], batch["masks"], batch["valid"]
        image_rows, object_rows = torch.nonzero(valid, as_tuple=True)
        if len(image_rows) == 0:  # no object in this micro-batch: a zero loss that still touches every parameter
            loss = sum(p.sum() * 0.0 for p in self.parameters() if p.requires_grad)
            return StepOutput(loss, {"total": loss.detach()})
        s = self.settings
        clean_features = self.encode(images, need_input_grad=False)
        clean = self.run_branch(clean_features, masks[image_rows, object_rows], image_rows, s.correction_rounds,
                                generator, with_kl=weights.kl > 0, with_uaa=weights.uaa > 0)
        total = weights.task * clean.task + weights.kl * clean.kl
        logs = {"task_clean": clean.task, "kl": clean.kl, "train_iou": clean.iou,
                "mean_uncertainty": clean.uncertainty.mean(), **{f"{k}_clean": v for k, v in clean.parts.items()}}
        uaa_terms = [clean.uaa]
        attacked_images = None
        count = max(1, math.ceil(s.attack_fraction * len(images)))  # the first images of a shuffled batch
        rows = image_rows < count
        if weights.attack and len(self.attackers) and rows.any():
            head = ImageFeatures(clean_features.image_embed[:count], [f[:count] for f in clean_features.high_res])
            attacked_images, attacked_masks = self.attack(images[:count], masks[:count], valid[:count], head)
            attacked_features = self.encode(attacked_images, need_input_grad=True)
            attacked = self.run_branch(attacked_features, attacked_masks[image_rows[rows], object_rows[rows]],
                                       image_rows[rows], s.attacked_correction_rounds, generator, with_kl=False,
                                       with_uaa=weights.uaa > 0)
            total = total + weights.adversarial * attacked.task
            uaa_terms.append(attacked.uaa)
            logs.update(task_attacked=attacked.task, train_iou_attacked=attacked.iou)
        uaa = torch.stack(uaa_terms).mean()
        total = total + weights.uaa * uaa
        logs.update(uaa=uaa, total=total)
        logs = {k: v.detach().float() for k, v in logs.items()}
        shown = None
        if visuals:
            shown = {"image": images[:1].detach(), "mask": masks[image_rows[:1], object_rows[:1]].detach(),
                     "probability": clean.probability[:1], "uncertainty": clean.uncertainty[:1]}
            if attacked_images is not None:
                shown["attacked"] = attacked_images[:1].detach()
        return StepOutput(total, logs, shown)
