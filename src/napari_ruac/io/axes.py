"""Bringing a stored array with named axes (tifffile's letters) into our order (Z, Y, X[, C]).

Time (T) needs a chosen time point when it has more than one; channels (C, or S for RGB samples)
go last or one is picked; one other stack axis (Z, or an unnamed I/Q page axis) becomes Z.
Anything more ambiguous is an error that says which argument resolves it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .image_data import ImageReadError
from .naming import argument

CHANNEL_LETTERS = "CS"


def guess_axes(shape: tuple[int, ...], path: Path, channel_axis: int | None = None) -> str:
    """Axis letters for an array without metadata (e.g. .npy): YX, ZYX, YXC or ZYXC."""
    ndim = len(shape)
    if channel_axis is not None:
        if not -ndim <= channel_axis < ndim:
            raise ImageReadError(f"{argument('channel_axis', channel_axis)} is outside the {ndim} axes of {path} (shape {shape}).")
        letters = list("ZYX"[3 - (ndim - 1) :]) if ndim - 1 in (2, 3) else None
        if letters is None:
            raise ImageReadError(f"{path} has shape {shape}; with a channel axis it must have 3 or 4 axes.")
        letters.insert(channel_axis % ndim, "C")
        return "".join(letters)
    if ndim == 2:
        return "YX"
    if ndim == 3:
        return "YXC" if shape[-1] in (3, 4) and shape[0] > 4 else "ZYX"
    if ndim == 4 and shape[-1] in (1, 3, 4):
        return "ZYXC"
    raise ImageReadError(
        f"{path} has shape {shape}; cannot tell which axes are z, y, x or channels. "
        f"Say which axis holds channels with {argument('channel_axis', 'N')}, or save it as (Z, Y, X), (Y, X) or (Y, X, C)."
    )


def rename_channel_axis(axes: str, channel_axis: int | None, path: Path) -> str:
    """Mark the stored axis ``channel_axis`` as the channel axis (C)."""
    if channel_axis is None:
        return axes
    if not -len(axes) <= channel_axis < len(axes):
        raise ImageReadError(f"{argument('channel_axis', channel_axis)} is outside the {len(axes)} axes ({axes}) of {path}.")
    position = channel_axis % len(axes)
    if axes[position] in "YX":
        raise ImageReadError(f"{argument('channel_axis', channel_axis)} points at the {axes[position]} axis of {path} ({axes}).")
    return axes[:position] + "C" + axes[position + 1 :]


def _select(data: np.ndarray, axes: str, letter: str, index: int) -> tuple[np.ndarray, str]:
    position = axes.index(letter)
    return np.take(data, index, axis=position), axes.replace(letter, "", 1)


def to_our_axes(
    data: np.ndarray,
    axes: str,
    path: Path,
    *,
    channel: int | None = None,
    timepoint: int | None = None,
) -> tuple[np.ndarray, str]:
    """Return the array in (Z, Y, X[, C]) / (Y, X[, C]) order and its letters ('ZYX', 'YXC', …).

    The returned letter for the stack axis is the stored one (Z, I, Q, …) so spacing can be looked up.
    """
    axes = axes.upper()
    if len(axes) != data.ndim:
        raise ImageReadError(f"{path}: axes {axes!r} do not match the data shape {data.shape}.")
    if "Y" not in axes or "X" not in axes:
        raise ImageReadError(f"{path} has axes {axes!r} without both Y and X; it is not an image.")
    # drop every axis of length one except Y and X
    for position in reversed(range(len(axes))):
        if data.shape[position] == 1 and axes[position] not in "YX":
            data = data.reshape(data.shape[:position] + data.shape[position + 1 :])
            axes = axes[:position] + axes[position + 1 :]
    if "T" in axes:
        count = data.shape[axes.index("T")]
        if timepoint is None:
            raise ImageReadError(
                f"{path} is a time series with {count} time points (axes {axes}, shape {data.shape}); "
                f"pick one with {argument('timepoint', 'N')}, N in 0…{count - 1}."
            )
        if not 0 <= timepoint < count:
            raise ImageReadError(f"{argument('timepoint', timepoint)} is outside 0…{count - 1} for {path}.")
        data, axes = _select(data, axes, "T", timepoint)
    elif timepoint not in (None, 0):
        raise ImageReadError(f"{argument('timepoint', timepoint)} given, but {path} has no time axis (axes {axes}).")
    channel_axes = [letter for letter in axes if letter in CHANNEL_LETTERS]
    if len(channel_axes) > 1:
        raise ImageReadError(
            f"{path} has two channel axes (axes {axes}, shape {data.shape}); save one channel or an RGB image."
        )
    if channel_axes:
        letter = channel_axes[0]
        count = data.shape[axes.index(letter)]
        if channel is not None:
            if not 0 <= channel < count:
                raise ImageReadError(f"{argument('channel', channel)} is outside 0…{count - 1} for {path} (axes {axes}).")
            data, axes = _select(data, axes, letter, channel)
        else:
            data, axes = np.moveaxis(data, axes.index(letter), -1), axes.replace(letter, "") + "C"
    elif channel not in (None, 0):
        raise ImageReadError(f"{argument('channel', channel)} given, but {path} has a single channel (axes {axes}).")
    stacks = [letter for letter in axes if letter not in "YXC"]
    if len(stacks) > 1:
        raise ImageReadError(
            f"{path} has several stack axes {stacks} (axes {axes}, shape {data.shape}); only one can be z. "
            "Re-save it as a single z-stack, or pick a channel/time point if one of them is one."
        )
    order = stacks + ["Y", "X"] + (["C"] if "C" in axes else [])
    permutation = [axes.index(letter) for letter in order]
    return np.ascontiguousarray(np.transpose(data, permutation)), "".join(order)
