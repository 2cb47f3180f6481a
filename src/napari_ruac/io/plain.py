"""Formats without geometry: PNG/JPEG/BMP 2D images (imageio) and NumPy .npy arrays; spacing 1.

PNG keeps 8/16-bit labels exactly; JPEG is lossy, so only images (never labels or float maps)
are written to it. Float maps need .tif or .npy, and this module says so.
"""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np

from .axes import guess_axes, to_our_axes
from .image_data import ImageData, ImageReadError, ImageWriteError

PICTURE_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".bmp": "bmp"}


def _first_line(error: BaseException) -> str:
    """The first line of a library's message (imageio lists every backend it tried, one per line)."""
    text = str(error).strip()
    return text.splitlines()[0].rstrip(" .") if text else type(error).__name__


def read_picture(path: Path, format_name: str, *, channel: int | None = None) -> ImageData:
    """Read a PNG/JPEG/BMP as (Y, X) or (Y, X, C)."""
    try:
        data = np.asarray(iio.imread(path))
    except Exception as error:
        raise ImageReadError(
            f"Cannot read {format_name.upper()} file {path}: {type(error).__name__}: {_first_line(error)}. The file is "
            "truncated, corrupt or not really a " + format_name.upper() + "; save it again."
        ) from error
    if data.ndim not in (2, 3):
        raise ImageReadError(
            f"{path} decoded to shape {data.shape} (an animation?); only single 2D images are supported."
        )
    axes = "YX" if data.ndim == 2 else "YXC"
    array, _ = to_our_axes(data, axes, path, channel=channel)
    return ImageData(array, (1.0, 1.0), None, format_name, path, {"unit": None})


def read_npy(path: Path, *, channel_axis: int | None = None, channel: int | None = None, timepoint=None) -> ImageData:
    """Read a .npy array; axes are guessed (YX, ZYX, YXC, ZYXC) unless ``channel_axis`` is given."""
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as error:
        raise ImageReadError(
            f"Cannot read NumPy file {path}: {type(error).__name__}: {error}. It is truncated, corrupt or "
            "holds Python objects; save a plain numeric array with np.save."
        ) from error
    if not isinstance(data, np.ndarray) or not (data.dtype == bool or data.dtype.kind in "iuf"):
        raise ImageReadError(f"{path} holds dtype {getattr(data, 'dtype', type(data))}, not numeric image data.")
    axes = guess_axes(data.shape, path, channel_axis)
    array, letters = to_our_axes(data, axes, path, channel=channel, timepoint=timepoint)
    spatial = len(letters.replace("C", ""))
    return ImageData(array, (1.0,) * spatial, None, "npy", path, {"unit": None, "axes": axes})


def write_picture(target: Path, array: np.ndarray, kind: str, format_name: str) -> None:
    """Write a 2D array as PNG/JPEG/BMP, refusing what the format would silently damage."""
    name = format_name.upper()
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ImageWriteError(
            f"{name} holds one 2D grey or RGB(A) image; got shape {array.shape}. Write stacks as .tif or .nii.gz."
        )
    if kind == "float":
        raise ImageWriteError(
            f"{name} cannot store float values such as an uncertainty map; write it as .tif or .npy "
            "(napari_ruac.io.default_suffix gives the right one)."
        )
    if format_name == "jpeg" and kind == "labels":
        raise ImageWriteError("JPEG is lossy and would change label values; write labels as .png or .tif.")
    allowed = (np.uint8, np.uint16) if format_name == "png" and array.ndim == 2 else (np.uint8,)
    if array.dtype not in allowed:
        raise ImageWriteError(
            f"{name} here stores {' or '.join(np.dtype(d).name for d in allowed)} values, got {array.dtype}; "
            "write .tif to keep these values."
        )
    try:
        iio.imwrite(target, array)
    except Exception as error:
        raise ImageWriteError(f"Cannot write {name} file {target}: {type(error).__name__}: {error}") from error


def write_npy(target: Path, array: np.ndarray) -> None:
    """Write a .npy (no geometry is stored)."""
    np.save(target, array, allow_pickle=False)
