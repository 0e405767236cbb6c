"""What a leaderboard is made of: benchmark definitions, measured runs, reported rows, sections."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from bench.api.evaluation import EvaluationSpecs, ResolvedMetric
from bench.results.schema import RunResult

ABLATION_GRID_AXES = ("layer", "t")  # an ablation table crosses these; every other setting is fixed
IDENTITY_KEYS = ("prompt_content", "probe_content")
"""Configuration keys that identify a run's inputs by content (a trained prompt's or probe's hash,
which follows from its training settings, layer, t and dataset): they name its results file and
show in its footnote, but tables neither group nor tell runs apart by them."""
DEFINITION_FACTS = ("num_queries", "num_gallery", "gallery_unique", "per_class_gallery")
"""Dataset facts of a results file that belong to the benchmark definition (the gallery as scored)."""


def settings(config: dict[str, Any], leaving_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """The settings of ``config`` that describe a configuration: all but ``leaving_out`` and
    :data:`IDENTITY_KEYS`."""
    return {k: v for k, v in config.items() if k not in leaving_out and k not in IDENTITY_KEYS}


@dataclass(frozen=True)
class ReportedRow:
    """One published result: what a paper (``source``) reports for ``method`` on ``dataset``, a
    benchmark of ``task``.

    Metric names and units follow results files (each metric in its registered unit). ``arxiv`` is
    the paper's arXiv id; ``protocol`` the split, gallery and metric convention it used.
    """

    dataset: str
    method: str
    backbone: str
    source: str
    metrics: dict[str, float]
    task: str
    arxiv: str | None = None
    protocol: str | None = None


@dataclass(frozen=True)
class Definition:
    """Everything that defines a benchmark, so that only comparable numbers share a ranking: task,
    dataset, its options, the ``--limit`` subset and the gallery as scored (query and gallery
    counts, uniqueness, per-class galleries). ``options`` is canonical JSON of the options."""

    task: str
    dataset: str
    options: str = "{}"
    limit: int | None = None
    facts: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, result: RunResult) -> Definition:
        """The definition of the benchmark ``result`` was measured on."""
        options = json.dumps(result.config.get("dataset_options") or {}, sort_keys=True)
        facts = tuple((key, result.dataset[key]) for key in DEFINITION_FACTS if key in result.dataset)
        return cls(result.task, str(result.dataset["id"]), options, result.config.get("limit"), facts)

    @property
    def standard(self) -> bool:
        """The dataset as its adapter defines it (no options, no limit): what papers report on."""
        return self.options == "{}" and self.limit is None

    @property
    def option_values(self) -> dict[str, Any]:
        return json.loads(self.options)

    def sort_key(self) -> tuple:
        return (not self.standard, self.options, self.limit or 0, json.dumps(self.facts, default=str))


@dataclass(frozen=True)
class Run:
    """A measured run: its results file's name, its link target and its contents."""

    name: str
    link: str
    result: RunResult

    def interval(self, metric: str) -> tuple[float, float] | None:
        """The run's 95% interval of ``metric``, or None when its results file has none."""
        bounds = (self.result.intervals or {}).get("bounds", {}).get(metric)
        return (float(bounds[0]), float(bounds[1])) if bounds else None


@dataclass(frozen=True)
class Ablation:
    """Runs of one backbone that differ only in layer and timestep, and the metric they are compared on."""

    metric: str
    runs: tuple[Run, ...]

    @property
    def config(self) -> dict[str, Any]:
        """The settings every run of the ablation shares."""
        return settings(self.runs[0].result.config, ABLATION_GRID_AXES)


@dataclass(frozen=True)
class LeaderboardSection:
    """Everything shown for one benchmark definition: its paper columns, measured runs (best first),
    the reported rows (for the standard definition of a dataset), the chance levels, and the
    registered metrics and tasks they are read with (``specs``)."""

    definition: Definition
    columns: tuple[str, ...]
    runs: tuple[Run, ...]
    reported: tuple[ReportedRow, ...]
    specs: EvaluationSpecs
    chance: dict[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())
    label: str = ""
    """The section's name in headings, pivot columns and exports, unique among the sections of one
    leaderboard (see :func:`bench.results.leaderboard.sections.unique_labels`)."""

    @property
    def task(self) -> str:
        return self.definition.task

    @property
    def dataset(self) -> str:
        return self.definition.dataset

    def metric(self, name: str) -> ResolvedMetric:
        """The registered metric of ``name`` (every name of a section was checked when read)."""
        return self.specs.metric(name)

    @property
    def main_metric(self) -> str | None:
        """The first paper column (the first metric of the runs when the dataset declares none)."""
        if self.columns:
            return self.columns[0]
        names = sorted({name for run in self.runs for name in run.result.metrics})
        return names[0] if names else None


def is_number(value: object) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def best_first(value: object, metric: ResolvedMetric | None) -> tuple[int, float]:
    """Sort key placing the best numbers first in ``metric``'s direction (larger first without
    one), and non-numbers last."""
    if not is_number(value):
        return (1, 0.0)
    return (0, metric.best_first(value) if metric is not None else -value)  # type: ignore[operator]


@dataclass(frozen=True)
class Leaderboard:
    """What a leaderboard format renders (:class:`bench.LeaderboardFormat`).

    Attributes:
        sections: one per benchmark definition, in page order (runs best first, reported rows,
            chance levels, paper columns).
        specs: the registered metrics and tasks (units, directions, digits, titles).

    ``bench.leaderboard_data(leaderboard)`` gives the same as plain data (the ``json`` format's
    document).
    """

    sections: list[LeaderboardSection]
    specs: EvaluationSpecs
