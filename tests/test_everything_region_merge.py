"""Merging over-split proposals (proposals/region_merge.py) and proposing what masks left over (image.py)."""

from __future__ import annotations

import numpy as np

from napari_ruac.proposals.region_merge import merge_oversplit, touching_pairs


def _scene(shape=(120, 200)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    ellipse = (yy - 60) ** 2 / 22**2 + (xx - 55) ** 2 / 40**2 <= 1  # one elongated nucleus
    left = (yy - 60) ** 2 + (xx - 135) ** 2 <= 20**2  # two touching round nuclei, dim where they meet
    right = ((yy - 60) ** 2 + (xx - 171) ** 2 <= 20**2) & ~left
    image = np.full(shape, 20.0)
    image[ellipse] = 150
    image[left | right] = 150
    valley = (np.abs(xx - 154) <= 3) & (left | right)
    image[valley] = 70
    return image, ellipse, left, right


def test_two_halves_of_one_ellipse_merge_and_two_touching_nuclei_do_not():
    image, ellipse, left, right = _scene()
    regions = np.zeros(image.shape, np.int32)
    xx = np.arange(image.shape[1])[None, :].repeat(image.shape[0], 0)
    regions[ellipse & (xx < 55)] = 1  # the watershed cut the ellipse across its middle
    regions[ellipse & (xx >= 55)] = 2
    regions[left] = 3
    regions[right] = 4
    assert set(touching_pairs(regions)) == {(1, 2), (3, 4)}
    merged = merge_oversplit(regions.copy(), image, regions > 0)
    assert len(np.unique(merged[ellipse])) == 1  # one region for the ellipse
    assert merged[left].max() == 3 and merged[right].min() == 4  # the pair stays apart
    assert merged[left].min() == 3 and merged[right].max() == 4


def test_a_bright_border_alone_does_not_merge_a_notched_union():
    # two touching discs without a valley between them still meet at a notch: not convex enough
    image, _, left, right = _scene()
    image[(left | right)] = 150  # no valley
    regions = np.zeros(image.shape, np.int32)
    regions[left], regions[right] = 1, 2
    merged = merge_oversplit(regions.copy(), image, regions > 0)
    assert merged[left].max() == 1 and merged[right].min() == 2


def _bent_nucleus(shape=(120, 200)):
    """A bean-shaped nucleus (union solidity 0.91: under the convex rule's 0.94) cut in two across its middle."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    bean = ((xx - 60) / 42.0) ** 2 + ((yy - 50 - 0.012 * (xx - 60) ** 2) / 20.0) ** 2 <= 1
    image = np.where(bean, 150.0, 20.0)
    regions = np.zeros(shape, np.int32)
    regions[bean & (xx < 60)] = 1
    regions[bean & (xx >= 60)] = 2
    return image, regions, bean, xx


def test_the_halves_of_a_bent_nucleus_merge_where_there_is_no_neck():
    from skimage.morphology import convex_hull_image

    from napari_ruac.proposals.region_merge import MIN_NECK, MIN_SOLIDITY, neck_ratio

    image, regions, bean, _ = _bent_nucleus()
    assert bean.sum() / convex_hull_image(bean).sum() < MIN_SOLIDITY  # the convex rule alone keeps them apart
    edge = np.zeros(bean.shape, bool)
    edge[:, 59:61] = bean[:, 59:61]
    assert neck_ratio(regions == 1, regions == 2, edge) >= MIN_NECK
    merged = merge_oversplit(regions.copy(), image, bean)
    assert len(np.unique(merged[bean])) == 1


def test_a_valley_keeps_the_halves_apart_even_without_a_neck():
    image, regions, bean, xx = _bent_nucleus()
    image[bean & (np.abs(xx - 60) <= 2)] = 60  # dim where they meet: two objects
    merged = merge_oversplit(regions.copy(), image, bean)
    assert merged[regions == 1].max() == 1 and merged[regions == 2].min() == 2


def test_merging_needs_a_background():
    image, ellipse, *_ = _scene()
    regions = np.ones(image.shape, np.int32)
    assert merge_oversplit(regions.copy(), image, np.ones(image.shape, bool)).max() == 1
    empty = np.zeros(image.shape, np.int32)
    assert merge_oversplit(empty.copy(), image, np.zeros(image.shape, bool)).max() == 0


def test_what_a_mask_left_of_a_proposal_is_proposed_again(tiny_model):
    from napari_ruac.everything import EverythingRun

    yy, xx = np.mgrid[:128, :128]
    first = (yy - 40) ** 2 + (xx - 40) ** 2 <= 14**2
    second = ((yy - 40) ** 2 + (xx - 66) ** 2 <= 14**2) & ~first  # touching: one proposal holds both
    other = (yy - 100) ** 2 + (xx - 100) ** 2 <= 14**2  # another tile's proposal, not decoded yet
    speck = (yy - 100) ** 2 + (xx - 30) ** 2 <= 3**2
    image = np.where(first | second | other | speck, 180, 20).astype(np.uint8)
    run = EverythingRun(tiny_model, image)
    run._regions = np.zeros(image.shape, np.int32)
    run._regions[first | second] = 1
    run._regions[other] = 2
    run._regions[speck] = 3
    run._covered[first] = True  # the decoded mask of proposal 1 took only the first disc
    areas = np.bincount(run._regions.ravel())[1:]
    run._median_area, run._next_region = float(np.median(areas)), 3  # as the run sets them after its proposals
    seeds = run._leftover_seeds((0, 0, 128, 128), decoded=[([20, 20, 86, 60], [53, 40], 1), ([90, 90, 96, 96], [93, 93], 3)])
    assert len(seeds) == 1  # the second disc; not the other tile's proposal, not the speck under the share
    box, centre, index = seeds[0]
    assert index == 4 and (run._regions == 4).sum() > 0.8 * second.sum()
    assert box[0] <= 52 <= 66 <= centre[0] + 3 and box[2] >= 80 and box[1] <= 26 and box[3] >= 54
    assert (run._regions == 2).sum() == other.sum()
    assert not run._leftover_seeds((0, 0, 128, 128), decoded=[])
