"""Procedural training and domain-shift data with exact instance masks (numpy/scipy/scikit-image only).

``generate_scene(kind, seed, size, shifted)`` renders one 2D scene; ``SyntheticDataset`` indexes
scenes by (seed, index); ``write_dataset`` writes ``images/`` + ``masks/`` folders the training
and evaluation loaders read; ``generate_volume`` makes 3D nuclei stacks and CT phantoms.
"""

from .dataset import SyntheticDataset, iter_write_dataset, read_scene_files, write_dataset
from .deform import elastic_deform, elastic_field, warp
from .scenes import KINDS, Scene, generate_scene, min_object_size
from .volumes import VOLUME_KINDS, VolumeScene, generate_volume

__all__ = [
    "KINDS", "VOLUME_KINDS", "Scene", "SyntheticDataset", "VolumeScene", "elastic_deform", "elastic_field",
    "generate_scene", "generate_volume", "iter_write_dataset", "min_object_size", "read_scene_files", "warp",
    "write_dataset",
]
