"""Plugin manifest, reader, writers and sample data of the napari plugin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("napari")

from napari_ruac.io import read_image, write_image  # noqa: E402
from napari_ruac._napari.reader import get_reader, read_layers  # noqa: E402
from napari_ruac._napari.result_layers import ResultLayers  # noqa: E402
from napari_ruac._napari.samples import ct_phantom_sample, nuclei_stack_sample  # noqa: E402
from napari_ruac._napari.writer import write_image_layer, write_labels  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _oblique_affine(spacing=(2.5, 0.8, 0.7), origin=(-40.0, 12.0, 5.5), angle=0.3):
    """Index (z, y, x) → world with a rotation in the y–x plane, anisotropic voxels and an origin."""
    c, s = np.cos(angle), np.sin(angle)
    rotation = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag(spacing)
    affine[:3, 3] = origin
    return affine


def test_manifest_is_valid_and_importable():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("napari-ruac")
    manifest.validate_imports()
    contributions = manifest.contributions
    assert {w.display_name for w in contributions.widgets} == {"Segment with uncertainty", "Review uncertain regions"}
    assert {s.key for s in contributions.sample_data} >= {"nuclei_stack", "ct_phantom"}
    assert {tuple(w.layer_types) for w in contributions.writers} == {("labels",), ("image",)}
    packaged = ROOT / "src" / "napari_ruac" / "napari.yaml"
    assert packaged.is_symlink() and packaged.resolve() == (ROOT / "napari.yaml").resolve()


def test_reader_claims_only_our_extensions():
    for name in ("a.nii", "a.nii.gz", "a.tif", "a.TIFF", "a.ome.tif"):
        assert callable(get_reader(name))
    assert get_reader("a.png") is None
    assert get_reader(["a.nii.gz", "b.csv"]) is None


def test_nifti_reader_writer_round_trip_keeps_affine_and_spacing(tmp_path):
    rng = np.random.default_rng(0)
    volume = rng.integers(-1000, 1000, (6, 20, 24)).astype(np.int16)
    affine = _oblique_affine()
    source = write_image(tmp_path / "scan.nii.gz", volume, affine=affine, kind="image")

    ((data, kwargs, kind),) = read_layers(str(source))
    assert kind == "image"
    np.testing.assert_array_equal(data, volume)
    np.testing.assert_allclose(kwargs["scale"], (2.5, 0.8, 0.7), rtol=1e-6)
    np.testing.assert_allclose(kwargs["metadata"]["affine"], affine, atol=1e-5)

    meta = {"metadata": kwargs["metadata"], "scale": kwargs["scale"]}
    mask = (volume > 0).astype(np.int32) * 3
    (mask_path,) = write_labels(str(tmp_path / "scan_mask.nii.gz"), mask, meta)
    back = read_image(mask_path)
    np.testing.assert_array_equal(back.array, mask)
    np.testing.assert_allclose(back.affine, affine, atol=1e-5)
    np.testing.assert_allclose(back.spacing, (2.5, 0.8, 0.7), rtol=1e-6)

    uncertainty = rng.uniform(0, 1, volume.shape).astype(np.float32)
    (unc_path,) = write_image_layer(str(tmp_path / "scan_uncertainty.nii.gz"), uncertainty, meta)
    back = read_image(unc_path)
    assert back.array.dtype == np.float32
    np.testing.assert_allclose(back.array, uncertainty)
    np.testing.assert_allclose(back.affine, affine, atol=1e-5)


def test_tiff_round_trip_keeps_spacing_and_labels_by_name(tmp_path):
    volume = np.arange(4 * 16 * 16, dtype=np.uint16).reshape(4, 16, 16)
    source = write_image(tmp_path / "cells.tif", volume, spacing=(2.0, 0.5, 0.25), kind="image")
    ((data, kwargs, kind),) = read_layers(str(source))
    assert kind == "image"
    np.testing.assert_allclose(kwargs["scale"], (2.0, 0.5, 0.25))
    labels = (volume % 7 == 0).astype(np.uint16)
    (out,) = write_labels(str(tmp_path / "cells_labels.tif"), labels, {"metadata": kwargs["metadata"]})
    ((back, back_kwargs, back_kind),) = read_layers(out)
    assert back_kind == "labels"  # integer file whose name says labels
    np.testing.assert_array_equal(back, labels)
    np.testing.assert_allclose(back_kwargs["scale"], (2.0, 0.5, 0.25))
    # without reader metadata the layer scale is the spacing
    (plain,) = write_labels(str(tmp_path / "plain_mask.tif"), labels, {"scale": (3.0, 1.5, 1.5)})
    np.testing.assert_allclose(read_image(plain).spacing, (3.0, 1.5, 1.5))


@pytest.mark.viewer
def test_result_layers_of_an_opened_nifti_save_back_into_its_space(make_napari_viewer_proxy, tmp_path):
    viewer = make_napari_viewer_proxy()
    volume = np.random.default_rng(1).integers(0, 500, (5, 18, 22)).astype(np.int16)
    affine = _oblique_affine(spacing=(3.0, 0.6, 0.6))
    source = write_image(tmp_path / "ct.nii.gz", volume, affine=affine, kind="image")
    (image,) = viewer.open(str(source), plugin="napari-ruac")
    np.testing.assert_allclose(image.scale, (3.0, 0.6, 0.6), rtol=1e-6)
    results = ResultLayers(viewer, image)
    assert tuple(image.axis_labels) == tuple(results.masks.axis_labels) == ("z", "y", "x")
    assert tuple(viewer.dims.axis_labels) == ("z", "y", "x")  # the slider says z, not -3
    results.masks.data[2, 4:9, 5:10] = 1
    out = tmp_path / "ct_masks.nii.gz"
    results.masks.save(str(out), plugin="napari-ruac")
    back = read_image(out)
    np.testing.assert_allclose(back.affine, affine, atol=1e-5)
    assert back.array[2, 4:9, 5:10].all() and back.array.sum() == 25


@pytest.mark.viewer
def test_samples_open_with_scale_and_ground_truth(make_napari_viewer_proxy):
    for sample in (nuclei_stack_sample(), ct_phantom_sample()):
        (image, image_kwargs, image_kind), (labels, label_kwargs, label_kind) = sample
        assert (image_kind, label_kind) == ("image", "labels")
        assert image.shape == labels.shape and labels.max() > 0
        assert image_kwargs["scale"] == label_kwargs["scale"] and len(image_kwargs["scale"]) == 3
        assert label_kwargs["name"] == f"{image_kwargs['name']} ground truth"
    viewer = make_napari_viewer_proxy()
    viewer.open_sample("napari-ruac", "nuclei_stack")
    assert [layer.name for layer in viewer.layers] == ["nuclei stack", "nuclei stack ground truth"]
    assert viewer.layers["nuclei stack"].scale[0] > viewer.layers["nuclei stack"].scale[1]  # anisotropic voxels


LOAD_AFTER_VIEWER = """
import napari
viewer = napari.Viewer()
viewer.open_sample("napari-ruac", "nuclei_image")
print("layers:", len(viewer.layers))
viewer.close()
"""


@pytest.mark.viewer
def test_plugin_loads_after_the_viewer_exists():
    """What a user does: start napari, then use the plugin (here: open its sample) in the same process.

    Regression: torch's triton used to segfault against Mesa's libLLVM (see napari_ruac/__init__.py)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", LOAD_AFTER_VIEWER], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "layers: 2" in done.stdout


@pytest.mark.viewer
def test_a_file_opened_without_its_spacing_is_flagged(make_napari_viewer_proxy, tmp_path):
    from napari_ruac._napari.spacing_check import dropped_spacing_message

    viewer = make_napari_viewer_proxy()
    path = write_image(tmp_path / "stack.tif", np.zeros((3, 16, 16), np.uint16), spacing=(2.0, 0.5, 0.5), unit="µm",
                       kind="image")  # fmt: skip
    (ours,) = viewer.open(str(path), plugin="napari-ruac")
    assert dropped_spacing_message(ours) is None
    (default,) = viewer.open(str(path), plugin="napari")  # napari's own reader: scale (1, 1, 1)
    assert np.allclose(default.scale, 1.0)
    message = dropped_spacing_message(default)
    assert message and "2 × 0.5 × 0.5" in message and "Open with Plugin ▸ napari-ruac" in message
    plain = viewer.add_image(np.zeros((3, 16, 16)), name="in memory")
    assert dropped_spacing_message(plain) is None


def test_an_uncertainty_file_opens_as_an_uncertainty_layer(tmp_path):
    from napari_ruac._napari.reader import read_layers
    from napari_ruac._napari.result_layers import KIND_KEY, UNCERTAINTY_KIND

    path = write_image(tmp_path / "cells_uncertainty.tif", np.full((8, 8), 0.3, np.float32), kind="float")
    ((_, kwargs, kind),) = read_layers(str(path))
    assert kind == "image" and kwargs["metadata"][KIND_KEY] == UNCERTAINTY_KIND and kwargs["axis_labels"] == ("y", "x")
    raw = write_image(tmp_path / "raw_uncertainty.tif", np.full((8, 8), 300.0, np.float32), kind="float")
    ((_, kwargs, _),) = read_layers(str(raw))
    assert KIND_KEY not in kwargs["metadata"]  # values outside [0, 1]: not an uncertainty, whatever its name
