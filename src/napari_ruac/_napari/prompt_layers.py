"""The prompt layers the segment widget adds (clicks and boxes) and their conversion to
predictor prompts.

napari gives coordinates as (…, row, col) with pixel centres on integers; the predictors take
x = column, y = row with pixel i covering [i, i+1), so every coordinate is shifted by +0.5.
One object at a time: per slice, all points and the most recently drawn rectangle.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .layer_geometry import geometry_of, spatial_shape

POSITIVE, NEGATIVE = 1, 0
LABEL_COLORS = {POSITIVE: "lime", NEGATIVE: "red"}
PIXEL_CENTRE = 0.5


@dataclass
class PromptLayers:
    """The Points (clicks) and Shapes (boxes) layers of one image layer."""

    points: object
    shapes: object


def points_name(image_name: str) -> str:
    return f"{image_name} prompts"


def boxes_name(image_name: str) -> str:
    return f"{image_name} boxes"


def _find(viewer, name: str, kind: str):
    for layer in viewer.layers:
        if layer.name == name and type(layer).__name__ == kind:
            return layer
    return None


def add_prompt_layers(viewer, image_layer) -> PromptLayers:
    """Add (or reuse) the prompt layers of ``image_layer``, on its geometry; clicks become active."""
    ndim = len(spatial_shape(image_layer))
    geometry = geometry_of(image_layer)
    shapes = _find(viewer, boxes_name(image_layer.name), "Shapes")
    if shapes is None:
        shapes = viewer.add_shapes(
            ndim=ndim,
            name=boxes_name(image_layer.name),
            edge_color="yellow",
            face_color="transparent",
            edge_width=2,
            **geometry,
        )
    points = _find(viewer, points_name(image_layer.name), "Points")
    if points is None:
        with warnings.catch_warnings():  # napari notes that 0/1 labels look categorical: they are, by design
            warnings.filterwarnings("ignore", message=".*looks like categorical", category=RuntimeWarning)
            points = _add_points(viewer, image_layer, ndim, geometry)
        points.mode = "add"
    viewer.layers.selection.active = points
    return PromptLayers(points=points, shapes=shapes)


def _add_points(viewer, image_layer, ndim: int, geometry: dict):
    """The clicks layer: colour by label (green object, red background), new clicks positive."""
    return viewer.add_points(
        np.empty((0, ndim)),
        name=points_name(image_layer.name),
        features={"label": np.empty(0, dtype=int)},
        feature_defaults={"label": POSITIVE},
        face_color="label",
        face_color_cycle=LABEL_COLORS,
        border_color="white",
        size=max(3.0, 0.02 * max(spatial_shape(image_layer)[-2:])),
        **geometry,
    )


def current_label(points_layer) -> int:
    """The label (1 object, 0 background) the next click receives."""
    return int(points_layer.feature_defaults["label"].iloc[0])


def toggle_point_label(points_layer) -> int:
    """Flip the label of new clicks between object (1) and background (0); returns the new one."""
    new = NEGATIVE if current_label(points_layer) == POSITIVE else POSITIVE
    defaults = points_layer.feature_defaults.copy()
    defaults["label"] = new
    points_layer.feature_defaults = defaults
    return new


def collect_prompts(
    points: np.ndarray, labels: np.ndarray, boxes: list[np.ndarray], ndim: int
) -> dict[tuple[int, ...], dict]:
    """Group clicks and boxes by slice: {(leading index): dict(points=[[x, y]], labels=[..], box=[x0, y0, x1, y1])}.

    ``points``: (N, ndim) napari coordinates; ``boxes``: rectangles as (4, ndim) vertex arrays.
    A 2D image has the single key ``()``. The last box drawn on a slice wins.
    """
    prompts: dict[tuple[int, ...], dict] = {}
    points = np.asarray(points, dtype=float).reshape(-1, ndim)
    for coords, label in zip(points, np.asarray(labels).reshape(-1)):
        key = tuple(int(round(c)) for c in coords[: ndim - 2])
        entry = prompts.setdefault(key, {})
        entry.setdefault("points", []).append([coords[-1] + PIXEL_CENTRE, coords[-2] + PIXEL_CENTRE])
        entry.setdefault("labels", []).append(int(label))
    for vertices in boxes:
        vertices = np.asarray(vertices, dtype=float).reshape(-1, ndim)
        key = tuple(int(round(c)) for c in vertices[0, : ndim - 2])
        rows, cols = vertices[:, -2], vertices[:, -1]
        box = [cols.min() + PIXEL_CENTRE, rows.min() + PIXEL_CENTRE, cols.max() + PIXEL_CENTRE, rows.max() + PIXEL_CENTRE]
        prompts.setdefault(key, {})["box"] = [float(v) for v in box]
    return prompts


def prompts_from_layers(layers: PromptLayers) -> dict[tuple[int, ...], dict]:
    """All prompts of the prompt layers, grouped by slice (rectangles only among the shapes)."""
    ndim = layers.points.ndim
    labels = layers.points.features["label"].to_numpy() if len(layers.points.data) else np.empty(0)
    boxes = [
        data for data, kind in zip(layers.shapes.data, layers.shapes.shape_type) if kind == "rectangle"
    ]
    return collect_prompts(layers.points.data, labels, boxes, ndim)


def clear_prompts(layers: PromptLayers) -> None:
    """Remove every click and box (the layers themselves stay)."""
    layers.points.data = np.empty((0, layers.points.ndim))
    if len(layers.shapes.data):
        layers.shapes.selected_data = set(range(len(layers.shapes.data)))
        layers.shapes.remove_selected()
