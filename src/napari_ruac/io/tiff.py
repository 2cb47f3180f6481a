"""TIFF and OME-TIFF via tifffile: axes from OME/ImageJ metadata, spacing that Fiji and napari read back.

Outputs are ImageJ hyperstacks (spacing in the description, x/y in the resolution tags) or, when
the input was OME or the name ends in .ome.tif, OME-TIFF with PhysicalSize. Data types ImageJ
cannot hold (e.g. labels above 65535) go to a plain TIFF with resolution tags and a JSON description.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import tifffile

from .axes import rename_channel_axis, to_our_axes
from .image_data import ImageData, ImageReadError, ImageWriteError
from .tiff_metadata import MICROMETRES_PER, imagej_unit, read_spacing

IMAGEJ_DTYPES = "BHhf"  # uint8, uint16, int16, float32


TRUNCATION_SIGNS = ("invalid page offset", "invalid value offset", "corrupted file", "invalid offset")


class _TiffWarnings(logging.Handler):
    """Collects what tifffile logs while reading: it logs, rather than raises, when pages are missing."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _planes(shape: tuple[int, ...], axes: str) -> int:
    """Number of 2D planes in a series (every axis but Y, X and RGB samples)."""
    return int(np.prod([n for n, letter in zip(shape, axes) if letter not in "YXS"], dtype=np.int64))


def _check_complete(path: Path, series, imagej: dict, logged: list[str]) -> None:
    """A file whose metadata promises more images than it holds is an error, never a smaller image."""
    planes = _planes(series.shape, series.axes)
    promised = int(imagej.get("images", 0) or 0)
    if promised > planes:
        raise ImageReadError(
            f"{path} is incomplete: its ImageJ metadata promises {promised} images but only {planes} could be "
            "read (the file is truncated — an interrupted copy or export). Copy or export it again."
        )
    broken = [sign for message in logged for sign in TRUNCATION_SIGNS if sign in message]
    if broken:
        raise ImageReadError(
            f"{path} is truncated or corrupt ({broken[0]}: pages or data are missing). Copy or export it again."
        )


def read_tiff(
    path: Path, *, channel_axis: int | None = None, channel: int | None = None, timepoint: int | None = None
) -> ImageData:
    """Read the first series of a TIFF into (Z, Y, X[, C]) or (Y, X[, C]) with its spacing."""
    logged = _TiffWarnings()
    tiff_logger = logging.getLogger("tifffile")
    tiff_logger.addHandler(logged)
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            axes = series.axes
            imagej = dict(tif.imagej_metadata or {})
            _check_complete(path, series, imagej, logged.messages)
            data = series.asarray()
            spacing_by_axis, unit, flavour = read_spacing(tif)
            series_count = len(tif.series)
            photometric = getattr(series.keyframe, "photometric", None)
    except ImageReadError:
        raise
    except Exception as error:  # tifffile raises TiffFileError, ValueError, struct.error, OSError …
        raise ImageReadError(
            f"Cannot read TIFF file {path}: {type(error).__name__}: {error}. The file is truncated, corrupt "
            "or not a TIFF; export it again (e.g. File › Save As › Tiff in Fiji)."
        ) from error
    finally:
        tiff_logger.removeHandler(logged)
    if series_count > 1:
        warnings.warn(
            f"{path} holds {series_count} image series; reading only the first ({axes}, shape {data.shape}).",
            stacklevel=3,
        )
    stored_axes = axes
    axes = rename_channel_axis(axes, channel_axis, path)
    array, letters = to_our_axes(data, axes, path, channel=channel, timepoint=timepoint)
    spatial = letters.replace("C", "")
    spacing = tuple(spacing_by_axis.get(letter if letter in "YX" else "Z", 1.0) for letter in spatial)
    metadata = {
        "tiff_flavour": flavour,
        "unit": unit,
        "axes": stored_axes,
        "stored_shape": tuple(data.shape),
        "imagej": imagej,
        "photometric": None if photometric is None else int(photometric),
    }
    return ImageData(array, spacing, None, "tiff", path, metadata)


def _layout(array: np.ndarray, spatial: int) -> tuple[np.ndarray, str, str]:
    """Stored array, tifffile axes and photometric for an array in our order."""
    letters = "ZYX"[3 - spatial :]
    if array.ndim == spatial:
        return array, letters, "minisblack"
    if array.dtype == np.uint8 and array.shape[-1] in (3, 4):
        return array, letters + "S", "rgb"
    channels_first = np.moveaxis(array, -1, -3)  # (Z, C, Y, X) or (C, Y, X): ImageJ's TZCYX order
    return channels_first, letters[:-2] + "CYX", "minisblack"


def write_tiff(
    target: Path,
    array: np.ndarray,
    spatial: int,
    spacing: tuple[float, ...],
    unit: str | None,
    *,
    ome: bool = False,
):
    """Write ``array`` (our order, final dtype, ``spatial`` spatial axes) with its spacing."""
    if array.ndim not in (spatial, spatial + 1):
        raise ImageWriteError(f"cannot write shape {array.shape} as a {spatial}D TIFF.")
    data, axes, photometric = _layout(array, spatial)
    x_size, y_size = float(spacing[-1]), float(spacing[-2])
    z_size = float(spacing[0]) if spatial == 3 else None
    try:
        if ome:
            _write_ome(target, data, axes, photometric, (z_size, y_size, x_size), unit)
        elif data.dtype.char in IMAGEJ_DTYPES:
            metadata = {"axes": axes}
            if z_size is not None:
                metadata["spacing"] = z_size
            if imagej_unit(unit) is not None:
                metadata["unit"] = imagej_unit(unit)
            tifffile.imwrite(
                target, data, imagej=True, photometric=photometric, resolution=(1 / x_size, 1 / y_size),
                metadata=metadata,
            )  # fmt: skip
        else:
            _write_plain(target, data, axes, photometric, (z_size, y_size, x_size), unit)
    except ImageWriteError:
        raise
    except Exception as error:
        raise ImageWriteError(f"Cannot write TIFF file {target}: {type(error).__name__}: {error}") from error


def _resolution(x_size: float, y_size: float, unit: str | None) -> dict:
    """Resolution tags: pixels per centimetre for lengths, otherwise pixels per (unnamed) unit."""
    if unit in MICROMETRES_PER:
        per_cm = 1e4 / MICROMETRES_PER[unit]
        return {"resolution": (per_cm / x_size, per_cm / y_size), "resolutionunit": "CENTIMETER"}
    return {"resolution": (1 / x_size, 1 / y_size), "resolutionunit": "NONE"}


def _write_ome(target, data, axes, photometric, sizes, unit):
    z_size, y_size, x_size = sizes
    metadata = {"axes": axes, "PhysicalSizeX": x_size, "PhysicalSizeY": y_size}
    if z_size is not None:
        metadata["PhysicalSizeZ"] = z_size
    if unit is not None:
        for letter in "XYZ" if z_size is not None else "XY":
            metadata[f"PhysicalSize{letter}Unit"] = unit
    tifffile.imwrite(
        target, data, ome=True, photometric=photometric, metadata=metadata, **_resolution(x_size, y_size, unit)
    )


def _write_plain(target, data, axes, photometric, sizes, unit):
    z_size, y_size, x_size = sizes
    metadata: dict = {"axes": axes}
    if z_size is not None:
        metadata["spacing"] = z_size
    if unit is not None:
        metadata["unit"] = unit
    tifffile.imwrite(target, data, photometric=photometric, metadata=metadata, **_resolution(x_size, y_size, unit))


def is_ome_path(path: Path) -> bool:
    """True for names ending in .ome.tif / .ome.tiff."""
    return path.name.lower().endswith((".ome.tif", ".ome.tiff"))
