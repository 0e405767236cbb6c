"""What a leaderboard is made of: measured runs, reported rows, ablations, sections."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bench.results.schema import RunResult, is_accuracy

ABLATION_AXES = ("layer", "t")  # an ablation table crosses these; every other setting is fixed


@dataclass(frozen=True)
class ReportedRow:
    """One published result: what a paper (``source``) reports for ``method`` on ``dataset``.

    Metric names and units follow results files: zs-sbir values are fractions, Acc@K values x100.
    """

    dataset: str
    method: str
    backbone: str
    source: str
    metrics: dict[str, float]

    @property
    def task(self) -> str:
        """``"fg-sbir"`` when the row reports Acc@K (fine-grained) metrics, else ``"zs-sbir"``."""
        return "fg-sbir" if any(is_accuracy(name) for name in self.metrics) else "zs-sbir"


@dataclass(frozen=True)
class Run:
    """A measured run: its results file's name, its link target and its contents."""

    name: str
    link: str
    result: RunResult


@dataclass(frozen=True)
class Ablation:
    """Runs of one backbone that differ only in layer and timestep, and the metric they are compared on."""

    metric: str
    runs: tuple[Run, ...]

    @property
    def config(self) -> dict[str, Any]:
        """The settings every run of the ablation shares."""
        return {k: v for k, v in self.runs[0].result.config.items() if k not in ABLATION_AXES}


@dataclass(frozen=True)
class Section:
    """Everything shown for one (task, dataset)."""

    task: str
    dataset: str
    columns: tuple[str, ...]
    runs: tuple[Run, ...]
    reported: tuple[ReportedRow, ...]


def is_number(value: object) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
