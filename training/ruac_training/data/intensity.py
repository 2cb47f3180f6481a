"""Raw intensities → [0, 1] for training, the same way the predictors do it at inference.

The intensity setting and the CT rule (HU window, foreground percentiles, z-score) live in
:mod:`napari_ruac.core.intensity`; a CT volume's ``ct_range`` is exactly the window a user
passes to the plugin for the same look.
"""

from __future__ import annotations

import numpy as np

from napari_ruac.core.intensity import Intensity, to_unit_rgb


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
