"""Benchmarking the uncertainty methods on annotated datasets (``napari-ruac evaluate``).

``run_evaluation(data, methods, model, out)`` is a generator of events
(``core.progress.Progress`` per file, milestones in ``events.py``); it writes
per-row CSVs, summaries with Wilcoxon p-values, and PNG plots, and resumes where it stopped.
"""

from .datasets import DatasetError, find_pairs, iter_items
from .runner import EvaluationSettings, run_evaluation

__all__ = [
    "DatasetError",
    "EvaluationSettings",
    "find_pairs",
    "iter_items",
    "run_evaluation",
]
