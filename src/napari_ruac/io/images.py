"""``read_image`` / ``write_image``: one entry point for every format, chosen by the file suffix.

Writing ``like=`` a source keeps its geometry (NIfTI header and affine, TIFF spacing and unit) so
masks and uncertainty maps overlay the input in other tools; every write is atomic.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import nifti, plain, tiff
from .atomic import atomic_path, full_suffix
from .image_data import ImageData, ImageReadError, ImageWriteError
from .naming import argument
from .values import as_kind, check_kind

SUFFIX_FORMATS = {
    ".nii": "nifti", ".nii.gz": "nifti", ".tif": "tiff", ".tiff": "tiff", ".ome.tif": "tiff",
    ".ome.tiff": "tiff", ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".bmp": "bmp", ".npy": "npy",
}  # fmt: skip
SUPPORTED = ", ".join(SUFFIX_FORMATS)


def format_of(path: str | os.PathLike) -> str | None:
    """The format name for a path's suffix ('nifti', 'tiff', 'png', 'jpeg', 'bmp', 'npy'), None if unknown."""
    return SUFFIX_FORMATS.get(full_suffix(Path(path)).lower())


def read_image(
    path: str | os.PathLike,
    *,
    channel_axis: int | None = None,
    channel: int | None = None,
    timepoint: int | None = None,
) -> ImageData:
    """Read an image or volume with its geometry into our axis order ((Z,) Y, X[, C]).

    ``channel_axis``: which stored axis holds channels when the file does not say (npy, bare TIFF);
    ``channel``: keep only that channel; ``timepoint``: pick one time point of a time series / 4D NIfTI.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise ImageReadError(f"{path} does not exist; check the path (relative paths start at {Path.cwd()}).")
    if path.is_dir():
        raise ImageReadError(f"{path} is a folder; pass one image file ({SUPPORTED}).")
    format_name = format_of(path)
    if format_name is None:
        raise ImageReadError(
            f"{path} has an unsupported file type {full_suffix(path)!r}; supported: {SUPPORTED}. "
            "Convert it first (e.g. DICOM series with dcm2niix to .nii.gz, others with Fiji to .tif)."
        )
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path} is empty (0 bytes); the copy or export failed, write it again.")
    if format_name == "nifti":
        if channel_axis is not None or channel not in (None, 0):
            raise ImageReadError(f"{path} is NIfTI (one value per voxel): {argument('channel_axis')} and {argument('channel')} do not apply.")
        return nifti.read_nifti(path, timepoint=timepoint)
    if format_name == "tiff":
        return tiff.read_tiff(path, channel_axis=channel_axis, channel=channel, timepoint=timepoint)
    if format_name == "npy":
        return plain.read_npy(path, channel_axis=channel_axis, channel=channel, timepoint=timepoint)
    return plain.read_picture(path, format_name, channel=channel)


def _spatial_count(array: np.ndarray, kind: str, like: ImageData | None, spacing) -> int:
    """How many of the array's leading axes are spatial (2 or 3)."""
    if like is not None:
        count = like.ndim_spatial
        if array.ndim not in (count, count + 1) or tuple(array.shape[:count]) != like.spatial_shape:
            source = f" ({like.path})" if like.path else ""
            raise ImageWriteError(
                f"array of shape {array.shape} does not match the image it is written like{source}, whose "
                f"spatial shape is {like.spatial_shape}; write the result for that same image, resized back to it."
            )
        return count
    if spacing is not None:
        count = len(spacing)
    elif array.ndim == 3 and kind == "image" and array.shape[-1] in (3, 4):
        count = 2
    else:
        count = min(array.ndim, 3)
    if count not in (2, 3) or array.ndim not in (count, count + 1):
        raise ImageWriteError(
            f"cannot write an array of shape {array.shape} with {count} spatial axes; pass (Y, X), (Z, Y, X) "
            "or either with a trailing channel axis."
        )
    return count


def _resolve_spacing(count: int, like: ImageData | None, spacing, affine) -> tuple[float, ...]:
    if spacing is None and affine is not None:
        columns = np.linalg.norm(np.asarray(affine, dtype=np.float64)[:3, :3], axis=0)
        spacing = tuple(columns[3 - count :])
    if spacing is None:
        spacing = like.spacing if like is not None else (1.0,) * count
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != count or not all(np.isfinite(s) and s > 0 for s in spacing):
        raise ImageWriteError(f"spacing must be {count} positive numbers for this array, got {spacing}.")
    return spacing


def write_image(
    path: str | os.PathLike,
    array,
    like: ImageData | None = None,
    *,
    spacing=None,
    affine=None,
    unit: str | None = None,
    kind: str = "labels",
) -> Path:
    """Write ``array`` (our axis order) atomically in the format of ``path``'s suffix; returns the path.

    ``like``: the image it was computed from — its geometry is copied (NIfTI header/affine, TIFF
    spacing/unit, OME flavour). ``kind``: 'labels' (smallest integer type), 'float' (float32) or
    'image' (values as given). ``spacing``/``affine``/``unit`` override the geometry.
    """
    path = Path(path).expanduser()
    format_name = format_of(path)
    if format_name is None:
        raise ImageWriteError(f"cannot write {path}: unsupported suffix {full_suffix(path)!r}; use one of {SUPPORTED}.")
    check_kind(kind)
    array = np.asarray(array)
    if affine is not None and np.asarray(affine).shape != (4, 4):
        raise ImageWriteError(f"affine must be a 4×4 matrix (our index order → world), got {np.shape(affine)}.")
    count = _spatial_count(array, kind, like, spacing)
    resolved = _resolve_spacing(count, like, spacing, affine)
    array = as_kind(array, kind)
    unit = unit if unit is not None else (like.unit if like is not None else None)
    with atomic_path(path) as temporary:
        if format_name == "nifti":
            nifti.write_nifti(temporary, array, kind, like, spacing=spacing, affine=affine, unit=unit)
        elif format_name == "tiff":
            as_ome = tiff.is_ome_path(path) or (like is not None and like.metadata.get("tiff_flavour") == "ome")
            tiff.write_tiff(temporary, array, count, resolved, unit, ome=as_ome)
        elif format_name == "npy":
            plain.write_npy(temporary, array)
        else:
            if count != 2:
                raise ImageWriteError(f"{format_name.upper()} holds one 2D image; write a volume as .tif or .nii.gz.")
            plain.write_picture(temporary, array, kind, format_name)
    return path


def default_suffix(like: ImageData | None, kind: str = "labels") -> str:
    """The suffix to write a result of ``kind`` for ``like``: its own format when that can hold it."""
    check_kind(kind)
    if like is None:
        return ".tif"
    source = full_suffix(like.path) if like.path is not None else ""
    if like.format in ("nifti", "tiff"):
        own = SUFFIX_FORMATS.get(source.lower()) == like.format
        return source if own else {"nifti": ".nii.gz", "tiff": ".tif"}[like.format]
    if like.format == "npy":
        return ".npy"
    if kind == "float":
        return ".tif"
    if kind == "labels":
        return ".png"
    return source or ".png"


def output_path(like: ImageData, tag: str, kind: str = "labels", folder: str | os.PathLike | None = None) -> Path:
    """``cells.ome.tif`` + tag ``mask`` → ``cells_mask.ome.tif`` (in ``folder`` or beside the input)."""
    if like.path is None:
        raise ImageWriteError("the image has no path; choose the output file name yourself.")
    source_suffix = full_suffix(like.path)
    stem = like.path.name[: len(like.path.name) - len(source_suffix)] if source_suffix else like.path.name
    directory = Path(folder) if folder is not None else like.path.parent
    return directory / f"{stem}_{tag}{default_suffix(like, kind)}"


def file_spacing(path: str | os.PathLike) -> tuple[float, ...] | None:
    """The voxel spacing a NIfTI or TIFF file states, (z, y, x) or (y, x), read from its header only."""
    path = Path(path)
    name = format_of(path)
    if name == "nifti":
        import nibabel as nib

        zooms = nib.load(str(path)).header.get_zooms()[:3]
        return tuple(float(z) for z in reversed(zooms))
    if name == "tiff":
        import tifffile

        from .tiff_metadata import read_spacing

        with tifffile.TiffFile(path) as tif:
            values, _, _ = read_spacing(tif)
        return tuple(float(values[letter]) for letter in "ZYX" if letter in values)
    return None
