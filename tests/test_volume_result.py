"""The one volume assembler: most probable object wins a voxel, maxima of probability and uncertainty."""

from __future__ import annotations

import numpy as np

from napari_ruac.inference import SliceResult, VolumeAssembly


def _item(z, object_id, mask, probability, uncertainty, done=1, total=3):
    return SliceResult(z, object_id, mask, np.float32(probability) * np.ones(mask.shape, np.float32),
                       np.float32(uncertainty) * np.ones(mask.shape, np.float32), 0.9, 1.0, z == 0, done, total)


def test_objects_share_a_slice_by_probability_and_scores_are_kept():
    left, right = np.zeros((4, 6), bool), np.zeros((4, 6), bool)
    left[:, :4], right[:, 2:] = True, True  # columns 2–3 claimed by both
    assembly = VolumeAssembly((2, 4, 6))
    assembly.add(_item(0, 1, left, 0.6, 0.2, 1))
    assembly.add(_item(0, 2, right, 0.8, 0.5, 2))
    assembly.add(_item(1, 1, np.zeros((4, 6), bool), 0.0, 0.1, 3))
    result = assembly.result()
    assert result.complete and result.labels[0, 0].tolist() == [1, 1, 2, 2, 2, 2]  # the overlap goes to p = 0.8
    assert result.uncertainty[0].max() == np.float32(0.5) and not result.mask[1].any()
    assert [(s["object_id"], s["z"], s["area"]) for s in result.slice_scores] == [(1, 0, 16), (1, 1, 0), (2, 0, 16)]


def test_a_2d_image_is_one_slice_and_a_cancelled_run_is_incomplete():
    mask = np.zeros((3, 3), bool)
    mask[1, 1] = True
    assembly = VolumeAssembly((3, 3))
    assembly.add(_item(0, 7, mask, 0.9, 0.3, 1, 2))
    result = assembly.result()
    assert result.labels.tolist() == [[0, 0, 0], [0, 7, 0], [0, 0, 0]]
    assert not result.complete  # one of two announced results arrived
