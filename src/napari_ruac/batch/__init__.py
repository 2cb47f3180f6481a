"""Batch segmentation of many images/volumes: prompts from a file, label files or a template; mask and
uncertainty files in the inputs' geometry; ``report.csv``; resumable; locally or on Dask.

``run_batch(inputs, out_dir, prompts=..., model=...)`` from scripts, ``napari-ruac batch`` from a shell.
"""

from .events import BatchStarted, BatchSummary, VolumeDone, VolumeStarted
from .model_spec import ModelSpec
from .prompts import BatchPromptError, LabelPrompts, PromptFile, TemplatePrompt
from .report import COLUMNS as REPORT_COLUMNS
from .report import read_report
from .runner import BatchInputError, iter_batch, list_inputs, run_batch
from .state import BatchStateError
from .stats import ReviewRule
from .volume import BatchSettings, VolumeOutcome, iter_volume, process_volume

__all__ = [
    "REPORT_COLUMNS",
    "BatchInputError",
    "BatchPromptError",
    "BatchSettings",
    "BatchStarted",
    "BatchStateError",
    "BatchSummary",
    "LabelPrompts",
    "ModelSpec",
    "PromptFile",
    "ReviewRule",
    "TemplatePrompt",
    "VolumeDone",
    "VolumeOutcome",
    "VolumeStarted",
    "iter_batch",
    "iter_volume",
    "list_inputs",
    "process_volume",
    "read_report",
    "run_batch",
]
