"""NIfTI (.nii, .nii.gz) via nibabel: (X, Y, Z) on disk ↔ (Z, Y, X) in memory, geometry kept exact.

Reading reverses the axes and composes the affine with the same permutation, so the affine maps
our index order to the file's world space. Writing ``like`` a source copies the source header
(sform/qform and their codes, zooms, units, qfac), so outputs overlay the input in ITK-SNAP.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from .image_data import ImageData, ImageReadError, ImageWriteError
from .naming import argument

# Index (z, y, x) in our order → (x, y, z) in the file's order; the permutation is its own inverse.
SWAP_XZ = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=np.float64)

UNIT_FROM_NIFTI = {"mm": "mm", "micron": "µm", "meter": "m"}
UNIT_TO_NIFTI = {"mm": "mm", "µm": "micron", "um": "micron", "micron": "micron", "m": "meter"}


def nifti_affine_to_ours(affine: np.ndarray) -> np.ndarray:
    """Affine on file indices (x, y, z) → affine on our indices (z, y, x)."""
    return np.asarray(affine, dtype=np.float64) @ SWAP_XZ


def ours_to_nifti_affine(affine: np.ndarray) -> np.ndarray:
    """Affine on our indices (z, y, x) → affine on file indices (x, y, z)."""
    return np.asarray(affine, dtype=np.float64) @ SWAP_XZ


def _load(path: Path):
    try:
        image = nib.load(str(path))
    except Exception as error:  # nibabel raises many types for damaged headers
        raise ImageReadError(
            f"Cannot read NIfTI file {path}: {error}. The header is damaged or this is not a NIfTI file; "
            "re-export it from the scanner software or converter (e.g. dcm2niix)."
        ) from error
    if not isinstance(image, (nib.Nifti1Image, nib.Nifti2Image)):
        raise ImageReadError(f"{path} loaded as {type(image).__name__}, not NIfTI; convert it to .nii.gz first.")
    return image


def _volume_index(path: Path, shape: tuple[int, ...], timepoint: int | None) -> tuple[tuple, int]:
    """Index into the file array selecting one 3D volume, and the number of spatial axes (2 or 3)."""
    ndim = len(shape)
    while ndim > 3 and shape[ndim - 1] == 1:
        ndim -= 1
    if ndim > 4:
        raise ImageReadError(
            f"{path} is a {ndim}D NIfTI (shape {shape}); only 2D, 3D or one volume of a 4D series can be "
            "segmented. Extract one 3D volume first (e.g. with nibabel or `fslroi`)."
        )
    if ndim == 4:
        count = shape[3]
        if timepoint is None:
            raise ImageReadError(
                f"{path} is a 4D NIfTI holding {count} volumes (shape {shape}); segmentation works on one 3D "
                f"volume. Pick one with {argument('timepoint', 'N')}, N in 0…{count - 1}, or extract it "
                "first, e.g. `fslroi in.nii.gz out.nii.gz N 1`."
            )
        if not 0 <= timepoint < count:
            raise ImageReadError(f"{argument('timepoint', timepoint)} is outside 0…{count - 1} for the 4D NIfTI {path}.")
        index = (slice(None),) * 3 + (timepoint,) + (0,) * (len(shape) - 4)
    elif timepoint not in (None, 0):
        raise ImageReadError(f"{argument('timepoint', timepoint)} given, but {path} holds a single volume (shape {shape}).")
    else:
        index = (slice(None),) * min(len(shape), 3) + (0,) * max(0, len(shape) - 3)
    spatial = 2 if len(shape) == 2 or shape[2] == 1 else 3
    return index, spatial


def read_nifti(path: Path, *, timepoint: int | None = None) -> ImageData:
    """Read a 2D/3D NIfTI (or one volume of a 4D one) into (Z, Y, X) / (Y, X) order."""
    image = _load(path)
    shape = tuple(int(n) for n in image.shape)
    index, spatial = _volume_index(path, shape, timepoint)
    raw_dtype = image.get_data_dtype()
    try:
        data = np.asanyarray(image.dataobj[index])
    except Exception as error:  # truncated gzip streams raise EOFError, zlib.error, OSError, ValueError
        raise ImageReadError(
            f"Cannot read the voxels of NIfTI file {path}: {type(error).__name__}: {error}. The file is "
            "truncated or corrupt (an interrupted copy or download?); copy or export it again."
        ) from error
    if data.dtype == np.float64 and raw_dtype.itemsize <= 2 and raw_dtype.kind in "iu":
        data = data.astype(np.float32)  # scaled 8/16-bit data: float32 holds it, at half the memory
    # float32 header zooms → the shortest decimal that round-trips (0.8, not 0.800000011920929)
    zooms = tuple(float(str(np.float32(z))) for z in image.header.get_zooms()[:3]) + (1.0, 1.0)
    if spatial == 2:
        array = np.ascontiguousarray(data.reshape(shape[0], shape[1]).T)
        spacing = (zooms[1], zooms[0])
    else:
        array = np.ascontiguousarray(data.transpose(2, 1, 0))
        spacing = (zooms[2], zooms[1], zooms[0])
    header = image.header.copy()
    picked_one_of_many = any(n > 1 for n in shape[3:])
    written_shape = shape[:3] if picked_one_of_many else shape
    metadata = {
        "header": header,
        "nifti_class": type(image).__name__,
        "nifti_shape": written_shape,
        "sform_code": int(header["sform_code"]),
        "qform_code": int(header["qform_code"]),
        "unit": UNIT_FROM_NIFTI.get(header.get_xyzt_units()[0]),
        "stored_dtype": str(raw_dtype),
        "timepoint": timepoint,
    }
    return ImageData(array, spacing, nifti_affine_to_ours(image.affine), "nifti", path, metadata)


def _override_affine(like: ImageData, spacing, affine) -> np.ndarray | None:
    """Our-order affine to write when ``spacing``/``affine`` override the source's geometry."""
    if affine is not None:
        return np.asarray(affine, dtype=np.float64)
    if spacing is None or tuple(float(s) for s in spacing) == like.spacing:
        return None
    result = like.affine.copy()
    offset = 3 - like.ndim_spatial
    for axis, (new, old) in enumerate(zip(spacing, like.spacing)):
        result[:3, offset + axis] *= float(new) / old
    return result


def _fresh_affine(shape_spatial: int, spacing, affine) -> np.ndarray:
    if affine is not None:
        return np.asarray(affine, dtype=np.float64)
    spacing = tuple(float(s) for s in spacing) if spacing is not None else (1.0,) * shape_spatial
    if len(spacing) != shape_spatial:
        raise ImageWriteError(f"spacing {spacing} has {len(spacing)} values for a {shape_spatial}D array.")
    full = (1.0,) * (3 - shape_spatial) + spacing
    return np.diag([*full, 1.0])


def write_nifti(
    target: Path, array: np.ndarray, kind: str, like: ImageData | None, spacing=None, affine=None, unit=None
):
    """Write ``array`` (our order, already in its final dtype) as NIfTI at ``target``."""
    if array.ndim not in (2, 3):
        raise ImageWriteError(
            f"NIfTI output takes one value per voxel, (Y, X) or (Z, Y, X); got shape {array.shape}. "
            "Write colour or multi-channel data as TIFF."
        )
    on_disk = array.T if array.ndim == 2 else array.transpose(2, 1, 0)
    source_header = like.metadata.get("header") if like is not None and like.format == "nifti" else None
    if source_header is not None:
        header = source_header.copy()
        image_class = nib.Nifti2Image if like.metadata.get("nifti_class") == "Nifti2Image" else nib.Nifti1Image
        on_disk = on_disk.reshape(like.metadata["nifti_shape"])
        header.set_data_dtype(on_disk.dtype)
        image = image_class(on_disk, None, header=header)
        new_affine = _override_affine(like, spacing, affine)
        if new_affine is not None:
            file_affine = ours_to_nifti_affine(new_affine)
            image.set_sform(file_affine, code=int(header["sform_code"]) or 1)
            image.set_qform(file_affine, code=int(header["qform_code"]) or 1)
    else:
        if like is not None and spacing is None and affine is None:
            spacing, affine = like.spacing, like.affine
        file_affine = ours_to_nifti_affine(_fresh_affine(array.ndim, spacing, affine))
        if on_disk.ndim == 2:
            on_disk = on_disk[:, :, None]
        image = nib.Nifti1Image(on_disk, file_affine, dtype=on_disk.dtype)
        image.set_sform(file_affine, code=1)
        image.set_qform(file_affine, code=1)
        unit = unit or (like.unit if like is not None else None) or "mm"
        image.header.set_xyzt_units(xyz=UNIT_TO_NIFTI.get(unit, "unknown"))
    header = image.header
    image.set_data_dtype(on_disk.dtype)
    header.set_slope_inter(1.0, 0.0)  # values are stored as given: no scaling in any viewer
    if kind in ("labels", "float"):
        finite = on_disk[np.isfinite(on_disk)] if kind == "float" else on_disk
        header["cal_min"] = float(finite.min()) if finite.size else 0.0
        header["cal_max"] = float(finite.max()) if finite.size else 0.0
        header.set_intent("label" if kind == "labels" else "none")
        header["descrip"] = b"napari-ruac " + kind.encode()
    try:
        nib.save(image, str(target))
    except Exception as error:
        raise ImageWriteError(f"Cannot write NIfTI file {target}: {error}") from error
