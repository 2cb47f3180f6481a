"""Raw intensities → [0, 1] for training, the same way the predictors do it at inference.

``ct_range`` is the CT rule of METHOD.md §3: optional HU window, clip to the [0.05, 99.95]
percentiles of the foreground voxels, z-score over the foreground. The z-score is affine, so
mapping the clipped z-range to [0, 1] equals ``Intensity(mode="window", window=(lo, hi))`` in raw
units: the returned (lo, hi) is exactly the window a user passes to the plugin for the same look.
"""

from __future__ import annotations

import numpy as np

from napari_ruac.inference.preprocess import Intensity, to_unit_rgb


def ct_range(
    volume: np.ndarray,
    foreground: np.ndarray,
    percentiles: tuple[float, float] = (0.05, 99.95),
    window: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """(low, high) raw values that map to 0 and 1 under the CT rule (window, clip, z-score)."""
    values = volume[foreground] if foreground.any() else volume.reshape(-1)
    values = values.astype(np.float64)
    if window is not None:
        values = np.clip(values, window[0], window[1])
    lo, hi = np.percentile(values, percentiles)
    if window is not None:
        lo, hi = max(lo, window[0]), min(hi, window[1])
    # z-scoring is affine: mapping the z-scored [lo, hi] to [0, 1] is the same map as raw [lo, hi]
    high = float(hi) if hi > lo else float(lo) + 1.0
    return float(lo), high


def zscore_ct(volume: np.ndarray, foreground: np.ndarray, **kwargs) -> np.ndarray:
    """The CT rule as floats: window, clip to foreground percentiles, z-score over the foreground."""
    low, high = ct_range(volume, foreground, **kwargs)
    clipped = np.clip(volume.astype(np.float64), low, high)
    values = clipped[foreground] if foreground.any() else clipped.reshape(-1)
    return ((clipped - values.mean()) / (values.std() + 1e-8)).astype(np.float32)


def value_range(data: np.ndarray, setting) -> tuple[float, float]:
    """(low, high) for an ``intensity`` setting of a dataset entry (mode name or [low, high])."""
    return Intensity.parse(tuple(setting) if isinstance(setting, list) else setting).value_range(data)


def to_unit(image: np.ndarray, low_high: tuple[float, float]) -> np.ndarray:
    """H×W or H×W×C → float32 H×W×3 in [0, 1] (grey repeated to three channels, alpha dropped)."""
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] == 4:
        image = image[..., :3]
    if image.shape[-1] == 2:
        image = image[..., :1]
    return to_unit_rgb(image, low_high)
