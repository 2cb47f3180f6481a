"""Where to prompt, from the image itself: one box per blob-like object (nuclei, spots, coins).

The model's own whole-tile foreground (seeds.py) misses dim objects and small models segment a
box much better than a click, so segment-everything first proposes boxes from the intensities:

1. grey image (channel mean), smoothed (σ = 1 px); foreground = above Li's threshold, or below it
   for dark objects on a bright background (``polarity``: the sign of the histogram's skewness);
2. the typical object radius ``r`` = median over foreground components of their largest inscribed
   radius (distance transform maximum);
3. one marker per local maximum of the scale-normalised Laplacian of Gaussian (σ = 0.7 r / √2, the
   blob detector's scale for blobs a bit smaller than the typical one) at least 0.6 r apart:
   touching objects that a distance transform merges still have separate LoG peaks;
4. a watershed of −LoG from the markers inside the foreground: one region, hence one box, per object;
5. touching regions that together look like one convex blob with no dim valley between them, or that meet
   without a neck, are merged (region_merge.py): an elongated nucleus or a cell can get two LoG markers;
6. a large region that is not convex and has two distance-transform maxima is cut at its neck (region_split.py):
   the LoG can miss the second of two touching nuclei;
7. each region is cut back to where it is ≥ 30 % of the way from the background to its own bright level
   (``half_maximum``): the glow of a bright nucleus lies above the global threshold;
8. a region whose edge does not stand out of a ring just outside it by ``MIN_CONTRAST`` noise σ is dropped
   (``without_faint``): on an unevenly lit background the global threshold cuts the bright end of the
   background itself into regions.

Each box is then segmented by the model (image.py), which fixes the boundary; the boxes only have
to find and separate the objects. Tuned on generated nuclei scenes (seeds 7260001–7260030), never
on the benchmark's held-out seeds or the real sets.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..core.boxes import grown_box_in
from .region_merge import merge_oversplit
from .region_split import split_undersplit

LOG_SCALE = 0.7  # σ of the LoG in units of r / √2
PEAK_DISTANCE = 0.6  # least distance between two markers, in units of r
BOX_MARGIN = 0.1  # the box prompt: the region's box grown by this share of its side (at least 2 px)
MIN_POPULATION = 4  # fewer components than this (specks aside): one region each, no splitting
MERGE = True  # step 5 (region_merge.py)
SPLIT = True  # step 6 (region_split.py)
HALF_MAXIMUM = 0.3  # step 7: each region's edge at this share of its own step above the background (0: off)
CLEAR_SKEW = 0.5  # polarity: the histogram's skewness decides when at least this large
SPECK = 0.02  # components under this share of the largest one's area do not set r
MIN_CONTRAST = 1.0  # step 8: a region must stand out of its surroundings by this many noise σ (0: off)


def grey(image: np.ndarray) -> np.ndarray:
    """float32 (H, W): the channel mean of an (H, W) or (H, W, C) image."""
    array = np.asarray(image, np.float32)
    return array.mean(-1) if array.ndim == 3 else array


def polarity(smoothed: np.ndarray, high: np.ndarray) -> bool:
    """Whether the objects are the bright class ``high`` (else dark objects on a bright background).

    Objects are the tail of the intensity histogram: when its skewness is clear (|skew| ≥ ``CLEAR_SKEW``) its
    sign decides (bright nuclei on a dark field: positive; dark cells on a bright field: negative). Otherwise
    the background is the larger class when the split is clear (one class under 40 % of the image); when both
    are about half, it is the class the image border holds more of than its share (objects are cut by the
    border, the background surrounds them). The skewness comes first because a small crowded crop of blurred
    nuclei (StarDist's 3D stack, 61 × 57 px per slice) has Li's threshold put 41 % of the image in the bright
    class and its border full of nuclei: the older rules took the nuclei for the background."""
    step = max(1, max(smoothed.shape) // 1024)
    sample = smoothed[::step, ::step].astype(np.float64).ravel()
    spread = float(sample.std())
    if spread > 0:
        skew = float(np.mean(((sample - sample.mean()) / spread) ** 3))
        if abs(skew) >= CLEAR_SKEW:
            return skew > 0
    share = float(high.mean())
    if abs(share - 0.5) > 0.1:
        return share < 0.5
    border = np.concatenate([high[0], high[-1], high[:, 0], high[:, -1]]).mean()
    return border / max(share, 1e-6) < (1 - border) / max(1 - share, 1e-6)


def foreground(image: np.ndarray, min_area: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """(foreground bool (H, W), the smoothed grey image with the objects bright)."""
    from skimage.filters import threshold_li
    from skimage.morphology import remove_small_objects

    smoothed = ndimage.gaussian_filter(grey(image), 1.0)
    if float(np.ptp(smoothed)) == 0.0:
        return np.zeros(smoothed.shape, bool), smoothed
    # Li's iteration stops within this tolerance (its default, half the least step between two values, makes it
    # crawl for minutes on a smoothed float image of a wide range: CT in HU)
    high = smoothed > threshold_li(smoothed, tolerance=float(np.ptp(smoothed)) / 65536)
    if not polarity(smoothed, high):
        high, smoothed = ~high, -smoothed
    mask = ndimage.binary_opening(high, iterations=1)
    mask = remove_small_objects(mask, max_size=max(2, int(min_area)))
    return ndimage.binary_fill_holes(mask), smoothed


def typical_radius(distance: np.ndarray, components: np.ndarray, count: int) -> float:
    """The median inscribed radius of the foreground components, specks (under 2 % of the largest
    component's area) left out: a dense clump of objects counts as one, a speck of noise not at all."""
    index = np.arange(1, count + 1)
    radii = np.asarray(ndimage.maximum(distance, components, index), float)
    areas = np.bincount(components.ravel(), minlength=count + 1)[1:]
    return float(np.median(radii[areas >= SPECK * areas.max()]))


def blob_regions(image: np.ndarray, min_area: int = 12) -> np.ndarray:
    """int32 (H, W): one watershed region per proposed object (0 = background)."""
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    mask, smoothed = foreground(image, min_area)
    if not mask.any():
        return np.zeros(mask.shape, np.int32)
    components, count = ndimage.label(mask)
    areas = np.bincount(components.ravel(), minlength=count + 1)[1:]
    if np.count_nonzero(areas >= SPECK * areas.max()) < MIN_POPULATION:  # too few objects to know their size
        specks = np.flatnonzero(areas < SPECK * areas.max()) + 1  # and specks beside a few large objects are noise
        return np.where(np.isin(components, specks), 0, components).astype(np.int32)
    distance = ndimage.distance_transform_edt(mask)
    radius = typical_radius(distance, components, count)
    sigma = max(1.0, LOG_SCALE * radius / np.sqrt(2))
    response = -ndimage.gaussian_laplace(smoothed, sigma) * sigma**2
    floor = float(response.min())
    peaks = peak_local_max(np.where(mask, response, floor), min_distance=max(2, int(PEAK_DISTANCE * radius)),
                           labels=components, exclude_border=False)
    markers = np.zeros(mask.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    missing = np.setdiff1d(np.arange(1, count + 1), components[tuple(peaks.T)])  # a component without a peak
    for index, label in enumerate(missing, start=len(peaks) + 1):
        where = np.argwhere(components == label)
        markers[tuple(where[len(where) // 2])] = index
    regions = watershed(-response, markers, mask=mask).astype(np.int32)
    regions = merge_oversplit(regions, smoothed, mask) if MERGE else regions
    regions = split_undersplit(regions) if SPLIT else regions
    regions = half_maximum(regions, smoothed, mask) if HALF_MAXIMUM else regions
    return without_faint(regions, smoothed, noise_sigma(image)) if MIN_CONTRAST else regions


def noise_sigma(image: np.ndarray) -> float:
    """The pixel noise σ of the grey image: a robust spread (MAD) of what a σ = 2 px blur removes."""
    g = grey(image)
    residual = g - ndimage.gaussian_filter(g, 2.0)
    step = max(1, max(g.shape) // 1024)
    sample = residual[::step, ::step]
    return float(1.4826 * np.median(np.abs(sample - np.median(sample))))


def without_faint(regions: np.ndarray, smoothed: np.ndarray, noise: float) -> np.ndarray:
    """Regions whose mean stands less than ``MIN_CONTRAST`` × ``noise`` above a ring just outside them (2–4 px out,
    other regions left out) removed: on an unevenly lit background the global threshold cuts the brighter part of
    the background into regions that are no objects, and such a region does not stand out of its surroundings.
    On generated tuning scenes (seeds 7260001–40 cells, 7260001–15 nuclei) this ring contrast was ≥ 3.6 σ for 98 %
    of the regions on a true cell and ≥ 2.5 σ for 98 % of those on a nucleus, and < 2 σ for half of the false
    cell regions."""
    if noise <= 0:
        return regions
    taken = regions > 0
    for index, window in enumerate(ndimage.find_objects(regions), start=1):
        if window is None:
            continue
        grown = tuple(slice(max(0, w.start - 5), min(n, w.stop + 5)) for w, n in zip(window, regions.shape))
        inside = regions[grown] == index
        ring = ndimage.binary_dilation(inside, iterations=4) & ~ndimage.binary_dilation(inside, iterations=1)
        free = ring & ~taken[grown]
        ring = free if free.sum() >= 5 else ring & ~inside
        band = inside & ~ndimage.binary_erosion(inside, iterations=3)  # the region's own edge, 3 px deep
        if not ring.any() or not band.any():
            continue
        values = smoothed[grown]
        if float(values[band].mean() - values[ring].mean()) < MIN_CONTRAST * noise:
            regions[grown][inside] = 0
    return regions


def half_maximum(regions: np.ndarray, smoothed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each region cut back to where it is at least ``HALF_MAXIMUM`` of the way from the background up to
    its own bright level (its 95th percentile): a blurred edge lies at half its step, and one threshold for
    the whole image puts the edge of a bright nucleus far out in its glow (a mitotic nucleus' region was 3–4×
    its area, and chained to its neighbours). The largest piece of each region stays."""
    if mask.all():
        return regions
    background = float(np.median(smoothed[~mask]))
    for index, window in enumerate(ndimage.find_objects(regions), start=1):
        if window is None:
            continue
        sub = regions[window]
        inside = sub == index
        values = smoothed[window]
        level = background + HALF_MAXIMUM * (float(np.percentile(values[inside], 95)) - background)
        keep = inside & (values >= level)
        pieces, count = ndimage.label(keep)
        if count > 1:
            keep = pieces == 1 + int(np.argmax(np.bincount(pieces.ravel())[1:]))
        sub[inside & ~keep] = 0
    return regions


def blob_seeds(image: np.ndarray, min_area: int = 12) -> tuple[np.ndarray, list[tuple[list[float], list[float], int]]]:
    """(regions, [(box [x0, y0, x1, y1], centre [x, y], region id)]) in image pixels, one per proposed object."""
    regions = blob_regions(image, min_area)
    return regions, [region_seed(region, window, regions.shape, index)
                     for index, window, region in labelled_regions(regions, min_area)]


def region_seed(region: np.ndarray, window: tuple[slice, slice], shape: tuple[int, int], index: int,
                offset: tuple[int, int] = (0, 0)) -> tuple[list[float], list[float], int]:
    """(box [x0, y0, x1, y1], centre [x, y], ``index``) of a region given as its crop ``region`` at ``window``
    (slices into an array of ``shape`` that starts at ``offset`` = (row, col) in the image): its box grown by
    ``BOX_MARGIN``, in image pixels."""
    ys, xs = np.nonzero(region)
    oy, ox = offset
    centre = [float(xs.mean() + window[1].start + ox) + 0.5, float(ys.mean() + window[0].start + oy) + 0.5]
    x0, y0, x1, y1 = grown_box_in(region, window, shape, margin=BOX_MARGIN, min_margin=2)
    return [x0 + ox, y0 + oy, x1 + ox, y1 + oy], centre, index


def assign_to_windows(seeds, windows) -> dict[int, list]:
    """{window index: its seeds}: each seed goes to the first window (y0, x0, y1, x1) that holds its
    box whole, else to the one that holds most of it (a tiled run's coarse pass: the whole image); a seed
    outside every window is left out."""
    out: dict[int, list] = {}
    for seed in seeds:
        box = seed[0]

        def shared(window):
            y0, x0, y1, x1 = window
            return max(0.0, min(x1, box[2]) - max(x0, box[0])) * max(0.0, min(y1, box[3]) - max(y0, box[1]))

        whole = [i for i, (y0, x0, y1, x1) in enumerate(windows)
                 if x0 <= box[0] and y0 <= box[1] and box[2] <= x1 and box[3] <= y1]
        overlaps = [shared(w) for w in windows]
        if not whole and max(overlaps, default=0.0) <= 0:
            continue  # no window holds any of it (a run limited to some tiles)
        index = whole[0] if whole else int(np.argmax(overlaps))
        out.setdefault(index, []).append(seed)
    return out


def labelled_regions(regions: np.ndarray, min_area: int):
    """(id, bounding slices, its bool mask within them) of every region of a label image with ≥ ``min_area``
    px (crops only: an image-sized mask per region made a 4096² image with thousands of nuclei crawl)."""
    for index, window in enumerate(ndimage.find_objects(regions), start=1):
        if window is None:
            continue
        region = regions[window] == index
        if region.sum() < min_area:
            continue
        yield index, window, region
