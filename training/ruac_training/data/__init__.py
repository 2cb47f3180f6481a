"""Training data: on-disk layouts → objects → model-ready tensors → resumable loaders."""

from .clips import ClipDataset, build_clip_datasets
from .dataset import ObjectDataset, to_tensors
from .loader import ResumableSampler, build_datasets, build_loader, split_items
from .objects import extract_objects
from .readers import DataError, read_array
from .sources import (
    SOURCE_TYPES,
    FolderSource,
    MoseSource,
    NiftiSource,
    RawSample,
    Source,
    SyntheticSource,
    TiffStackSource,
    build_source,
)

__all__ = [
    "ClipDataset",
    "build_clip_datasets",
    "SOURCE_TYPES",
    "DataError",
    "FolderSource",
    "MoseSource",
    "NiftiSource",
    "ObjectDataset",
    "RawSample",
    "ResumableSampler",
    "Source",
    "SyntheticSource",
    "TiffStackSource",
    "build_datasets",
    "build_loader",
    "build_source",
    "extract_objects",
    "read_array",
    "split_items",
    "to_tensors",
]
