"""Uncertainty methods, all behind one interface (``base.Method``), selected by name.

Importing this package registers every method: ``sam2``, ``ruac``, ``ruac-mc`` and the
UncertSAM baselines.
"""

from .base import (
    DEFAULT_METHOD,
    HeadMethod,
    Method,
    MethodContext,
    MethodOptions,
    MethodOutput,
    UnknownMethodError,
    available_methods,
    get_method,
    method_readiness,
    one_pass_method,
    register_method,
)
from . import confidence, ruac  # noqa: F401  (registration)
from . import laplace, prompt_perturbation, tta, varnet  # noqa: F401  (registration: UncertSAM baselines)

__all__ = [
    "DEFAULT_METHOD",
    "HeadMethod",
    "Method",
    "MethodContext",
    "MethodOptions",
    "MethodOutput",
    "UnknownMethodError",
    "available_methods",
    "one_pass_method",
    "get_method",
    "method_readiness",
    "register_method",
]
