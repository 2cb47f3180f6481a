"""The builder registry: every architecture a training config or a checkpoint may name, mapped to the
code that builds it. Nothing is imported from a name string.

- SAM2 configs by name: ``reduced_hiera`` (the small from-scratch Hiera of ``ruac-micro``), written
  ``sam2_config: reduced_hiera`` or ``sam2_config: {reduced_hiera: {embed_dim: 32, stages: [1, 2, 4, 1]}}``;
  anything else is a SAM2 config name, a YAML path or a mapping (:func:`.sam2_build.load_config`).
- Extra heads by class name: ``VarianceHead``, ``DenseFusion``, ``LaplacePosterior``. Checkpoints
  written before this registry say ``"napari_ruac.uq.varnet:VarianceHead"``; the class name after the
  colon is what counts.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from .extra_heads import DenseFusion, VarianceHead
from .laplace_posterior import LaplacePosterior
from .sam2_build import reduced_hiera

SAM2_CONFIGS: dict[str, Callable[..., dict]] = {"reduced_hiera": reduced_hiera}
EXTRA_HEADS: dict[str, type[nn.Module]] = {cls.__name__: cls for cls in (VarianceHead, DenseFusion, LaplacePosterior)}


class UnknownBuilderError(ValueError):
    """A config or checkpoint names something the registry does not hold; the message lists what it does."""


def resolve_sam2_config(value):
    """A registered SAM2 config built from ``value`` (a name or ``{name: {options}}``), else ``value`` unchanged."""
    if isinstance(value, str) and value in SAM2_CONFIGS:
        return SAM2_CONFIGS[value]()
    if isinstance(value, dict) and "model" not in value and len(value) == 1:
        (name, options), = value.items()
        if name not in SAM2_CONFIGS:
            raise UnknownBuilderError(f"sam2_config names {name!r}; the built-in configs are {sorted(SAM2_CONFIGS)}.")
        return SAM2_CONFIGS[name](**(options or {}))
    return value


def extra_head_name(module: nn.Module) -> str:
    """The registry name a checkpoint stores for ``module`` (its class name)."""
    name = type(module).__name__
    if EXTRA_HEADS.get(name) is not type(module):
        raise UnknownBuilderError(f"extra head {name} is not in the builder registry ({sorted(EXTRA_HEADS)}).")
    return name


def build_extra_head(name: str, spec: dict) -> nn.Module:
    """The extra head ``name`` described by ``spec = {"class": ..., "config": {...}}``, freshly built."""
    target = str(spec.get("class", ""))
    class_name = target.rpartition(":")[2]
    if class_name not in EXTRA_HEADS:
        raise UnknownBuilderError(
            f"extra head {name!r} names class {target!r}; the registered heads are {sorted(EXTRA_HEADS)}."
        )
    return EXTRA_HEADS[class_name](**(spec.get("config") or {}))
