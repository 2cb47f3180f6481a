"""Ground-truth masks for scikit-image's bundled real images (coins, cell, Shepp–Logan phantom),
derived by classical pipelines, written as an evaluation folder (images/ + masks/ label PNGs).

No one here drew these images; the masks come from thresholds, watershed and morphology only,
and were checked by eye on the overlay this script writes (``--overlay``): every object outline
follows the visible edge within about a pixel, one label per object. Used by
``scripts/evaluate_micro.py`` for the "real images" quality numbers; never used for training.

    python scripts/real_masks.py OUT_FOLDER [--overlay docs/micro_real_masks.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import ndimage


def coins_labels(image: np.ndarray) -> np.ndarray:
    """Coins: Sobel elevation + marker watershed (dark background < 30, coins > 150), holes filled,
    objects under 150 px dropped (specks), one label per connected coin."""
    from skimage.filters import sobel
    from skimage.morphology import remove_small_objects
    from skimage.segmentation import watershed

    elevation = sobel(image.astype(float) / 255.0)
    markers = np.zeros(image.shape, np.int32)
    markers[image < 30] = 1
    markers[image > 150] = 2
    foreground = watershed(elevation, markers) == 2
    foreground = ndimage.binary_fill_holes(foreground)
    foreground = ndimage.binary_opening(foreground, np.ones((3, 3), bool))
    foreground = remove_small_objects(foreground, max_size=150)
    labels, _ = ndimage.label(foreground)
    return labels.astype(np.int32)


def cell_labels(image: np.ndarray) -> np.ndarray:
    """The bright cell: marker watershed on the gradient of the smoothed image (σ 2), so the outline
    lies on the steepest edge between the bright cell and its dark halo. Markers: the cell's core
    (above the mean of the background median and the 99th percentile, largest component) and
    everything darker than the background median; holes filled, opened."""
    from skimage.filters import sobel
    from skimage.segmentation import watershed

    smooth = ndimage.gaussian_filter(image.astype(float), 2.0)
    background, bright = np.median(smooth), np.percentile(smooth, 99)
    core = smooth > 0.5 * (background + bright)
    parts, count = ndimage.label(core)
    if count == 0:
        raise RuntimeError("no bright object found in skimage.data.cell()")
    largest = 1 + int(np.argmax(ndimage.sum(core, parts, range(1, count + 1))))
    markers = np.ones(image.shape, np.int32)  # unknown → 0 below
    markers[smooth >= background] = 0
    markers[parts == largest] = 2
    region = watershed(sobel(smooth), markers) == 2
    cell = ndimage.binary_fill_holes(region)
    cell = ndimage.binary_opening(cell, np.ones((5, 5), bool))
    labels, _ = ndimage.label(cell)
    keep = labels == labels[tuple(np.argwhere(parts == largest)[0])]
    return keep.astype(np.int32)


def phantom_images(image: np.ndarray) -> dict[str, np.ndarray]:
    """Shepp–Logan phantom, exact by construction (flat grey levels): ``phantom_skull`` = the skull
    (the bright ring between the phantom's first two ellipses); ``phantom_inner`` = the inner
    ellipses large enough to prompt (the two dark ones and the large bright one), one label each.

    The phantom defines the skull as an object of its own, and so do our generated phantoms; a box
    around the head is ambiguous between the skull and the filled head. A first version scored the
    filled head (``head`` below): ruac-micro then segments the skull (IoU 0.10 with the filled head,
    0.75+ with the skull) — docs/micro_model.md reports both."""
    grey = image[..., 0] if image.ndim == 3 else image
    head = ndimage.binary_fill_holes(grey > 20)
    head_labels, count = ndimage.label(head)
    sizes = ndimage.sum(head, head_labels, range(1, count + 1))
    head = head_labels == 1 + int(np.argmax(sizes))
    skull = ndimage.binary_dilation(grey > 200, iterations=1)
    brain = head & ~skull
    brain = ndimage.binary_erosion(brain, iterations=2)  # away from the skull's anti-aliased edge
    inner = np.zeros(grey.shape, np.int32)
    next_id = 1
    # dark ellipses: near-black inside the brain; the bright ellipse: clearly above the brain's grey
    brain_grey = np.median(grey[brain])
    for region in (brain & (grey < 0.5 * brain_grey), brain & (grey > brain_grey + 8)):
        parts, n = ndimage.label(ndimage.binary_opening(region, np.ones((3, 3), bool)))
        for index in range(1, n + 1):
            part = ndimage.binary_fill_holes(parts == index)
            if part.sum() >= 1500:  # the large structures; the small discs are below any prompt area floor
                inner[part & (inner == 0)] = next_id
                next_id += 1
    ring = (grey > 200) & head
    parts, count = ndimage.label(ring)
    skull = parts == 1 + int(np.argmax(ndimage.sum(ring, parts, range(1, count + 1))))
    return {"phantom_skull": skull.astype(np.int32), "phantom_inner": inner}


def real_images() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{name: (uint8 image, int32 labels)} for every real evaluation image."""
    import imageio.v3 as iio
    import skimage
    from skimage import data

    coins = data.coins()
    cell = data.cell()
    phantom = np.asarray(iio.imread(Path(skimage.__file__).parent / "data" / "phantom.png"))[..., 0]
    out = {"coins": (coins, coins_labels(coins)), "cell": (cell, cell_labels(cell))}
    out.update({name: (phantom, labels) for name, labels in phantom_images(phantom).items()})
    return out


def write_real_dataset(folder: str | Path) -> Path:
    """Write ``folder/images/NAME.png`` and ``folder/masks/NAME.png`` (uint16 label ids)."""
    import imageio.v3 as iio

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    for name, (image, labels) in real_images().items():
        iio.imwrite(folder / "images" / f"{name}.png", image)
        iio.imwrite(folder / "masks" / f"{name}.png", labels.astype(np.uint16))
    return folder


def overlay_sheet(path: str | Path) -> Path:
    """One PNG with every real image and its mask outlines (red), for checking by eye."""
    import imageio.v3 as iio
    from skimage.segmentation import find_boundaries
    from skimage.transform import resize

    tiles = []
    for image, labels in real_images().values():
        rgb = np.repeat(image[..., None], 3, axis=-1).copy()
        rgb[find_boundaries(labels, mode="inner")] = (255, 0, 0)
        scale = 330 / rgb.shape[0]
        tile = resize(rgb, (330, int(round(rgb.shape[1] * scale))), order=0, preserve_range=True).astype(np.uint8)
        tiles.append(np.pad(tile, ((4, 4), (4, 4), (0, 0)), constant_values=255))
    sheet = np.concatenate(tiles, axis=1)
    iio.imwrite(path, sheet)
    return Path(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="output folder (images/ + masks/)")
    parser.add_argument("--overlay", help="also write an outline sheet PNG to check the masks by eye")
    args = parser.parse_args(argv)
    folder = write_real_dataset(args.out)
    for name, (_, labels) in real_images().items():
        sizes = np.bincount(labels.ravel())[1:]
        print(f"{name}: {labels.max()} objects, areas {sizes.min()}–{sizes.max()} px")
    if args.overlay:
        print(f"overlay: {overlay_sheet(args.overlay)}")
    print(f"wrote {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
