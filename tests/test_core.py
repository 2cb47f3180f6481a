"""The ground layer: boxes, the object rule, intensity and overlap (numpy only, no model)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import napari_ruac.core
from napari_ruac.core import (
    Intensity, box_on_largest_slice, ct_normalise, ct_range, dice, grown_box, iou, object_masks, tight_box, to_model_frame,
)


def test_tight_and_grown_boxes():
    mask = np.zeros((20, 30), bool)
    mask[4:9, 10:25] = True
    assert tight_box(mask) == [10.0, 4.0, 25.0, 9.0]  # x1, y1 one past the last pixel
    assert grown_box(mask, margin=0.2) == [7.0, 2.0, 28.0, 11.0]  # 0.2 × 15 = 3 px in x, at least 2 in y
    edge = np.zeros((20, 30), bool)
    edge[0:3, 27:30] = True
    assert grown_box(edge) == [25.0, 0.0, 30.0, 5.0]  # clipped to the image
    assert grown_box(np.zeros((5, 5), bool)) is None
    with pytest.raises(ValueError, match="empty"):
        tight_box(np.zeros((5, 5), bool))


def test_box_on_largest_slice_and_model_frame():
    volume = np.zeros((4, 10, 10), bool)
    volume[1, 2:4, 2:4] = True
    volume[3, 1:8, 5:9] = True
    assert box_on_largest_slice(volume) == (3, [5.0, 1.0, 9.0, 8.0])
    assert box_on_largest_slice(volume[1]) == (0, [2.0, 2.0, 4.0, 4.0])
    assert to_model_frame([[50, 10]], (20, 100), 1024).tolist() == [[512.0, 512.0]]


def test_one_object_rule_for_every_mode():
    labels = np.zeros((40, 40), np.uint16)
    labels[2:10, 2:10] = 7
    labels[20:30, 20:30] = 300
    assert [m.sum() for m in object_masks(labels, 0)] == [64, 100]  # label ids in increasing order
    binary = np.zeros((40, 40), np.uint8)
    binary[5:15, 5:12] = 255
    binary[5:15, 13:20] = 255  # a 1-px gap: closing bridges it, the AND keeps it background
    binary[30:33, 30:33] = 255  # 9 px: not more than min_area
    (component,) = object_masks(binary, 20)
    assert component.sum() == 140 and not component[:, 12].any()
    rgb = np.zeros((40, 40, 3), np.uint8)
    rgb[2:10, 2:10] = (255, 0, 0)
    rgb[20:30, 30:33] = (255, 0, 0)  # the same colour, apart: its own component
    rgb[20:30, 20:29] = (0, 0, 255)
    assert sorted(m.sum() for m in object_masks(rgb, 10)) == [30, 64, 90]
    with pytest.raises(ValueError, match="colour"):
        object_masks(labels, 0, "colour")


def test_overlap_empty_rule_and_values():
    a, b = np.zeros(10, bool), np.zeros(10, bool)
    assert iou(a, b) == 1.0 and dice(a, b) == 1.0 and iou(a, b, empty=0.0) == 0.0
    a[:6], b[3:9] = True, True
    assert iou(a, b) == pytest.approx(3 / 9) and dice(a, b) == pytest.approx(6 / 12)


def test_intensity_and_ct_rule():
    assert Intensity.parse([-160, 240]).value_range(np.zeros(3)) == (-160.0, 240.0)
    assert Intensity().value_range(np.arange(256, dtype=np.uint8)) == (0.0, 255.0)
    rng = np.random.default_rng(0)
    volume = rng.normal(-800, 50, (4, 20, 20)).astype(np.float32)
    volume[:, 5:15, 5:15] = rng.normal(40, 20, (4, 10, 10))
    body = volume > volume.mean()
    low, high = ct_range(volume)  # no mask given: voxels above the mean are the foreground
    assert (low, high) == pytest.approx(tuple(np.percentile(volume[body].astype(np.float64), (0.05, 99.95))))
    z = ct_normalise(volume)
    assert abs(z[body].mean()) < 0.05 and abs(z[body].std() - 1) < 0.05
    assert ct_range(volume, body, window=(0, 30))[1] <= 30
    assert not ct_normalise(np.full((2, 3, 3), 5.0)).any()  # a constant volume has no foreground


def test_core_imports_only_numpy_scipy_and_itself():
    """core is the ground: no torch, no napari, no other napari_ruac package (read from the source)."""
    allowed = {"__future__", "dataclasses", "numpy", "scipy", "typing"}
    for path in (Path(napari_ruac.core.__file__).parent).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [] if node.level == 1 else [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_grown_box_in_a_window_equals_grown_box_of_the_full_mask():
    from napari_ruac.core.boxes import grown_box, grown_box_in

    full = np.zeros((50, 60), bool)
    full[3:20, 40:59] = True
    full[10, 20] = False
    window = (slice(3, 20), slice(40, 59))
    for margin, min_margin in ((0.1, 2), (0.5, 0), (0.0, 5)):
        assert grown_box_in(full[window], window, full.shape, margin, min_margin) == grown_box(full, margin, min_margin)
    assert grown_box_in(np.zeros((2, 2), bool), (slice(0, 2), slice(0, 2)), (5, 5)) is None
