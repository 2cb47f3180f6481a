"""The Dask path (a LocalCluster of 2 worker processes) gives the same outputs and report as the local path."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from fixture_models import blob_scene

from napari_ruac.batch import ModelSpec, VolumeDone, read_report, run_batch
from napari_ruac.batch.model_spec import cached_model
from napari_ruac.io import read_image, write_image

SPEC = ModelSpec("sam2.1_hiera_tiny", device="cpu", pretrained=False, image_size=256, seed=0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_model_spec_builds_the_same_weights_and_is_cached_per_process():
    first = cached_model(SPEC)
    assert cached_model(SPEC) is first
    torch.manual_seed(123)  # the global RNG state does not change the spec's weights
    rebuilt = SPEC.load()
    for (name, a), (_, b) in zip(first.state_dict().items(), rebuilt.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_dask_local_cluster_matches_the_local_path(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    prompts = {}
    for index, name in enumerate(["a.tif", "b.nii.gz", "c.png"]):
        image, labels = blob_scene(seed=30 + index, size=64, count=2)
        ys, xs = np.nonzero(labels == 1)
        box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
        if name.endswith(".png"):
            write_image(folder / name, image, kind="image")
            click = np.argwhere(labels == 2).mean(0)[::-1].tolist()
            prompts[name] = [{"object": 1, "box": box}, {"object": 2, "points": [click]}]
        else:
            stack = np.stack([image, image]).astype(np.uint16)
            write_image(folder / name, stack, spacing=(2.0, 0.4, 0.4), kind="image")
            prompts[name] = [{"object": 1, "slice": 1, "box": box}]
    (tmp_path / "p.json").write_text(json.dumps(prompts))

    local = run_batch(folder, tmp_path / "local", prompts=tmp_path / "p.json", model=SPEC)
    events = []
    dask = run_batch(
        folder, tmp_path / "dask", prompts=tmp_path / "p.json", model=SPEC,
        scheduler="local", workers=2, threads_per_worker=1, on_event=events.append,
    )  # fmt: skip
    assert (local.ok, dask.ok, dask.failed) == (3, 3, 0)
    assert sorted(e.outcome.volume for e in events if isinstance(e, VolumeDone)) == ["a.tif", "b.nii.gz", "c.png"]
    for name in (
        "a_mask.tif",
        "a_uncertainty.tif",
        "b_mask.nii.gz",
        "b_uncertainty.nii.gz",
        "c_mask.png",
        "c_uncertainty.tif",
    ):
        ours, theirs = read_image(tmp_path / "local" / name), read_image(tmp_path / "dask" / name)
        assert ours.spacing == theirs.spacing
        np.testing.assert_allclose(theirs.array, ours.array, atol=1e-5, err_msg=name)

    def table(out):
        return sorted(tuple(v for k, v in row.items() if k != "seconds") for row in read_report(out))

    assert table(tmp_path / "dask") == table(tmp_path / "local")
    # the Dask run's folder resumes like any other: nothing left to do, no cluster started
    again = run_batch(folder, tmp_path / "dask", prompts=tmp_path / "p.json", model=SPEC, scheduler="local", workers=2)
    assert (again.ok, again.skipped) == (0, 3)


def test_a_loaded_model_cannot_go_to_dask(tmp_path):
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "a.png", np.zeros((8, 8), np.uint8), kind="image")
    with pytest.raises(TypeError, match="ModelSpec"):
        run_batch(
            tmp_path / "in",
            tmp_path / "out",
            prompts={"box": [1, 1, 4, 4]},
            model=cached_model(SPEC),
            scheduler="local",
        )
