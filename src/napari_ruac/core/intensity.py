"""Raw intensities → [0, 1]: the intensity setting of the predictors, percentile stretches and
the CT rule (HU windows, foreground percentiles, z-score). numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODES = ("auto", "percentile", "minmax", "window", "none")
CT_PERCENTILES = (0.05, 99.95)
CT_WINDOWS = {"soft-tissue": (-160.0, 240.0)}  # (low, high) HU; the CT phantom is shown through it


@dataclass(frozen=True)
class Intensity:
    """How raw intensities become [0, 1].

    ``auto``: uint8 ÷ 255, anything else by percentiles; ``percentile``: clip to the
    ``percentiles`` of the data; ``minmax``; ``window``: clip to ``window=(low, high)``;
    ``none``: values already in [0, 1].
    """

    mode: str = "auto"
    percentiles: tuple[float, float] = (0.5, 99.5)
    window: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"intensity mode must be one of {MODES}, got {self.mode!r}")
        if self.mode == "window":
            if self.window is None or len(self.window) != 2 or not self.window[0] < self.window[1]:
                raise ValueError(f"intensity window must be (low, high) with low < high, got {self.window!r}")
        lo, hi = self.percentiles
        if not 0 <= lo < hi <= 100:
            raise ValueError(f"percentiles must satisfy 0 ≤ low < high ≤ 100, got {self.percentiles}")

    @classmethod
    def parse(cls, value: "Intensity | str | tuple | list | None") -> "Intensity":
        """Accept an Intensity, a mode name, or a (low, high) window."""
        if value is None:
            return cls()
        if isinstance(value, Intensity):
            return value
        if isinstance(value, str):
            return cls(mode=value)
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return cls(mode="window", window=(float(value[0]), float(value[1])))
        raise ValueError(f"cannot read intensity setting {value!r}: use a mode name {MODES} or (low, high)")

    def value_range(self, data: np.ndarray) -> tuple[float, float]:
        """(low, high) that map to 0 and 1 for ``data`` (an image, or a whole volume)."""
        if self.mode == "window":
            return float(self.window[0]), float(self.window[1])
        if self.mode == "none":
            return 0.0, 1.0
        if self.mode == "auto" and data.dtype == np.uint8:
            return 0.0, 255.0
        sample = subsample(data)
        if self.mode == "minmax":
            return float(sample.min()), float(sample.max())
        lo, hi = percentile_range(sample, self.percentiles)
        return float(lo), float(hi)


def subsample(data: np.ndarray, limit: int = 4_000_000) -> np.ndarray:
    """A strided view with at most ~limit values, so percentiles of big volumes stay cheap."""
    flat = data.reshape(-1)
    step = max(1, flat.size // limit)
    return flat[::step]


def percentile_range(data: np.ndarray, percentiles: tuple[float, float]) -> tuple[np.float64, np.float64]:
    """(low, high) percentiles of ``data`` (numpy float64 scalars: arithmetic with a float32 image then
    runs in float64, as NumPy promotes them; ``float()`` them for a plain tuple)."""
    low, high = np.percentile(data, percentiles)
    return low, high


def stretch(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """``image`` mapped linearly so ``low`` → 0 and ``high`` → 1, clipped to [0, 1]."""
    return np.clip((image - low) / max(high - low, 1e-6), 0, 1)


def to_unit_rgb(image: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """H×W×C array → float32 H×W×3 in [0, 1] with ``value_range`` mapped to [0, 1]."""
    lo, hi = value_range
    scale = 1.0 / (hi - lo) if hi > lo else 0.0
    out = (image.astype(np.float32) - np.float32(lo)) * np.float32(scale)
    np.clip(out, 0.0, 1.0, out=out)
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    return out


# ---- CT: the rule of METHOD.md §3 (SegVol / UncertSAM) ------------------------------------------
def _ct_values(volume: np.ndarray, foreground: np.ndarray | None, window) -> np.ndarray:
    """The foreground voxels as float64 (given, or voxels above the mean), clipped to ``window``."""
    data = np.asarray(volume)
    if foreground is None:
        flat = data.reshape(-1).astype(np.float64)
        values = flat[flat > flat.mean()]
    else:
        values = (data[foreground] if foreground.any() else data.reshape(-1)).astype(np.float64)
    return values if window is None else np.clip(values, window[0], window[1])


def ct_range(volume: np.ndarray, foreground: np.ndarray | None = None, percentiles=CT_PERCENTILES,
             window: tuple[float, float] | None = None) -> tuple[float, float]:
    """(low, high) raw values the CT rule clips to: the foreground's ``percentiles`` inside ``window``.

    ``foreground``: a mask of the body/annotated voxels; None takes voxels above the mean (SegVol).
    The z-score after clipping is affine, so mapping this (low, high) to [0, 1] is the CT rule's look.
    """
    values = _ct_values(volume, foreground, window)
    if values.size == 0:  # a constant volume
        low = float(np.asarray(volume).reshape(-1)[0])
        return low, low + 1.0
    lo, hi = np.percentile(values, percentiles)
    if window is not None:
        lo, hi = max(lo, window[0]), min(hi, window[1])
    high = float(hi) if hi > lo else float(lo) + 1.0
    return float(lo), high


def ct_normalise(volume: np.ndarray, foreground: np.ndarray | None = None, percentiles=CT_PERCENTILES,
                 window: tuple[float, float] | None = None) -> np.ndarray:
    """The CT rule as float32: clip to :func:`ct_range`, z-score with the foreground's mean and std."""
    data = np.asarray(volume, dtype=np.float32)
    values = _ct_values(volume, foreground, window)
    if values.size == 0:
        return np.zeros_like(data)
    low, high = ct_range(volume, foreground, percentiles, window)
    mean, std = float(values.mean()), float(values.std())
    return ((np.clip(data, low, high) - mean) / max(std, 1e-8)).astype(np.float32)



def edge_means(image: np.ndarray, mask: np.ndarray, ring: int | None = None) -> tuple[float, float]:
    """(mean intensity inside ``mask``, mean of a ring just outside it), raw units; a 2D image, or
    H×W×C averaged over channels. The ring starts one pixel out (the edge itself is blurred) and is
    ``ring`` px wide (default: a quarter of the mask's equivalent radius, 2–8 px). NaN where the
    mask or its ring is empty."""
    from scipy import ndimage

    mask = np.asarray(mask, dtype=bool)
    values = np.asarray(image, dtype=np.float64)
    if values.ndim == 3 and values.shape[:2] == mask.shape:
        values = values.mean(axis=2)
    area = int(mask.sum())
    if area == 0:
        return float("nan"), float("nan")
    if ring is None:
        ring = int(np.clip(round(0.25 * np.sqrt(area / np.pi)), 2, 8))
    ys, xs = np.nonzero(mask)  # work in the mask's box grown by the ring (a tracked slice may be 4096²)
    pad = ring + 2
    crop = (slice(max(0, ys.min() - pad), ys.max() + 1 + pad), slice(max(0, xs.min() - pad), xs.max() + 1 + pad))
    mask, values = mask[crop], values[crop]
    near = ndimage.binary_dilation(mask, iterations=1)
    outer = ndimage.binary_dilation(near, iterations=ring) & ~near
    inside = float(values[mask].mean())
    return inside, (float(values[outer].mean()) if outer.any() else float("nan"))


def edge_contrast(image: np.ndarray, mask: np.ndarray, ring: int | None = None) -> float:
    """Mean intensity inside ``mask`` minus the mean of a ring just outside it (``edge_means``); NaN
    when the mask or its ring is empty."""
    inside, outside = edge_means(image, mask, ring)
    return inside - outside
