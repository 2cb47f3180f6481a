"""Small training loops for the post-hoc UncertSAM heads on a frozen SAM2: the variance
network (``train_varnet``) and the dense-fusion refinement head (``train_fusion``).

Each image is encoded once; every step draws objects and prompts (box with SAM2's noise —
10 % of the side, ≤ 20 px — or, with ``point_probability``, one click inside the object),
decodes without gradients through SAM2, and updates only the head (AdamW, constant learning
rate, gradient clipping; UncertSAM Table 3). The ``iter_*`` forms are generators that yield
``{"step", "steps", "loss"}`` so a GUI or CLI can show progress and stop early.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from napari_ruac.models.preprocess import prepare_image
from napari_ruac.core import object_masks, tight_box, to_model_frame
from napari_ruac.models.ruac_model import ImageFeatures
from napari_ruac.models import PromptBatch
from napari_ruac.uq import MethodContext, MethodOptions, get_method
from napari_ruac.models.extra_heads import DenseFusion, VarianceHead
from napari_ruac.uq.fusion import fused_decode
from napari_ruac.uq.prompt_perturbation import perturb_prompts
from napari_ruac.uq.varnet import heteroscedastic_loss


@dataclass
class ObjectSample:
    """One annotated object: its image's features/input, its box (model frame), low-res target."""

    features: ImageFeatures
    model_input: torch.Tensor
    image_hw: tuple[int, int]
    box: torch.Tensor  # (4,) model frame
    target: torch.Tensor  # (S/4, S/4) fraction of object per low-res pixel
    mask: np.ndarray  # (H, W) bool, for click sampling


@torch.no_grad()
def prepare_samples(model, images: Iterable[np.ndarray], masks: Iterable[np.ndarray], intensity=None) -> list[ObjectSample]:
    """Encode each image once; one sample per object (bool mask, or one per label id)."""
    samples = []
    low = model.low_res_size
    for image, mask in zip(images, masks):
        model_input, image_hw, _ = prepare_image(image, model.image_size, intensity, device=model.device)
        features = model.encode_image(model_input)
        for obj in object_masks(mask, min_area=0, mode="labels"):
            box = tight_box(obj)
            frame = to_model_frame(np.reshape(box, (2, 2)), image_hw, model.image_size).reshape(4)
            target = F.interpolate(torch.from_numpy(obj.astype(np.float32))[None, None], size=(low, low), mode="area")
            samples.append(
                ObjectSample(
                    features,
                    model_input,
                    image_hw,
                    torch.tensor(frame, dtype=torch.float32, device=model.device),
                    target[0, 0].to(model.device),
                    obj,
                )
            )
    if not samples:
        raise ValueError("no annotated object found: pass masks with foreground (bool, or label ids > 0).")
    return samples


def sample_prompt(
    sample: ObjectSample, model, rng: np.random.Generator, box_noise: float, point_probability: float
) -> PromptBatch:
    """A box with SAM2's noise, or (with ``point_probability``) one click inside the object."""
    if rng.random() < point_probability:
        ys, xs = np.nonzero(sample.mask)
        i = int(rng.integers(len(xs)))
        xy = to_model_frame(np.array([[xs[i], ys[i]]], dtype=np.float64), sample.image_hw, model.image_size)
        points = torch.tensor(xy[None], dtype=torch.float32, device=model.device)
        labels = torch.ones((1, 1), dtype=torch.int32, device=model.device)
        return PromptBatch(points=points, labels=labels, multimask=True)
    prompts = PromptBatch(boxes=sample.box[None])
    if box_noise > 0:
        generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
        prompts = perturb_prompts(prompts, 1, generator, model.image_size, sample.image_hw, box_noise=box_noise)
    return prompts


@contextlib.contextmanager
def frozen(module: torch.nn.Module):
    """No parameter gradients for ``module`` inside the block (restored afterwards)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _optimizer(head, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)


def _check(steps: int, batch_size: int) -> None:
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be ≥ 1, got {steps} and {batch_size}")


# ---- variance network -----------------------------------------------------------------
def varnet_batch_loss(model, head: VarianceHead, batch: list[tuple[ObjectSample, PromptBatch]]) -> torch.Tensor:
    losses = []
    for sample, prompts in batch:
        with torch.no_grad():
            sparse, dense = model.encode_prompts(prompts.points, prompts.labels, prompts.boxes)
            _, selected = model.decode(sample.features, sparse, dense, multimask=prompts.multimask)
        log_variance = head(selected.mask_token, selected.image_tokens)
        losses.append(heteroscedastic_loss(log_variance, torch.sigmoid(selected.logit), sample.target[None]))
    return torch.stack(losses).mean()


def iter_train_varnet(
    model,
    images: Iterable[np.ndarray],
    masks: Iterable[np.ndarray],
    head: VarianceHead | None = None,
    steps: int = 500,
    batch_size: int = 4,
    lr: float = 1e-4,
    weight_decay: float = 1e-4,
    grad_clip: float = 0.1,
    box_noise: float = 0.1,
    point_probability: float = 0.5,
    seed: int = 0,
    attach: bool = True,
    intensity=None,
    samples: list[ObjectSample] | None = None,
) -> Iterator[dict]:
    """Train a variance head with the decoder frozen; yields progress; attaches it at the end.
    ``samples`` (from :func:`prepare_samples`) replaces images/masks when already encoded."""
    _check(steps, batch_size)
    torch.manual_seed(seed)
    head = (head or VarianceHead(transformer_dim=model.sam2.sam_mask_decoder.transformer_dim)).to(model.device)
    samples = samples or prepare_samples(model, images, masks, intensity)
    rng = np.random.default_rng(seed)
    optimizer = _optimizer(head, lr, weight_decay)
    head.train()
    with frozen(model.sam2):
        for step in range(steps):
            picks = rng.integers(len(samples), size=batch_size)
            batch = [(samples[i], sample_prompt(samples[i], model, rng, box_noise, point_probability)) for i in picks]
            loss = varnet_batch_loss(model, head, batch)
            optimizer.zero_grad()
            loss.backward()
            if grad_clip:
                torch.nn.utils.clip_grad_norm_(head.parameters(), grad_clip)
            optimizer.step()
            yield {"step": step + 1, "steps": steps, "loss": float(loss.detach()), "head": head}
    head.eval()
    if attach:
        model.attach("varnet", head)


def train_varnet(model, images, masks, progress=None, **kwargs) -> VarianceHead:
    """Train (and by default attach as ``model.extras['varnet']``) a variance network."""
    head = None
    for event in iter_train_varnet(model, images, masks, **kwargs):
        head = event["head"]
        if progress is not None:
            progress(event)
    return head


# ---- dense fusion ---------------------------------------------------------------------
def fusion_loss(logit: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE + soft Dice on the refined low-res logits."""
    probability = torch.sigmoid(logit)
    inter = (probability * target).flatten(1).sum(1)
    dice = 1 - (2 * inter + 1) / (probability.flatten(1).sum(1) + target.flatten(1).sum(1) + 1)
    return F.binary_cross_entropy_with_logits(logit, target) + dice.mean()


def fusion_batch_loss(
    model, fusion: DenseFusion, batch: list[tuple[ObjectSample, PromptBatch]], method, options: MethodOptions
) -> torch.Tensor:
    losses = []
    for sample, prompts in batch:
        ctx = MethodContext(model=model, features=sample.features, image=sample.model_input, options=options)
        with torch.no_grad():
            first = method.run(ctx, prompts)
        selected = fused_decode(ctx, prompts, first, fusion)
        losses.append(fusion_loss(selected.logit, sample.target[None]))
    return torch.stack(losses).mean()


def iter_train_fusion(
    model,
    images: Iterable[np.ndarray],
    masks: Iterable[np.ndarray],
    method: str = "sam2",
    fusion: DenseFusion | None = None,
    ones_map: bool = False,
    steps: int = 500,
    batch_size: int = 4,
    lr: float = 1e-4,
    weight_decay: float = 0.01,
    grad_clip: float = 0.1,
    box_noise: float = 0.1,
    point_probability: float = 0.0,
    seed: int = 0,
    attach: bool = True,
    intensity=None,
    samples: list[ObjectSample] | None = None,
    **method_options,
) -> Iterator[dict]:
    """Train a dense-fusion head on the first-pass maps of ``method`` (e.g. ``laplace`` with
    ``laplace_posterior=…``); SAM2 frozen, gradients reach only the head."""
    _check(steps, batch_size)
    torch.manual_seed(seed)
    embed_dim = model.sam2.sam_prompt_encoder.embed_dim
    fusion = (fusion or DenseFusion(embed_dim=embed_dim, ones_map=ones_map)).to(model.device)
    chosen = get_method(method)
    options = MethodOptions(seed=seed, extra=dict(method_options))
    samples = samples or prepare_samples(model, images, masks, intensity)
    rng = np.random.default_rng(seed)
    optimizer = _optimizer(fusion, lr, weight_decay)
    fusion.train()
    with frozen(model.sam2):
        for step in range(steps):
            picks = rng.integers(len(samples), size=batch_size)
            batch = [(samples[i], sample_prompt(samples[i], model, rng, box_noise, point_probability)) for i in picks]
            loss = fusion_batch_loss(model, fusion, batch, chosen, options)
            optimizer.zero_grad()
            loss.backward()
            if grad_clip:
                torch.nn.utils.clip_grad_norm_(fusion.parameters(), grad_clip)
            optimizer.step()
            yield {"step": step + 1, "steps": steps, "loss": float(loss.detach()), "head": fusion}
    fusion.eval()
    if attach:
        model.attach("fusion", fusion)


def train_fusion(model, images, masks, progress=None, **kwargs) -> DenseFusion:
    """Train (and by default attach as ``model.extras['fusion']``) a dense-fusion head."""
    head = None
    for event in iter_train_fusion(model, images, masks, **kwargs):
        head = event["head"]
        if progress is not None:
            progress(event)
    return head
