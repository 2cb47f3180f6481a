"""The ground every other part may use (numpy/scipy only): boxes and prompt coordinates, the one
object-splitting rule, intensity windows and the CT rule, mask overlap.

Nothing here imports torch, napari or another ``napari_ruac`` package.
"""

from .boxes import box_on_largest_slice, grown_box, largest_slice, tight_box, to_model_frame
from .intensity import CT_WINDOWS, Intensity, ct_normalise, ct_range, percentile_range, stretch, to_unit_rgb
from .objects import connected_objects, default_min_area, object_masks, split_objects
from .overlap import dice, iou
from .progress import Progress

__all__ = [
    "CT_WINDOWS", "Intensity", "Progress", "box_on_largest_slice", "connected_objects", "ct_normalise", "ct_range",
    "default_min_area", "dice", "grown_box", "iou", "largest_slice", "object_masks", "percentile_range",
    "split_objects", "stretch", "tight_box", "to_model_frame", "to_unit_rgb",
]
