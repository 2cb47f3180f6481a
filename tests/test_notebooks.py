"""The example notebooks run end to end (small settings) with nbclient and write their files."""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import numpy as np
import pytest

from napari_ruac.io import read_image

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
EXPECTED = {
    "quickstart": ["quickstart_methods.png", "metrics.csv", "nuclei_ruac_mask.tif", "nuclei_ruac_uncertainty.tif"],
    "volume_review": ["review_regions.png", "regions.csv", "stack_mask.tif", "stack_uncertainty.tif"],
    "training": [
        "training_curves.png",
        "trained_prediction.png",
        "run/export/model.safetensors",
        "run/export/model.json",
    ],
}


def _execute(name: str, out: Path, monkeypatch) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    monkeypatch.setenv("NAPARI_RUAC_NOTEBOOK_FAST", "1")
    monkeypatch.setenv("NAPARI_RUAC_NOTEBOOK_OUT", str(out))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # two shared cores: one intra-op thread runs faster
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the notebooks switch to inline figures themselves
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    return notebook


@pytest.mark.parametrize("name", list(EXPECTED))
def test_notebook_runs_and_writes_its_files(name, tmp_path, monkeypatch):
    notebook = _execute(name, tmp_path, monkeypatch)
    errors = [
        o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert not errors
    folder = tmp_path / name
    for relative in EXPECTED[name]:
        assert (folder / relative).is_file() and (folder / relative).stat().st_size > 0, relative
    figures = [o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert figures, "the notebook shows no figure"
    if name == "quickstart":
        with open(folder / "metrics.csv") as handle:
            assert [row["method"] for row in csv.DictReader(handle)] == ["ruac", "sam2", "tta"]
        assert read_image(folder / "nuclei_ruac_mask.tif").spacing == (0.5, 0.5)
    if name == "volume_review":
        mask = read_image(folder / "stack_mask.tif")
        assert mask.array.shape == (6, 128, 128) and mask.spacing == (2.0, 0.5, 0.5)
        uncertainty = read_image(folder / "stack_uncertainty.tif").array
        assert uncertainty.dtype == np.float32 and 0 <= uncertainty.min() <= uncertainty.max() <= 1
        with open(folder / "regions.csv") as handle:
            ranks = [int(row["rank"]) for row in csv.DictReader(handle)]
        assert ranks == list(range(1, len(ranks) + 1))
    if name == "training":
        from napari_ruac import load_model

        model = load_model(folder / "run" / "export" / "model.json", device="cpu")
        assert model.image_size == 128


@pytest.mark.parametrize("name", list(EXPECTED))
def test_committed_notebook_is_executed_and_parametrised(name):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert all(c.execution_count for c in code), "commit the notebook executed"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    size = (NOTEBOOKS / f"{name}.ipynb").stat().st_size
    assert size < 600_000, f"{name}.ipynb is {size} bytes: keep the stored figures small"
