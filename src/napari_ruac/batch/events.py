"""Events of a batch run (``iter_batch`` yields them; the CLI turns them into tqdm bars). Slice steps of
the volume being segmented are the common ``core.progress.Progress`` (stage ``slice``, ``item`` = file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .volume import VolumeOutcome


@dataclass
class BatchStarted:
    """Inputs found; ``pending`` will be processed, ``skipped`` were finished by an earlier run."""

    inputs: list[str]
    pending: list[str]
    skipped: list[str]
    report: Path


@dataclass
class VolumeStarted:
    volume: str
    index: int  # 1-based among the pending volumes
    total: int


@dataclass
class VolumeDone:
    """One pending volume finished (ok or failed); ``done`` of ``total`` pending volumes so far."""

    outcome: VolumeOutcome
    done: int
    total: int


@dataclass
class BatchSummary:
    """The end of a run: counts, failures with their messages, where the report is."""

    inputs: int
    ok: int
    failed: int
    skipped: int
    report: Path
    seconds: float
    failures: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        counts = f"{self.ok} ok, {self.failed} failed, {self.skipped} already done (of {self.inputs})"
        return f"{counts} in {self.seconds:.1f} s; report: {self.report}"
