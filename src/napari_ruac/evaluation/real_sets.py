"""Real labelled images for evaluation only (never for training), from packages of the registry.

The one home of where they come from and under which licence (docs/micro_eval_report.md names them):

| name | what | package (licence) | data source |
|---|---|---|---|
| ``dsb2018_nuclei`` | 2D fluorescence nuclei, 512×512 uint16, 183 labelled nuclei (~15 px) | ``stardist`` 0.9.2 (BSD-3-Clause) | 2018 Data Science Bowl, BBBC038 (Caicedo et al., Nat. Methods 2019; CC0) |
| ``stardist_nuclei_3d`` | a small 3D stack of nuclei with labels | ``stardist`` 0.9.2 (BSD-3-Clause) | synthetic, made by the StarDist authors |

The package is installed for its data only (``pip install --no-deps stardist==0.9.2``, done by
``make setup``) and never imported: its files are found with ``importlib.util.find_spec``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

INSTALL_HINT = "install the data package with: .venv/bin/pip install --no-deps stardist==0.9.2 (make setup does)"


class RealDataMissing(FileNotFoundError):
    """The package that ships a real labelled set is not installed; the message says how to get it."""


def stardist_images_folder() -> Path:
    """The folder of the images bundled with the ``stardist`` package (without importing it)."""
    spec = importlib.util.find_spec("stardist")
    if spec is None or not spec.submodule_search_locations:
        raise RealDataMissing(f"the real nuclei images come with the 'stardist' package, which is not installed; {INSTALL_HINT}")
    folder = Path(list(spec.submodule_search_locations)[0]) / "data" / "images"
    if not (folder / "img2d.tif").is_file():
        raise RealDataMissing(f"{folder} holds no img2d.tif; reinstall it: {INSTALL_HINT}")
    return folder


def _read_pair(image_name: str, mask_name: str) -> tuple[np.ndarray, np.ndarray]:
    import tifffile

    folder = stardist_images_folder()
    return tifffile.imread(folder / image_name), tifffile.imread(folder / mask_name).astype(np.int32)


def dsb2018_nuclei() -> tuple[np.ndarray, np.ndarray]:
    """(image uint16 512×512, labels int32): real fluorescence nuclei of the 2018 Data Science Bowl."""
    return _read_pair("img2d.tif", "mask2d.tif")


def stardist_nuclei_3d() -> tuple[np.ndarray, np.ndarray]:
    """(volume (Z, Y, X), labels int32): the StarDist authors' small synthetic 3D nuclei stack."""
    return _read_pair("img3d.tif", "mask3d.tif")


REAL_SETS = {"dsb2018_nuclei": dsb2018_nuclei, "stardist_nuclei_3d": stardist_nuclei_3d}
