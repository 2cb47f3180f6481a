"""``laplace``: last-layer diagonal Laplace approximation (UncertSAM §2 (iii)).

Fit: :func:`fit_laplace` (or :class:`LaplaceFitter` for progress) accumulates the closed-form
GGN diagonal (see laplace_posterior) over a few annotated images, prompted with the box of
each object, and picks the prior precision by the marginal likelihood.
Predict: ``extra["laplace_mode"]`` = ``sample`` (default: N weight samples; only hyper_in
changes, so each sample is one (O × HW) product) or ``probit`` (closed-form GLM predictive,
MacKay's probit). The posterior comes from ``extra["laplace_posterior"]`` (object or file) or
the model's extra head ``laplace`` (``model.attach("laplace", posterior)``; saved with the model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..core.boxes import tight_box, to_model_frame
from ..core.objects import object_masks
from ..models.decoder import select_token_index
from ..models.uncertainty import binary_entropy, mackay_probability
from .base import HeadMethod, MethodOptions, register_method
from .ensemble import MissingHeadError, probability_to_logit
from ..models.laplace_posterior import LaplacePosterior, load_laplace, save_laplace

HOW_TO_FIT = (
    "Fit a Laplace posterior from a few annotated images: "
    "posterior = napari_ruac.uq.laplace.fit_laplace(model, images, masks); then model.attach('laplace', posterior) "
    "(save_ruac_checkpoint keeps it) or pass laplace_posterior=posterior (or a file written by save_laplace). "
    "On the command line: ruac-train fit-laplace MODEL ANNOTATED_DIR --out STEM, then --model STEM.json "
    "(napari-ruac evaluate … --laplace-fit N fits one per evaluation)."
)


# ---- the decoder's last hypernetwork layer ----------------------------------------------
def hypernetwork_activations(decoder, mask_tokens: torch.Tensor) -> torch.Tensor:
    """Penultimate activations a of every token's hypernetwork MLP: (B, T, D) → (B, T, F)."""
    out = []
    for t, mlp in enumerate(decoder.output_hypernetworks_mlps):
        x = mask_tokens[:, t]
        for layer in mlp.layers[:-1]:
            x = mlp.act(layer(x))
        out.append(x)
    return torch.stack(out, dim=1)


def selected_activation(decoder, mask_token: torch.Tensor, token_index: torch.Tensor) -> torch.Tensor:
    """Penultimate activation for each prompt's selected token: (B, D), (B,) → (B, F)."""
    rows = []
    for row in range(mask_token.shape[0]):
        mlp = decoder.output_hypernetworks_mlps[int(token_index[row])]
        x = mask_token[row : row + 1]
        for layer in mlp.layers[:-1]:
            x = mlp.act(layer(x))
        rows.append(x)
    return torch.cat(rows, dim=0)


def diag_ggn(activation: torch.Tensor, features: torch.Tensor, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bernoulli GGN diagonal summed over pixels and prompts, per token.

    activation (B, T, F), features (B, O, P) per-pixel features, logits (B, T, P) →
    (weight (T, O, F), bias (T, O)).
    """
    probability = torch.sigmoid(logits)
    lam = probability * (1.0 - probability)
    per_output = torch.einsum("btp,bop->bto", lam, features.square())
    weight = torch.einsum("bto,btf->tof", per_output, activation.square())
    return weight, per_output.sum(0)


# ---- fitting ------------------------------------------------------------------------------
class LaplaceFitter:
    """Accumulates the GGN over images one at a time (so callers can show progress)."""

    def __init__(self, model, fit_size: int | None = 128, intensity=None, batch_size: int = 8) -> None:
        decoder = model.sam2.sam_mask_decoder
        mlps = decoder.output_hypernetworks_mlps
        last = mlps[0].layers[-1]
        self.model, self.decoder, self.intensity = model, decoder, intensity
        self.fit_size = fit_size
        self.batch_size = max(1, int(batch_size))
        self.posterior = LaplacePosterior(len(mlps), last.in_features, last.out_features)
        with torch.no_grad():
            for t, mlp in enumerate(mlps):
                self.posterior.map_weight[t] = mlp.layers[-1].weight.detach().cpu()
                self.posterior.map_bias[t] = mlp.layers[-1].bias.detach().cpu()
        self.ggn_weight = torch.zeros_like(self.posterior.ggn_weight, dtype=torch.float64)
        self.ggn_bias = torch.zeros_like(self.posterior.ggn_bias, dtype=torch.float64)
        self.log_likelihood = 0.0
        self.images = self.prompts = self.pixels = 0

    @torch.no_grad()
    def add(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        boxes: Sequence[Sequence[float]] | None = None,
        value_range: tuple[float, float] | None = None,
    ) -> int:
        """One image; ``mask``: bool (one object) or labels (one object per id); ``value_range``
        as ``ImagePredictor.set_image``. Returns the number of prompts used."""
        from ..models.preprocess import prepare_image

        model = self.model
        objects = object_masks(mask, min_area=0, mode="labels")
        if boxes is None:
            boxes = [tight_box(m) for m in objects]
        if len(boxes) != len(objects):
            raise ValueError(f"got {len(boxes)} boxes for {len(objects)} objects in the mask")
        if not objects:
            return 0
        model_input, image_hw, _ = prepare_image(
            image, model.image_size, self.intensity, value_range=value_range, device=model.device
        )
        features = model.encode_image(model_input)
        for start in range(0, len(objects), self.batch_size):
            chunk = range(start, min(start + self.batch_size, len(objects)))
            frame = [to_model_frame(np.reshape(boxes[i], (2, 2)), image_hw, model.image_size).reshape(4) for i in chunk]
            box_tensor = torch.tensor(np.stack(frame), dtype=torch.float32, device=model.device)
            sparse, dense = model.encode_prompts(boxes=box_tensor)
            out, _ = model.decode(features, sparse, dense, multimask=False)
            self._accumulate(out, [objects[i] for i in chunk])
        self.images += 1
        return len(objects)

    def _accumulate(self, out, masks: list[np.ndarray]) -> None:
        features = out.upscaled
        size = features.shape[-1]
        if self.fit_size is not None and self.fit_size < size:  # linear in u: logits stay exact
            features = F.interpolate(features, size=(self.fit_size, self.fit_size), mode="area")
            size = self.fit_size
        flat = features.flatten(2).double()
        logits = torch.einsum("bto,bop->btp", out.hyper_in.double(), flat)
        activation = hypernetwork_activations(self.decoder, out.mask_tokens).double()
        weight, bias = diag_ggn(activation, flat, logits)
        self.ggn_weight += weight.cpu()
        self.ggn_bias += bias.cpu()
        chosen = select_token_index(self.decoder, out, multimask=False)
        targets = torch.stack(
            [F.interpolate(torch.from_numpy(m.astype(np.float32))[None, None], size=(size, size), mode="area")[0, 0] for m in masks]
        ).flatten(1).to(logits)
        picked = logits[torch.arange(len(masks), device=logits.device), chosen.to(logits.device)]
        self.log_likelihood -= float(F.binary_cross_entropy_with_logits(picked, targets, reduction="sum"))
        self.prompts += len(masks)
        self.pixels += len(masks) * size * size

    def posterior_result(self, prior_precision: float | None = None) -> LaplacePosterior:
        """The fitted posterior; δ by marginal likelihood unless ``prior_precision`` is given."""
        if self.prompts == 0:
            raise ValueError("no annotated object was seen: fit_laplace needs masks with foreground.")
        post = self.posterior
        post.ggn_weight.copy_(self.ggn_weight.float())
        post.ggn_bias.copy_(self.ggn_bias.float())
        post.log_likelihood.fill_(self.log_likelihood)
        if prior_precision is None:
            post.optimize_prior_precision()
            how = "marginal likelihood"
        else:
            post.prior_precision.fill_(float(prior_precision))
            how = "given"
        post.fit_info = {
            "images": self.images,
            "prompts": self.prompts,
            "pixels": self.pixels,
            "fit_size": self.fit_size,
            "prior_precision_from": how,
            "log_marginal_likelihood": post.log_marginal_likelihood(),
        }
        return post


def fit_laplace(
    model,
    images: Iterable[np.ndarray],
    masks: Iterable[np.ndarray],
    prompts: Iterable[Sequence[Sequence[float]] | None] | None = None,
    fit_size: int | None = 128,
    prior_precision: float | None = None,
    intensity=None,
    progress: Callable[[int], None] | None = None,
) -> LaplacePosterior:
    """Fit the last-layer Laplace posterior from annotated images (prompts: each object's box
    unless ``prompts`` gives per-image box lists). ``fit_size``: GGN grid side (UncertSAM: 128)."""
    fitter = LaplaceFitter(model, fit_size=fit_size, intensity=intensity)
    images, masks = list(images), list(masks)
    prompt_lists = [None] * len(images) if prompts is None else list(prompts)
    if not (len(images) == len(masks) == len(prompt_lists)):
        raise ValueError(f"got {len(images)} images, {len(masks)} masks and {len(prompt_lists)} prompt lists")
    for i, (image, mask, boxes) in enumerate(zip(images, masks, prompt_lists)):
        fitter.add(image, mask, boxes)
        if progress is not None:
            progress(i + 1)
    return fitter.posterior_result(prior_precision)


# ---- the method ---------------------------------------------------------------------------
_FILE_CACHE: dict[str, LaplacePosterior] = {}


def resolve_posterior(model, options: MethodOptions) -> LaplacePosterior:
    candidate = options.extra.get("laplace_posterior")
    if isinstance(candidate, (str, Path)):
        key = str(Path(candidate).resolve())
        if key not in _FILE_CACHE:
            _FILE_CACHE[key] = load_laplace(candidate)
        candidate = _FILE_CACHE[key]
    if candidate is None:
        if "laplace" not in model.extras:
            raise MissingHeadError(f"the laplace method needs a fitted posterior and this model has none. {HOW_TO_FIT}")
        candidate = model.extras["laplace"]
    if not isinstance(candidate, LaplacePosterior):
        raise TypeError(f"laplace_posterior must be a LaplacePosterior or a file path, got {type(candidate).__name__}")
    return candidate.to(model.device)


class LaplaceMethod(HeadMethod):
    name = "laplace"
    needs_head = "laplace"
    needs_what = "a fitted Laplace posterior"
    how_to_get = HOW_TO_FIT
    description = "last-layer diagonal Laplace (UncertSAM): N weight samples (default 16) or the GLM probit"
    default_samples = 16

    def apply(self, model, selected, options: MethodOptions):
        posterior = resolve_posterior(model, options)
        decoder = model.sam2.sam_mask_decoder
        posterior.check_model(decoder)
        token = selected.token_index
        activation = selected_activation(decoder, selected.mask_token, token)
        features = selected.upscaled
        mode = options.extra.get("laplace_mode", "sample")
        if mode == "probit":
            variance = torch.einsum("bo,bohw->bhw", posterior.hyper_in_variance(activation, token), features.square())
            probability = mackay_probability(selected.logit, variance)
            return probability_to_logit(probability), probability, binary_entropy(probability)
        if mode != "sample":
            raise ValueError(f"laplace_mode must be 'sample' or 'probit', got {mode!r}")
        count = options.samples(self.default_samples)
        generator = options.generator(features.device)
        total = torch.zeros_like(selected.logit)
        step = max(1, int(options.batch_size))
        for start in range(0, count, step):
            k = min(step, count - start)
            noise = posterior.sample_hyper_in_noise(activation, token, k, generator)
            logits = selected.logit[None] + torch.einsum("kbo,bohw->kbhw", noise, features)
            total = total + torch.sigmoid(logits).sum(0)
        probability = total / count
        return probability_to_logit(probability), probability, binary_entropy(probability)


register_method(LaplaceMethod())

__all__ = [
    "LaplaceFitter",
    "LaplaceMethod",
    "LaplacePosterior",
    "diag_ggn",
    "fit_laplace",
    "hypernetwork_activations",
    "load_laplace",
    "resolve_posterior",
    "save_laplace",
    "selected_activation",
]
