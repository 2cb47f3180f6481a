"""Benchmarking the uncertainty methods on annotated datasets (``napari-ruac evaluate``).

``run_evaluation(data, methods, model, out)`` is a generator of progress events; it writes
per-row CSVs, summaries with Wilcoxon p-values, and PNG plots, and resumes where it stopped.
"""

from .datasets import DatasetError, ct_normalise, find_pairs, iter_items
from .objects import default_min_area, split_objects
from .runner import EvaluationSettings, run_evaluation

__all__ = [
    "DatasetError",
    "EvaluationSettings",
    "ct_normalise",
    "default_min_area",
    "find_pairs",
    "iter_items",
    "run_evaluation",
    "split_objects",
]
