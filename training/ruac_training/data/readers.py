"""Reading image and label files into numpy arrays, behind one small function.

``read_array`` is the single place that touches file formats. When ``napari_ruac.io.read_image``
(same (Z, Y, X[, C]) axis convention for volumes) is final, switch ``_read`` to it in one line.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from napari_ruac.io import atomic_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
NIFTI_SUFFIXES = (".nii", ".nii.gz")


class DataError(ValueError):
    """A dataset folder or file the trainer cannot use; the message says what to fix."""


def suffix_of(path: str | Path) -> str:
    """The file suffix in lower case, treating ``.nii.gz`` as one suffix."""
    name = Path(path).name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else Path(name).suffix


def stem_of(path: str | Path) -> str:
    """The file name without its (possibly double) suffix."""
    name = Path(path).name
    return name[: len(name) - len(suffix_of(path))]


def _read(path: Path) -> np.ndarray:
    suffix = suffix_of(path)
    if suffix in NIFTI_SUFFIXES:
        import nibabel as nib

        image = nib.as_closest_canonical(nib.load(str(path)))
        data = np.asanyarray(image.dataobj)
        # nibabel gives (X, Y, Z[, ...]) in RAS; we use (Z, Y, X): axial slices are array[z]
        return np.ascontiguousarray(np.moveaxis(data, (0, 1, 2), (2, 1, 0)))
    if suffix in (".tif", ".tiff"):
        import tifffile

        return tifffile.imread(str(path))
    if suffix == ".png":
        from PIL import Image

        with Image.open(path) as img:
            # palette PNGs keep their indices (MOSE/DAVIS annotations are palette images)
            return np.asarray(img) if img.mode in ("P", "L", "I", "I;16", "RGB", "RGBA", "1") else np.asarray(img.convert("RGB"))
    import imageio.v3 as iio

    return np.asarray(iio.imread(str(path)))


def read_array(path: str | Path) -> np.ndarray:
    """The array stored in ``path`` (PNG/JPEG/TIFF/BMP/NIfTI), with a clear error when unreadable."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist.")
    try:
        return _read(path)
    except DataError:
        raise
    except Exception as exc:  # format libraries raise many types; name the file instead
        raise DataError(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc


@lru_cache(maxsize=2)
def read_cached(path: str) -> np.ndarray:
    """``read_array`` with a tiny per-process cache: slices of one volume are read in a row."""
    array = read_array(path)
    array.setflags(write=False)
    return array


def read_volume(path: str | Path, cache: str | Path | None = None) -> np.ndarray:
    """A volume for slicing. With ``cache`` (a folder), decoded once to an uncompressed ``.npy``
    and memory-mapped afterwards: shuffled slices of compressed NIfTI/TIFF stop costing a full
    decode each. Without it, the last two volumes per process stay in memory."""
    if cache is None:
        return read_cached(str(path))
    path = Path(path).resolve()
    stat = path.stat()
    key = hashlib.sha1(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = Path(cache) / f"{stem_of(path)}-{key}.npy"
    if not target.is_file():
        with atomic_path(target) as temporary:
            np.save(temporary, read_array(path))
    return np.load(target, mmap_mode="r")


def list_files(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    """Files of ``folder`` with one of ``suffixes``, by stem (a stem that appears twice is an error)."""
    if not folder.is_dir():
        raise DataError(f"folder {folder} does not exist.")
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and suffix_of(path) in suffixes and not path.name.startswith("."):
            stem = stem_of(path)
            if stem in files:
                raise DataError(f"{folder} has two files with the stem {stem!r}: {files[stem].name}, {path.name}.")
            files[stem] = path
    return files


def paired_files(root: Path, images: str, masks: str, suffixes: tuple[str, ...]) -> list[tuple[str, Path, Path]]:
    """(stem, image, mask) for the files of ``root/images`` and ``root/masks`` with matching stems."""
    image_files = list_files(root / images, suffixes)
    mask_files = list_files(root / masks, suffixes)
    pairs = [(stem, image_files[stem], mask_files[stem]) for stem in image_files if stem in mask_files]
    if not pairs:
        raise DataError(
            f"no image/mask pairs in {root}: {len(image_files)} images in {images}/, {len(mask_files)} masks in "
            f"{masks}/; an image and its mask must have the same file stem (a.png ↔ a.png / a.tif)."
        )
    return pairs
