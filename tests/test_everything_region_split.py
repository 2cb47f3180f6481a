"""Cutting under-split proposals at their necks (proposals/region_split.py)."""

from __future__ import annotations

import numpy as np

from napari_ruac.proposals.region_split import neck_cut, split_undersplit


def _discs(shape=(100, 220)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    first = (yy - 50) ** 2 + (xx - 40) ** 2 <= 20**2
    second = (yy - 50) ** 2 + (xx - 74) ** 2 <= 20**2  # overlaps the first: one blob with a waist
    ellipse = (yy - 50) ** 2 / 22**2 + (xx - 160) ** 2 / 40**2 <= 1  # one elongated object: convex
    return first, second, ellipse


def test_a_region_holding_two_touching_discs_is_cut_between_them():
    first, second, ellipse = _discs()
    regions = np.zeros(first.shape, np.int32)
    regions[first | second] = 1
    regions[ellipse] = 2
    out = split_undersplit(regions.copy())
    only_first, only_second = first & ~second, second & ~first
    a, b = np.bincount(out[only_first]).argmax(), np.bincount(out[only_second]).argmax()
    assert a != b and {a, b} >= {1} and out.max() == 3  # the pair is two regions, the new one gets id 3
    assert (out[only_first] == a).mean() > 0.95 and (out[only_second] == b).mean() > 0.95
    assert (out[ellipse] == 2).all()  # a convex region stays whole
    assert (out[~(first | second | ellipse)] == 0).all()


def test_small_or_convex_regions_stay_whole():
    first, second, ellipse = _discs()
    assert neck_cut(ellipse) is None
    pieces = neck_cut(first | second)
    assert pieces is not None and pieces.max() == 2
    # the same pair, small beside three large regions (under 0.8 × the median area): one irregular object
    regions = np.zeros((300, 300), np.int32)
    yy, xx = np.mgrid[:300, :300]
    for k, cx in enumerate((60, 150, 240), start=1):
        regions[(yy - 220) ** 2 + (xx - cx) ** 2 <= 40**2] = k
    small = np.zeros_like(regions, bool)
    small[:100, :220] = first | second
    regions[small] = 4
    out = split_undersplit(regions.copy())
    assert (out == regions).all()


def test_nothing_to_split():
    empty = np.zeros((20, 20), np.int32)
    assert (split_undersplit(empty.copy()) == 0).all()
