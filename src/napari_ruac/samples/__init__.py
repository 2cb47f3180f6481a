"""Offline, seeded sample data with exact labels: a fluorescence nuclei stack and a CT phantom."""

from .ct import ct_phantom
from .nuclei import nuclei_image, nuclei_stack
from .volume import SampleVolume, relabel_sequential, spacing_affine

__all__ = ["SampleVolume", "ct_phantom", "nuclei_image", "nuclei_stack", "relabel_sequential", "spacing_affine"]
