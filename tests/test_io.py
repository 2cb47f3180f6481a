"""napari_ruac.io: geometry-preserving round trips for NIfTI, TIFF/OME-TIFF, PNG and npy.

Reference files are written with nibabel / tifffile / imageio directly and outputs are read back
with those libraries independently, so a transposed axis or a lost spacing fails here.
"""

from __future__ import annotations

import gzip
import os
import re

import imageio.v3 as iio
import nibabel as nib
import numpy as np
import pytest
import tifffile

from napari_ruac.io import (
    ImageData,
    ImageReadError,
    ImageWriteError,
    default_suffix,
    output_path,
    overlay_png,
    read_image,
    write_image,
)
from napari_ruac.io import nifti as nifti_module
from napari_ruac.io import tiff as tiff_module

GEOMETRY_FIELDS = (
    "sform_code", "qform_code", "srow_x", "srow_y", "srow_z", "quatern_b", "quatern_c", "quatern_d",
    "qoffset_x", "qoffset_y", "qoffset_z", "pixdim", "xyzt_units", "dim",
)  # fmt: skip


def rotation(degrees_z: float, degrees_x: float) -> np.ndarray:
    """A proper rotation: about z, then about x."""
    a, b = np.deg2rad(degrees_z), np.deg2rad(degrees_x)
    about_z = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    about_x = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return about_z @ about_x


def oblique_affine(zooms_xyz=(0.7, 0.8, 3.0), offset=(12.5, -30.25, 7.0)) -> np.ndarray:
    affine = np.eye(4)
    affine[:3, :3] = rotation(20, 10) @ np.diag(zooms_xyz)
    affine[:3, 3] = offset
    return affine


def save_nifti(path, data, affine, qform_code=1, sform_code=2):
    image = nib.Nifti1Image(data, affine)
    image.set_qform(affine, code=qform_code)
    image.set_sform(affine, code=sform_code)
    image.header.set_xyzt_units("mm", "sec")
    nib.save(image, str(path))
    return nib.load(str(path))


@pytest.fixture
def oblique_nifti(tmp_path):
    """A 6×7×5 (X, Y, Z) int16 volume where every voxel value encodes its (x, y, z) index."""
    x, y, z = np.meshgrid(np.arange(6), np.arange(7), np.arange(5), indexing="ij")
    data = (100 * x + 10 * y + z).astype(np.int16)
    path = tmp_path / "ct.nii.gz"
    save_nifti(path, data, oblique_affine())
    return path, data


# ---------------------------------------------------------------- NIfTI


def test_nifti_read_gives_zyx_order_and_affine_on_our_indices(oblique_nifti):
    path, data = oblique_nifti
    image = read_image(path)
    assert image.format == "nifti" and image.is_volume and image.ndim_spatial == 3
    assert image.array.shape == (5, 7, 6)
    assert image.array[4, 6, 5] == 100 * 5 + 10 * 6 + 4  # array[z, y, x] == data[x, y, z]
    np.testing.assert_array_equal(image.array, data.transpose(2, 1, 0))
    assert image.spacing == pytest.approx((3.0, 0.8, 0.7), abs=1e-6)
    assert image.unit == "mm"
    file_affine = nib.load(str(path)).affine
    rng = np.random.default_rng(0)
    for _ in range(5):
        z, y, x = rng.integers(0, 5), rng.integers(0, 7), rng.integers(0, 6)
        np.testing.assert_allclose(image.affine @ [z, y, x, 1], file_affine @ [x, y, z, 1])


def test_nifti_write_like_reproduces_geometry_exactly(oblique_nifti, tmp_path):
    path, data = oblique_nifti
    source = read_image(path)
    mask = source.array % 7 == 3
    written = write_image(tmp_path / "ct_mask.nii.gz", mask, like=source)
    original, result = nib.load(str(path)), nib.load(str(written))
    assert np.array_equal(result.affine, original.affine)
    assert result.header.get_zooms() == original.header.get_zooms()
    for field in GEOMETRY_FIELDS:
        np.testing.assert_array_equal(result.header[field], original.header[field], err_msg=field)
    assert result.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(np.asanyarray(result.dataobj), mask.transpose(2, 1, 0))
    again = read_image(written)
    np.testing.assert_array_equal(again.array, mask)
    np.testing.assert_array_equal(again.affine, source.affine)
    assert again.spacing == source.spacing
    assert not [p.name for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_nifti_image_kind_keeps_values_and_dtype(oblique_nifti, tmp_path):
    path, data = oblique_nifti
    source = read_image(path)
    written = write_image(tmp_path / "copy.nii", source.array, like=source, kind="image")
    result = nib.load(str(written))
    assert result.get_data_dtype() == np.int16
    np.testing.assert_array_equal(np.asanyarray(result.dataobj), data)
    assert np.array_equal(result.affine, nib.load(str(path)).affine)


def test_nifti_label_and_float_dtypes_without_scaling(tmp_path):
    data = np.arange(4 * 5 * 3, dtype=np.int16).reshape(4, 5, 3)
    source_image = nib.Nifti1Image(data, np.diag([0.5, 0.5, 2.0, 1.0]))
    source_image.header.set_slope_inter(2.0, -100.0)  # a CT-like scaled source must not leak its scaling
    nib.save(source_image, str(tmp_path / "scaled.nii.gz"))
    source = read_image(tmp_path / "scaled.nii.gz")
    np.testing.assert_allclose(source.array, 2.0 * data.transpose(2, 1, 0) - 100.0)
    cases = {
        "small": (source.array > 0, "labels", np.uint8),
        "medium": (np.full(source.array.shape, 300), "labels", np.uint16),
        "large": (np.full(source.array.shape, 70_000), "labels", np.int32),
        "float": (np.linspace(0, 1, source.array.size).reshape(source.array.shape), "float", np.float32),
    }
    for name, (values, kind, dtype) in cases.items():
        written = write_image(tmp_path / f"{name}.nii.gz", values, like=source, kind=kind)
        result = nib.load(str(written))
        assert result.get_data_dtype() == dtype, name
        assert result.dataobj.slope == 1.0 and result.dataobj.inter == 0.0, name
        np.testing.assert_allclose(result.get_fdata(), np.asarray(values, dtype).transpose(2, 1, 0), rtol=0, atol=0)
    with pytest.raises(ImageWriteError, match="whole numbers"):
        write_image(tmp_path / "bad.nii.gz", np.full(source.array.shape, 0.5), like=source)


def test_nifti_2d_single_slice(tmp_path):
    affine = np.diag([0.6, 0.9, 5.0, 1.0])
    affine[:3, 3] = (1, 2, 3)
    data = np.arange(8 * 5, dtype=np.float32).reshape(8, 5)  # (X, Y)
    save_nifti(tmp_path / "slice.nii", data, affine)
    image = read_image(tmp_path / "slice.nii")
    assert image.array.shape == (5, 8) and not image.is_volume
    assert image.spacing == pytest.approx((0.9, 0.6))
    np.testing.assert_array_equal(image.array, data.T)
    np.testing.assert_allclose(image.affine @ [0, 4, 7, 1], affine @ [7, 4, 0, 1])
    written = write_image(tmp_path / "slice_mask.nii", image.array > 10, like=image)
    result = nib.load(str(written))
    assert result.shape == (8, 5)
    assert np.array_equal(result.affine, nib.load(str(tmp_path / "slice.nii")).affine)
    # a 3D file with one slice is read as 2D too, and written back with its third axis
    save_nifti(tmp_path / "one.nii.gz", data[:, :, None], affine)
    one = read_image(tmp_path / "one.nii.gz")
    assert one.array.shape == (5, 8)
    assert nib.load(str(write_image(tmp_path / "one_mask.nii.gz", one.array > 3, like=one))).shape == (8, 5, 1)


def test_nifti_4d_needs_a_chosen_volume(tmp_path):
    data = np.random.default_rng(1).random((4, 5, 3, 6)).astype(np.float32)
    save_nifti(tmp_path / "fmri.nii.gz", data, np.diag([2.0, 2.0, 3.0, 1.0]))
    with pytest.raises(ImageReadError, match=r"4D NIfTI.*6 volumes.*timepoint") as caught:
        read_image(tmp_path / "fmri.nii.gz")
    assert "fmri.nii.gz" in str(caught.value)
    volume = read_image(tmp_path / "fmri.nii.gz", timepoint=2)
    np.testing.assert_array_equal(volume.array, data[..., 2].transpose(2, 1, 0))
    written = write_image(tmp_path / "fmri_mask.nii.gz", volume.array > 0.5, like=volume)
    assert nib.load(str(written)).shape == (4, 5, 3)
    with pytest.raises(ImageReadError, match="outside"):
        read_image(tmp_path / "fmri.nii.gz", timepoint=6)


def test_nifti_without_source_uses_given_geometry(tmp_path):
    volume = np.zeros((3, 4, 5), dtype=bool)
    volume[1, 2, 3] = True
    written = write_image(tmp_path / "new.nii.gz", volume, spacing=(3.0, 0.8, 0.7))
    result = nib.load(str(written))
    np.testing.assert_allclose(result.header.get_zooms(), (0.7, 0.8, 3.0))
    assert result.header["sform_code"] > 0 and result.header["qform_code"] > 0
    back = read_image(written)
    np.testing.assert_array_equal(back.array, volume)
    ours = oblique_affine() @ nifti_module.SWAP_XZ
    back = read_image(write_image(tmp_path / "oblique.nii.gz", volume, affine=ours))
    np.testing.assert_allclose(back.affine, ours, atol=1e-6)


def test_shape_mismatch_with_source_is_a_clear_error(oblique_nifti, tmp_path):
    source = read_image(oblique_nifti[0])
    with pytest.raises(ImageWriteError, match=r"does not match.*ct.nii.gz.*\(5, 7, 6\)"):
        write_image(tmp_path / "wrong.nii.gz", np.zeros((6, 7, 5), np.uint8), like=source)
    assert not list(tmp_path.glob("wrong*")) and not list(tmp_path.glob(".wrong*"))


# ---------------------------------------------------------------- TIFF


def asymmetric_volume(shape=(4, 5, 6)) -> np.ndarray:
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    return (100 * z + 10 * y + x).astype(np.uint16)


def test_imagej_tiff_spacing_round_trip_read_by_tifffile(tmp_path):
    volume = asymmetric_volume()
    tifffile.imwrite(
        tmp_path / "stack.tif", volume, imagej=True, resolution=(1 / 0.7, 1 / 0.8),
        metadata={"spacing": 3.0, "unit": "micron", "axes": "ZYX"},
    )  # fmt: skip
    source = read_image(tmp_path / "stack.tif")
    assert source.spacing == pytest.approx((3.0, 0.8, 0.7)) and source.unit == "µm"
    np.testing.assert_array_equal(source.array, volume)
    mask = source.array % 3 == 0
    written = write_image(tmp_path / "stack_mask.tif", mask, like=source)
    with tifffile.TiffFile(written) as tif:
        assert tif.is_imagej and tif.series[0].axes == "ZYX"
        assert tif.imagej_metadata["spacing"] == pytest.approx(3.0)
        assert tif.imagej_metadata["unit"] == "micron"
        x_resolution, y_resolution = tif.pages[0].resolution
        assert (1 / x_resolution, 1 / y_resolution) == pytest.approx((0.7, 0.8))
        np.testing.assert_array_equal(tif.asarray(), mask.astype(np.uint8))
    uncertainty = write_image(tmp_path / "stack_unc.tif", volume / 1000.0, like=source, kind="float")
    back = read_image(uncertainty)
    assert back.array.dtype == np.float32 and back.spacing == pytest.approx((3.0, 0.8, 0.7))
    np.testing.assert_allclose(back.array, volume / 1000.0, rtol=1e-6)


def test_ome_tiff_physical_size_read_and_written_as_ome(tmp_path):
    volume = asymmetric_volume((3, 7, 5))
    tifffile.imwrite(
        tmp_path / "cells.ome.tif", volume, ome=True,
        metadata={"axes": "ZYX", "PhysicalSizeX": 0.25, "PhysicalSizeY": 0.3, "PhysicalSizeZ": 1500.0,
                  "PhysicalSizeZUnit": "nm"},
    )  # fmt: skip
    source = read_image(tmp_path / "cells.ome.tif")
    assert source.metadata["tiff_flavour"] == "ome"
    assert source.spacing == pytest.approx((1.5, 0.3, 0.25)) and source.unit == "µm"
    np.testing.assert_array_equal(source.array, volume)
    written = write_image(output_path(source, "mask"), source.array > 150, like=source)
    assert written.name == "cells_mask.ome.tif"
    with tifffile.TiffFile(written) as tif:
        assert tif.is_ome and tif.series[0].axes == "ZYX"
        sizes = dict(re.findall(r'PhysicalSize([XYZ])="([0-9.eE+-]+)"', tif.ome_metadata))
    assert {k: float(v) for k, v in sizes.items()} == pytest.approx({"X": 0.25, "Y": 0.3, "Z": 1.5})
    # a plain .tif name written like an OME source is still OME
    assert tifffile.TiffFile(write_image(tmp_path / "plain_name.tif", volume > 0, like=source)).is_ome


def test_tiff_without_source_and_labels_beyond_uint16(tmp_path):
    labels = np.arange(2 * 6 * 8, dtype=np.int64).reshape(2, 6, 8) * 1000  # up to 95000: not ImageJ-able
    written = write_image(tmp_path / "labels.tif", labels, spacing=(2.0, 0.5, 0.4), unit="µm")
    with tifffile.TiffFile(written) as tif:
        assert tif.series[0].dtype == np.int32
        assert tif.pages[0].resolutionunit == tifffile.RESUNIT.CENTIMETER
        x_resolution, _ = tif.pages[0].resolution
        assert 1e4 / x_resolution == pytest.approx(0.4)
    back = read_image(written)
    np.testing.assert_array_equal(back.array, labels)
    assert back.spacing == pytest.approx((2.0, 0.5, 0.4)) and back.unit == "µm"


def test_tiff_time_and_channel_axes(tmp_path):
    data = np.arange(2 * 3 * 2 * 8 * 9, dtype=np.uint16).reshape(2, 3, 2, 8, 9)  # T Z C Y X
    tifffile.imwrite(tmp_path / "hyper.tif", data, imagej=True, metadata={"axes": "TZCYX"})
    with pytest.raises(ImageReadError, match=r"hyper.tif.*2 time points.*timepoint"):
        read_image(tmp_path / "hyper.tif")
    both = read_image(tmp_path / "hyper.tif", timepoint=1)
    assert both.array.shape == (3, 8, 9, 2) and both.channels == 2 and both.is_volume
    np.testing.assert_array_equal(both.array, np.moveaxis(data[1], 1, -1))
    one = read_image(tmp_path / "hyper.tif", timepoint=1, channel=1)
    np.testing.assert_array_equal(one.array, data[1, :, 1])
    rgb = np.random.default_rng(2).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    image = read_image(tmp_path / "rgb.tif")
    assert image.array.shape == (10, 12, 3) and image.ndim_spatial == 2
    np.testing.assert_array_equal(image.array, rgb)
    planes = np.random.default_rng(3).random((3, 10, 12)).astype(np.float32)  # channel-first, no metadata
    np.save(tmp_path / "planes.npy", planes)
    assert read_image(tmp_path / "planes.npy", channel_axis=0).array.shape == (10, 12, 3)
    assert read_image(tmp_path / "planes.npy").array.shape == (3, 10, 12)  # default: a z-stack


# ---------------------------------------------------------------- PNG, npy


def test_rgb_png_round_trip(tmp_path):
    rgb = np.random.default_rng(4).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    iio.imwrite(tmp_path / "photo.png", rgb)
    image = read_image(tmp_path / "photo.png")
    assert image.format == "png" and image.spacing == (1.0, 1.0) and image.has_channels
    np.testing.assert_array_equal(image.array, rgb)
    mask = rgb[..., 0] > 128
    written = write_image(output_path(image, "mask"), mask, like=image)
    assert written.suffix == ".png"
    np.testing.assert_array_equal(iio.imread(written), mask.astype(np.uint8))
    with pytest.raises(ImageWriteError, match=r"\.tif"):
        write_image(tmp_path / "photo_unc.png", rgb[..., 0] / 255.0, like=image, kind="float")
    assert default_suffix(image, "float") == ".tif"
    unc = write_image(output_path(image, "uncertainty", "float"), rgb[..., 0] / 255.0, like=image, kind="float")
    assert unc.name == "photo_uncertainty.tif" and read_image(unc).array.dtype == np.float32
    with pytest.raises(ImageWriteError, match="lossy"):
        write_image(tmp_path / "mask.jpg", mask, like=image)


def test_npy_round_trip(tmp_path):
    volume = asymmetric_volume().astype(np.float32)
    np.save(tmp_path / "volume.npy", volume)
    image = read_image(tmp_path / "volume.npy")
    assert image.array.shape == (4, 5, 6) and image.spacing == (1.0, 1.0, 1.0)
    written = write_image(tmp_path / "volume_unc.npy", volume, like=image, kind="float")
    np.testing.assert_array_equal(np.load(written), volume)


# ---------------------------------------------------------------- errors


def test_corrupt_and_missing_files_give_helpful_errors(oblique_nifti, tmp_path):
    path, _ = oblique_nifti
    raw = gzip.decompress(path.read_bytes())
    truncated = tmp_path / "truncated.nii.gz"
    truncated.write_bytes(gzip.compress(raw)[: len(gzip.compress(raw)) // 2])
    with pytest.raises(ImageReadError, match=r"truncated\.nii\.gz.*(truncated or corrupt|damaged)"):
        read_image(truncated)
    noise = tmp_path / "noise.tif"
    noise.write_bytes(np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ImageReadError, match=r"noise\.tif.*not a TIFF.*export it again"):
        read_image(noise)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(ImageReadError, match=r"broken\.png.*corrupt"):
        read_image(tmp_path / "broken.png")
    with pytest.raises(ImageReadError, match=r"missing\.nii\.gz does not exist"):
        read_image(tmp_path / "missing.nii.gz")
    (tmp_path / "scan.dcm").write_bytes(b"DICM")
    with pytest.raises(ImageReadError, match=r"unsupported file type '\.dcm'.*dcm2niix"):
        read_image(tmp_path / "scan.dcm")
    (tmp_path / "empty.tif").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        read_image(tmp_path / "empty.tif")
    assert issubclass(ImageReadError, ValueError)


# ---------------------------------------------------------------- atomic writes


@pytest.mark.parametrize("name", ["out.nii.gz", "out.tif"])
def test_failed_write_keeps_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch, name):
    target = tmp_path / name
    volume = np.zeros((3, 4, 5), dtype=np.uint8)
    write_image(target, volume, spacing=(1.0, 1.0, 1.0))
    before = target.read_bytes()

    def interrupted(*args, **kwargs):
        destination = args[1] if name.endswith(".nii.gz") else args[0]
        with open(destination, "wb") as handle:
            handle.write(b"half a file")
        raise OSError("disk full")

    if name.endswith(".nii.gz"):
        monkeypatch.setattr(nifti_module.nib, "save", interrupted)
    else:
        monkeypatch.setattr(tiff_module.tifffile, "imwrite", interrupted)
    with pytest.raises((OSError, ImageWriteError), match="disk full"):
        write_image(target, volume + 1, spacing=(1.0, 1.0, 1.0))
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [name]


# ---------------------------------------------------------------- overlay


def test_overlay_png_two_panels(tmp_path, blob):
    image, labels = blob[0], blob[1]
    uncertainty = np.random.default_rng(6).random(labels.shape).astype(np.float32)
    written = overlay_png(tmp_path / "overlay.png", image, labels > 0, uncertainty)
    picture = iio.imread(written)
    assert picture.ndim == 3 and picture.shape[-1] in (3, 4)
    height, width = picture.shape[:2]
    assert 300 <= height <= 1200 and 1.5 * height < width <= 2500
    assert picture[..., :3].std() > 10  # not blank
    cyan = (picture[..., 0] < 60) & (picture[..., 1] > 180) & (picture[..., 2] > 200)
    assert cyan.sum() > 50  # the mask outline is drawn


def test_overlay_png_volume_shows_largest_mask_slice(tmp_path):
    from napari_ruac.io.overlay import largest_mask_slice

    volume = np.random.default_rng(7).random((6, 40, 50)).astype(np.float32)
    mask = np.zeros(volume.shape, dtype=bool)
    mask[1, 5:10, 5:10] = True
    mask[4, 10:30, 10:40] = True
    assert largest_mask_slice(mask) == 4
    data = ImageData(volume, (3.0, 0.8, 0.7), None, "npy")
    single = iio.imread(overlay_png(tmp_path / "vol.png", data, mask))
    double = iio.imread(overlay_png(tmp_path / "vol2.png", data, mask, uncertainty=volume))
    assert single.shape[1] < double.shape[1] and single.shape[0] >= 200
    with pytest.raises(ImageWriteError, match="does not match"):
        overlay_png(tmp_path / "bad.png", volume, mask[:, :10])


# ---------------------------------------------------------------- napari convention


def test_napari_scale_is_spacing_in_zyx(tmp_path):
    napari = pytest.importorskip("napari")
    axis_aligned = np.diag([0.7, 0.8, 3.0, 1.0])  # x, y, z zooms
    save_nifti(tmp_path / "aligned.nii.gz", np.zeros((6, 7, 5), np.int16), axis_aligned)
    image = read_image(tmp_path / "aligned.nii.gz")
    assert image.scale == pytest.approx((3.0, 0.8, 0.7))
    np.testing.assert_allclose(image.napari_affine, np.diag([3.0, 0.8, 0.7, 1.0]))
    layer = napari.layers.Image(image.array, scale=image.scale)
    assert layer.data_to_world((4, 6, 5)) == pytest.approx((12.0, 4.8, 3.5))
    # oblique: napari's world (axes z, y, x) is the file's world (x, y, z) reversed
    save_nifti(tmp_path / "oblique.nii.gz", np.zeros((6, 7, 5), np.int16), oblique_affine())
    oblique = read_image(tmp_path / "oblique.nii.gz")
    layer = napari.layers.Labels(np.zeros(oblique.array.shape, np.uint8), affine=oblique.napari_affine)
    world_xyz = oblique_affine() @ [5, 6, 4, 1]
    assert layer.data_to_world((4, 6, 5)) == pytest.approx(tuple(world_xyz[2::-1]), abs=1e-6)
    stack = read_image(write_image(tmp_path / "s.tif", np.zeros((2, 3, 4), np.uint8), spacing=(3.0, 0.8, 0.7)))
    layer = napari.layers.Labels(stack.array, scale=stack.scale)
    assert layer.data_to_world((1, 2, 3)) == pytest.approx((3.0, 1.6, 2.1))
