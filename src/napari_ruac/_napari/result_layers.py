"""The result layers of one image: committed masks, the preview of the current object, and
the uncertainty map, all on the image's geometry.

The uncertainty layer shows the per-voxel maximum of the committed objects' uncertainty and
the current preview's, so one map covers everything segmented so far (what the review reads).
"""

from __future__ import annotations

import numpy as np
from napari.utils.colormaps import DirectLabelColormap

from .layer_geometry import geometry_metadata, geometry_of, spatial_shape

PREVIEW_COLOR = "cyan"
UNCERTAINTY_COLORMAP = "magma"
KIND_KEY = "ruac_kind"  # layer metadata: what a layer this plugin made holds ("uncertainty", …)
UNCERTAINTY_KIND = "uncertainty"


def is_uncertainty_layer(layer) -> bool:
    """An Image layer holding a per-voxel uncertainty this plugin computed (or read from its outputs)."""
    return type(layer).__name__ == "Image" and (getattr(layer, "metadata", None) or {}).get(KIND_KEY) == UNCERTAINTY_KIND


def masks_name(image_name: str) -> str:
    return f"{image_name} masks"


def preview_name(image_name: str) -> str:
    return f"{image_name} preview"


def uncertainty_name(image_name: str, methods=()) -> str:
    """'<image> uncertainty (ruac)': what the layer holds and which method(s) drew it."""
    made_by = "+".join(methods)
    return f"{image_name} uncertainty ({made_by})" if made_by else f"{image_name} uncertainty"


def find_uncertainty_layer(viewer, image_name: str):
    """The uncertainty layer this plugin made for ``image_name`` (whatever its method suffix), or None."""
    for layer in viewer.layers:
        if is_uncertainty_layer(layer) and layer.metadata.get("source_layer") == image_name:
            return layer
    return None


def uncertainty_layer(viewer, image_layer, shape) -> object:
    """Find or add ``image_layer``'s uncertainty layer (magma, 0–1, additive, with a colour bar)."""
    layer = find_uncertainty_layer(viewer, image_layer.name)
    if layer is None or layer.data.shape != shape:
        layer = viewer.add_image(
            np.zeros(shape, np.float32),
            name=uncertainty_name(image_layer.name),
            colormap=UNCERTAINTY_COLORMAP,
            contrast_limits=(0.0, 1.0),
            blending="additive",
            opacity=0.7,
            metadata={**geometry_metadata(image_layer), "source_layer": image_layer.name, KIND_KEY: UNCERTAINTY_KIND},
            **geometry_of(image_layer),
        )
    layer.colorbar.visible = True  # 0 = certain … 1 = a coin flip, readable on screen
    return layer


def note_method(layer, method: str | None) -> None:
    """Record that ``method`` drew into the uncertainty ``layer``; its name then says so."""
    if not method:
        return
    methods = list(layer.metadata.get("methods", []))
    if method not in methods:
        methods.append(method)
        layer.metadata["methods"] = methods
        layer.name = uncertainty_name(layer.metadata.get("source_layer", layer.name), methods)


def commit_mask(labels: np.ndarray, mask: np.ndarray) -> int:
    """Write ``mask`` into ``labels`` in place as a new id, on unlabelled voxels only.

    Older objects keep every voxel they have. Returns the new id (0 when nothing was free).
    """
    if labels.shape != mask.shape:
        raise ValueError(f"mask shape {mask.shape} differs from the labels' {labels.shape}")
    free = mask.astype(bool) & (labels == 0)
    if not free.any():
        return 0
    new_id = int(labels.max()) + 1
    if new_id > np.iinfo(labels.dtype).max:
        raise ValueError(f"the labels layer ({labels.dtype}) cannot hold another id ({new_id}); convert it to int32")
    labels[free] = new_id
    return new_id


def replaced_object(labels: np.ndarray, object_id: int, mask: np.ndarray, where: np.ndarray | None = None):
    """(indices, values) that turn object ``object_id`` of ``labels`` into ``mask`` inside ``where``
    (default: everywhere): its voxels outside the mask become 0, the mask's voxels that are free (0)
    or already its own take its id; other objects keep every voxel. Apply them with the Labels layer's
    ``data_setitem`` (napari records it for the layer's own undo)."""
    labels = np.asarray(labels)
    mask = np.asarray(mask, bool)
    if labels.shape != mask.shape:
        raise ValueError(f"mask shape {mask.shape} differs from the labels' {labels.shape}")
    if object_id <= 0:
        raise ValueError(f"object id must be a positive label, got {object_id}")
    region = np.ones(labels.shape, bool) if where is None else np.asarray(where, bool)
    own = labels == object_id
    drop = own & ~mask & region
    add = mask & (labels == 0) & region
    indices = np.nonzero(drop | add)
    values = np.where(add[indices], object_id, 0).astype(labels.dtype)
    return indices, values


def _find(viewer, name: str, kind: str):
    for layer in viewer.layers:
        if layer.name == name and type(layer).__name__ == kind:
            return layer
    return None


class ResultLayers:
    """Create (or reuse, by name) and update the masks, preview and uncertainty layers."""

    def __init__(self, viewer, image_layer) -> None:
        self.shape = spatial_shape(image_layer)
        geometry = geometry_of(image_layer)
        metadata = {**geometry_metadata(image_layer), "source_layer": image_layer.name}
        name = image_layer.name
        self.masks = _find(viewer, masks_name(name), "Labels")
        if self.masks is None or self.masks.data.shape != self.shape:
            self.masks = viewer.add_labels(
                np.zeros(self.shape, np.int32), name=masks_name(name), opacity=0.45, metadata=dict(metadata), **geometry
            )
        self.uncertainty = uncertainty_layer(viewer, image_layer, self.shape)
        self.preview = _find(viewer, preview_name(name), "Labels")
        if self.preview is None or self.preview.data.shape != self.shape:
            self.preview = viewer.add_labels(
                np.zeros(self.shape, np.uint8),
                name=preview_name(name),
                opacity=0.6,
                colormap=DirectLabelColormap(color_dict={None: "transparent", 0: "transparent", 1: PREVIEW_COLOR}),
                metadata=dict(metadata),
                **geometry,
            )
        self.committed_uncertainty = np.asarray(self.uncertainty.data, dtype=np.float32).copy()
        self.preview_uncertainty = np.zeros(self.shape, np.float32)
        self.preview_probability = np.zeros(self.shape, np.float32)  # the suggestion rule reads it (guided.py)
        self.match_preview_colour()

    def match_preview_colour(self) -> None:
        """Show the preview in the colour its object will have once committed (the next free label id)."""
        next_id = int(np.asarray(self.masks.data).max(initial=0)) + 1
        colour = tuple(float(c) for c in self.masks.get_color(next_id))
        self.preview.colormap = DirectLabelColormap(color_dict={None: "transparent", 0: "transparent", 1: colour})

    # ---- updates (main thread) ---------------------------------------------------------
    def show_slice(self, index: tuple[int, ...], mask: np.ndarray, uncertainty: np.ndarray, method: str | None = None,
                   probability: np.ndarray | None = None) -> None:
        """Put one slice's preview mask, uncertainty and probability (default: the mask) in place; ``method``
        made them."""
        note_method(self.uncertainty, method)
        self.preview.data[index] = mask.astype(np.uint8)
        self.preview_uncertainty[index] = uncertainty
        self.preview_probability[index] = mask if probability is None else probability
        self.uncertainty.data[index] = np.maximum(self.committed_uncertainty[index], uncertainty)
        self.preview.refresh()
        self.uncertainty.refresh()

    def clear_preview(self) -> None:
        """Drop the current object's preview; the uncertainty map goes back to the committed objects'."""
        self.preview.data[...] = 0
        self.preview_uncertainty[...] = 0
        self.preview_probability[...] = 0
        self.uncertainty.data[...] = self.committed_uncertainty
        self.preview.refresh()
        self.uncertainty.refresh()

    @property
    def has_preview(self) -> bool:
        return bool(self.preview.data.any())

    def commit(self) -> int:
        """Move the preview into the masks as a new object (never over older ones); returns its id."""
        new_id = commit_mask(self.masks.data, self.preview.data > 0)
        if new_id:
            np.maximum(self.committed_uncertainty, self.preview_uncertainty, out=self.committed_uncertainty)
            self.masks.selected_label = new_id
            self.masks.refresh()
        self.clear_preview()
        self.match_preview_colour()
        return new_id
