"""The real labelled evaluation sets: found without importing their package, or a clear message."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from napari_ruac.evaluation import real_sets


def test_dsb_nuclei_are_real_labelled_images():
    if importlib.util.find_spec("stardist") is None:  # make setup installs it; elsewhere the message must help
        with pytest.raises(real_sets.RealDataMissing, match="pip install --no-deps stardist"):
            real_sets.dsb2018_nuclei()
        return
    image, labels = real_sets.dsb2018_nuclei()
    assert image.shape == labels.shape == (512, 512)
    assert labels.max() > 100 and image.std() > 0
    volume, labels3d = real_sets.stardist_nuclei_3d()
    assert volume.ndim == 3 and volume.shape == labels3d.shape and labels3d.max() > 10


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(real_sets.RealDataMissing, match="not installed.*pip install --no-deps stardist==0.9.2"):
        real_sets.stardist_images_folder()
    assert np.isin("dsb2018_nuclei", list(real_sets.REAL_SETS))
