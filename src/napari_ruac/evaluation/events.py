"""Events of an evaluation run (``run_evaluation`` yields them; the CLI turns them into a tqdm bar).
Files done of the run's total are the common ``core.progress.Progress`` (stage ``file``,
``item`` = "dataset/file"); these mark the run's milestones around it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EvaluationStarted:
    """Datasets found; ``total`` image/mask files will be visited; results go to ``out``."""

    datasets: list[str]
    total: int
    out: str


@dataclass
class ImageDone:
    """One image of ``dataset``: rows ``computed`` now, ``skipped`` (finished by an earlier run)."""

    dataset: str
    image: str
    objects: int
    computed: int
    skipped: int


@dataclass
class DatasetDone:
    """A dataset's tables and plots are written; ``files[1]`` is its summary.md."""

    dataset: str
    rows: int
    files: list[str]


@dataclass
class EvaluationDone:
    """The run's end: the overall summary and every file written."""

    out: str
    files: list[str]
