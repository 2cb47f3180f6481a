"""Where an image layer lives: its transforms (copied to every layer we add, so anisotropic
voxels line up), its spatial shape, and which slice the viewer shows."""

from __future__ import annotations

import numpy as np

GEOMETRY_METADATA = ("affine", "image_data", "spacing", "unit")


def geometry_of(layer) -> dict:
    """Layer kwargs (scale, translate, rotate, shear, affine, axis labels) that put a new layer exactly on ``layer``."""
    geometry = dict(
        scale=np.asarray(layer.scale, dtype=float),
        translate=np.asarray(layer.translate, dtype=float),
        rotate=np.asarray(layer.rotate, dtype=float),
        shear=np.asarray(layer.shear, dtype=float),
        affine=np.asarray(layer.affine.affine_matrix, dtype=float),
    )
    labels = getattr(layer, "axis_labels", None)
    if labels is not None:
        geometry["axis_labels"] = tuple(labels)
    return geometry


def geometry_metadata(layer) -> dict:
    """The file geometry (affine, ImageData header) a reader stored, for writers of derived layers."""
    metadata = getattr(layer, "metadata", None) or {}
    return {key: metadata[key] for key in GEOMETRY_METADATA if key in metadata}


def layer_array(layer):
    """The full-resolution array behind an image layer (level 0 of a multiscale pyramid)."""
    data = layer.data
    return data[0] if getattr(layer, "multiscale", False) else data


def spatial_shape(layer) -> tuple[int, ...]:
    """Shape without the colour axis of an RGB layer: the shape of masks for this image."""
    shape = tuple(int(n) for n in layer_array(layer).shape)
    return shape[:-1] if getattr(layer, "rgb", False) else shape


def is_volume(layer) -> bool:
    """A Z×Y×X greyscale stack (or Z×Y×X×RGB): what 3D propagation works on."""
    return len(spatial_shape(layer)) == 3


def leading_index(viewer, layer) -> tuple[int, ...]:
    """Index of the slice shown for the layer's axes before (Y, X), e.g. (z,) or (t, z)."""
    shape = spatial_shape(layer)
    if len(shape) <= 2:
        return ()
    data_point = np.asarray(layer.world_to_data(viewer.dims.point), dtype=float)
    leading = np.round(data_point[: len(shape) - 2]).astype(int)
    return tuple(int(np.clip(i, 0, n - 1)) for i, n in zip(leading, shape[:-2]))


class SliceOrientationError(ValueError):
    """Segmentation works on Y×X planes; the viewer shows another plane or 3D rendering."""


def check_yx_displayed(viewer, layer) -> None:
    """Raise unless the viewer shows the layer's last two axes as a 2D plane."""
    if viewer.dims.ndisplay != 2:
        raise SliceOrientationError(
            "segmenting needs the 2D view: switch the viewer to 2D (the square button, or Ctrl+Y) and prompt on a slice."
        )
    ndim = len(spatial_shape(layer))
    offset = viewer.dims.ndim - ndim
    displayed = tuple(int(a) - offset for a in viewer.dims.displayed)
    if sorted(displayed) != [ndim - 2, ndim - 1]:
        raise SliceOrientationError(
            "segmenting works on Y×X slices, but the viewer shows another plane: restore the axis order "
            "(View ▸ Axes ▸ Reset, or roll/transpose back) and try again."
        )


def jump_to(viewer, layer, centre, physical_size: float, has_slice: bool) -> None:
    """Move the viewer to ``centre`` (data coordinates of ``layer``; its first value is the slice when
    ``has_slice``), centred and zoomed so that ``physical_size`` (world units) fills about a third of the view."""
    world = np.asarray(layer.data_to_world(list(centre)), dtype=float)
    offset = viewer.dims.ndim - len(centre)
    if has_slice:
        viewer.dims.set_point(offset, world[0])
    viewer.reset_view()
    camera = camera_of(viewer)
    fit_zoom = camera.zoom
    extent = np.ptp(np.asarray(layer.extent.world, dtype=float)[:, -2:], axis=0).max()
    camera.center = tuple(world[-2:])
    camera.zoom = fit_zoom * float(np.clip(extent / (3.0 * max(physical_size, 1e-9)), 1.0, 8.0))


def camera_of(viewer):
    """The viewer's camera: ``viewer.scene.camera`` from napari 0.9 on (``viewer.camera`` is deprecated
    there), ``viewer.camera`` before."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None and hasattr(scene, "camera") else viewer.camera
