"""The one interface every uncertainty method implements, and the registry of methods by name.

A method turns (model, cached image features, prompts) into low-resolution maps in the
model's square frame: mask logit, probability P̄ and uncertainty U = H(P̄) in [0, 1].
The predictors upsample them to the image; so the GUI and CLI never branch on a method.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import torch

from ..models.decoder import SelectedMask
from ..models.prompts import PromptBatch
from ..models.ruac_model import ImageFeatures, RUACModel


@dataclass
class MethodOptions:
    """Knobs shared by the methods; each method reads the ones it understands."""

    num_samples: int | None = None  # None: the method's default
    seed: int = 0
    batch_size: int = 8
    simplified_variance: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def samples(self, default: int) -> int:
        n = default if self.num_samples is None else int(self.num_samples)
        if n < 1:
            raise ValueError(f"num_samples must be ≥ 1, got {n}")
        return n

    def generator(self, device: torch.device) -> torch.Generator:
        gen = torch.Generator(device=device if device.type != "mps" else "cpu")
        gen.manual_seed(int(self.seed))
        return gen


@dataclass
class MethodContext:
    """What a method may use: the model, the image's cached features, the model-frame image."""

    model: RUACModel
    features: ImageFeatures  # batch 1
    image: torch.Tensor | None  # (1, 3, S, S) normalised model input (for re-encoding methods)
    options: MethodOptions
    image_hw: tuple[int, int] | None = None  # the original image's (H, W): pixel-sized settings


@dataclass
class MethodOutput:
    """Low-resolution results for B prompts, in the model's square frame."""

    mask_logit: torch.Tensor  # (B, h, w) logit whose sign gives the mask
    probability: torch.Tensor  # (B, h, w) P̄ in [0, 1]
    uncertainty: torch.Tensor  # (B, h, w) in [0, 1]
    iou: torch.Tensor  # (B,)
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    # True when uncertainty = binary entropy of probability: the predictors then recompute it
    # from the upsampled probability, so the two full-resolution maps stay consistent
    uncertainty_is_entropy: bool = True


class Method(ABC):
    """An uncertainty method of the predictor API, selected by ``name``."""

    name: str = ""
    description: str = ""
    supports_volume: bool = True  # whether VolumePredictor can run it slice by slice
    uncertainty_is_entropy: bool = True  # False for methods whose map is not H(probability)
    needs_head: str | None = None  # an extra head the model must carry (model.extras[...]), e.g. "laplace"
    needs_what: str = ""  # that head in words ("a fitted Laplace posterior")
    how_to_get: str = ""  # how a user gets it

    @abstractmethod
    def run(self, ctx: MethodContext, prompts: PromptBatch) -> MethodOutput: ...

    def missing(self, model) -> str | None:
        """Why ``model`` cannot run this method now (and how to fix it); None when it can."""
        if self.needs_head is None or self.needs_head in getattr(model, "extras", {}):
            return None
        return f"needs {self.needs_what or f'a {self.needs_head} head'}, which this model does not have. {self.how_to_get}"

    def __repr__(self) -> str:
        return f"<method {self.name}>"


class HeadMethod(Method):
    """A method that needs one decoder pass: it only reads the decoder's selected mask.

    VolumePredictor uses ``apply`` on every propagated slice; ``run`` decodes then applies.
    """

    @abstractmethod
    def apply(
        self, model: RUACModel, selected: SelectedMask, options: MethodOptions
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mask logit, probability, uncertainty), each (B, h, w)."""

    def run(self, ctx: MethodContext, prompts: PromptBatch) -> MethodOutput:
        outputs = []
        for start in range(0, prompts.size, max(1, ctx.options.batch_size)):
            chunk = prompts.index(slice(start, start + ctx.options.batch_size))
            sparse, dense = ctx.model.encode_prompts(chunk.points, chunk.labels, chunk.boxes, chunk.mask_input)
            _, selected = ctx.model.decode(ctx.features, sparse, dense, multimask=chunk.multimask)
            logit, probability, uncertainty = self.apply(ctx.model, selected, ctx.options)
            outputs.append((logit, probability, uncertainty, selected.iou, selected.object_score))
        cat = lambda i: torch.cat([o[i] for o in outputs], dim=0)  # noqa: E731
        return MethodOutput(
            cat(0), cat(1), cat(2), cat(3), extras={"object_score": cat(4)},
            uncertainty_is_entropy=self.uncertainty_is_entropy,
        )


_METHODS: dict[str, Method] = {}

#: The method every predictor, workflow, the CLI and the GUI use unless told otherwise (one home).
#: ``ruac-hyp``: one decoder pass like ``ruac``, whose map it joins with the disagreement of SAM2's mask
#: hypotheses. In the uncertainty study (docs/shift_study.md, 2026-12-03) it beat ``ruac`` on failed-object
#: AUROC and top-10 review coverage on all four sets and on object ρ on three, for ≤ 0.007 interior AUROC;
#: ``ruac`` alone ranked objects no better than SAM2's entropy.
DEFAULT_METHOD = "ruac-hyp"


class UnknownMethodError(ValueError):
    pass


def register_method(method: Method) -> Method:
    """Make ``method`` available by its name to every predictor, the CLI and the GUI."""
    if not method.name:
        raise ValueError("a method needs a name")
    _METHODS[method.name] = method
    return method


def get_method(name: str | Method) -> Method:
    if isinstance(name, Method):
        return name
    if name not in _METHODS:
        raise UnknownMethodError(f"unknown method {name!r}; available: {', '.join(available_methods())}")
    return _METHODS[name]


def available_methods() -> list[str]:
    return list(_METHODS)


def method_readiness(model) -> dict[str, str | None]:
    """Every method's name → None if ``model`` can run it now, else why not and how to fix it."""
    return {name: method.missing(model) for name, method in _METHODS.items()}


def one_pass_method(name: str | Method, task: str = "volumes") -> HeadMethod:
    """The method ``name`` if it needs one decoder pass per prompt (what volume propagation and
    segment-everything decode with); else a clear error naming the methods that do."""
    method = get_method(name)
    if not isinstance(method, HeadMethod) or not method.supports_volume:
        raise ValueError(
            f"method {method.name!r} re-runs the model several times per image and is available for single "
            f"images only; for {task} use a one-pass method: ruac, ruac-hyp, ruac-mc, sam2, laplace or varnet."
        )
    return method
