"""Input checks shared by the metrics: numpy conversion, shapes, value ranges, masks.

Every public metric goes through these so bad input fails early with a message that names
the argument and the fix, and torch tensors (CPU or GPU, with or without grad) are accepted.
"""

from __future__ import annotations

import math
import warnings

import numpy as np


class MetricUndefinedWarning(RuntimeWarning):
    """A metric has no value for this input (e.g. AUROC without any error); it returned nan."""


def undefined(metric: str, reason: str) -> float:
    """Warn that ``metric`` is undefined because of ``reason`` and return nan."""
    warnings.warn(f"{metric} is undefined: {reason}; returning nan", MetricUndefinedWarning, stacklevel=3)
    return math.nan


def as_array(value, name: str) -> np.ndarray:
    """A numpy view of ``value``; torch tensors are detached and moved to the CPU first."""
    if value is None:
        raise ValueError(f"{name} is required, got None")
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor, without importing torch
        value = value.detach().cpu()
        if str(getattr(value, "dtype", "")) == "torch.bfloat16":
            value = value.float()
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype == object:
        raise ValueError(f"{name} must be a numeric array, got an object array")
    return array


def same_shape(**arrays: np.ndarray) -> tuple[int, ...]:
    """The common shape of ``arrays``; a ValueError naming each shape if they differ."""
    shapes = {name: array.shape for name, array in arrays.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"shapes differ: {listed}; all maps must cover the same pixels (resize first)")
    return next(iter(shapes.values()))


def finite(value, name: str) -> np.ndarray:
    """A real-valued array without nan/inf (uncertainty scores, errors)."""
    array = as_array(value, name)
    if array.dtype == bool:
        return array.astype(np.float32)
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ValueError(f"{name} must be real numbers, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise ValueError(f"{name} contains nan or inf; mask those pixels out with valid=")
    return array


def unit_interval(value, name: str) -> np.ndarray:
    """A finite array with every value in [0, 1] (probabilities, normalised uncertainties)."""
    array = finite(value, name)
    if array.size and (array.min() < 0 or array.max() > 1):
        raise ValueError(
            f"{name} must lie in [0, 1], got values in [{array.min():.4g}, {array.max():.4g}]; "
            "pass probabilities (sigmoid of logits) / uncertainty normalised to [0, 1]"
        )
    return array


def binary(value, name: str) -> np.ndarray:
    """A bool array from bool or 0/1 numbers; any other value is an error, never silently cast."""
    array = as_array(value, name)
    if array.dtype == bool:
        return array
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be a binary mask (bool or 0/1), got dtype {array.dtype}")
    ones = array == 1
    if not (ones | (array == 0)).all():
        odd = array[~(ones | (array == 0))].ravel()[0]
        raise ValueError(
            f"{name} must be a binary mask (bool or 0/1), found the value {odd!r}; "
            f"binarise it first, e.g. {name} > 0 or labels == object_id"
        )
    return ones


def valid_mask(valid, shape: tuple[int, ...]) -> np.ndarray | None:
    """The ``valid`` mask as bool with the maps' shape, or None when every pixel counts."""
    if valid is None:
        return None
    mask = binary(valid, "valid")
    if mask.shape != shape:
        raise ValueError(f"valid has shape {mask.shape} but the maps have shape {shape}")
    return mask


def select(array: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """The pixels of ``array`` inside ``valid`` as a flat array (all of them when valid is None)."""
    return array.ravel() if valid is None else array[valid]


def needs_slices(shape: tuple[int, ...], name: str) -> None:
    """Spatial metrics work on 2D images or stacks of 2D slices: at least two axes."""
    if len(shape) < 2:
        raise ValueError(f"{name} needs a 2D image or a volume (..., Y, X), got shape {shape}")


def slice_diagonal(shape: tuple[int, ...]) -> float:
    """The diagonal of one (Y, X) slice in pixels: the scale of the ROI and boundary widths."""
    return math.hypot(shape[-2], shape[-1])
