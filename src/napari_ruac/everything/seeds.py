"""Where to prompt: object seeds from the model's own foreground.

One decode of the whole-tile box gives a foreground probability (the model segments "what is in
the box": every object of the tile). Its distance transform, split by a watershed from its local
maxima, proposes one box (and centre) per object, which the model then segments one by one: one
decode per object instead of many clicks, and boxes are the prompt small models segment best.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..core.boxes import grown_box_in
from ..proposals.blobs import labelled_regions


def object_seeds(foreground: np.ndarray, min_distance: int = 4, min_area: int = 12, depth: float = 0.0) -> list[tuple[list[float], list[float]]]:
    """[(box [x0, y0, x1, y1], centre [x, y])] for the objects a boolean foreground seems to hold."""
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    foreground = np.asarray(foreground, bool)
    if not foreground.any():
        return []
    distance = ndimage.distance_transform_edt(foreground)
    if depth > 0:  # maxima at least ``depth`` px above their surroundings: an elongated object is one seed
        from skimage.morphology import h_maxima

        markers, count = ndimage.label(h_maxima(distance, depth))
        peaks = np.array([np.round(c).astype(int) for c in ndimage.center_of_mass(distance > 0, markers,
                                                                                   range(1, count + 1))]).reshape(-1, 2)
    else:
        components, _ = ndimage.label(foreground)
        peaks = peak_local_max(distance, min_distance=max(1, int(min_distance)), labels=components,
                               exclude_border=False)
        markers = np.zeros(foreground.shape, np.int32)
        markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    regions = watershed(-distance, markers, mask=foreground)
    seeds = []
    for index, window, region in labelled_regions(regions, min_area):
        y, x = peaks[index - 1]
        seeds.append((grown_box_in(region, window, regions.shape), [float(x) + 0.5, float(y) + 0.5]))
    return seeds
