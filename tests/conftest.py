"""Shared fixtures: tiny real-architecture models, an isolated offline cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fixture_models import blob_scene, fitted_model, random_model  # noqa: E402


@pytest.fixture
def one_torch_thread():
    """One intra-op thread for the test (two shared cores: oversubscribed two run several times slower).
    Modules use it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Tests never read or write the user's model cache and never touch the network."""
    root = tmp_path_factory.mktemp("napari-ruac-cache")
    old = {k: os.environ.get(k) for k in ("NAPARI_RUAC_CACHE", "NAPARI_RUAC_OFFLINE")}
    os.environ["NAPARI_RUAC_CACHE"] = str(root)
    os.environ["NAPARI_RUAC_OFFLINE"] = "1"
    yield root
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def tiny_model():
    """SAM2.1-tiny architecture at image size 256, random weights (do not modify it)."""
    return random_model()


@pytest.fixture(scope="session")
def fitted():
    """SAM2.1-tiny at 256 whose decoder was fitted on blob scenes: meaningful logits (do not modify)."""
    return fitted_model()


@pytest.fixture
def blob():
    """(uint8 image 192×192, int labels) with one blob."""
    return blob_scene(seed=11, count=1)


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
