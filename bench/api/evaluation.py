"""The evaluation side plugins register: metrics, tasks and leaderboard formats (no numpy, no torch).

A *metric* (:class:`MetricInfo`) is a vectorised per-query computation over a chunk of rankings
(:class:`Rankings`) and what a reader needs to know about its values: unit, direction (higher or
lower is better, as lm-evaluation-harness records ``higher_is_better``), printed digits, how the
per-query values aggregate into the run's value (mean or median; a bootstrap interval recomputes
that aggregate on every resample), and its chance level (a closed form, or simulated from seeded
random rankings). A *task* (:class:`TaskInfo`) says what makes a gallery item relevant to a query,
which metrics it reports, which of them are the paper columns and which one is its main score (as
MTEB's tasks declare ``main_score``). A *leaderboard format* (:class:`LeaderboardFormat`) renders the
leaderboard of a results folder.

A metric registers a name pattern: one fixed name (``Hits@all``) or a name with a cut-off ``@K``
(``Hits@K`` stands for ``Hits@1``, ``Hits@10``, ...). :class:`EvaluationSpecs` resolves a concrete
name to its metric and K; results files, leaderboards, plots and tables read every value through it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.api.components import Target
from bench.api.errors import BenchError, closest_match, unknown_name_error

CUTOFF = "@K"
"""What stands for the cut-off in a metric's name pattern (``Hits@K``)."""
AGGREGATES = ("mean", "median")
RESAMPLE_UNITS = ("query", "class")


@dataclass(frozen=True)
class Unit:
    """How a metric's values are expressed.

    Attributes:
        name: the unit's id (``MetricInfo.unit``).
        label: its axis label (``%`` for a percentage).
        note: what a table title says about values in it (``fractions``, ``x100``).
        low, high: the valid range (``high`` None: unbounded).
        to_percent: the factor that turns a value into a percentage (None: not a share of anything).
    """

    name: str
    label: str
    note: str
    low: float
    high: float | None
    to_percent: float | None

    def contains(self, value: float) -> bool:
        return self.low <= value and (self.high is None or value <= self.high)

    def outside(self) -> str:
        """Where a value of another range lies: ``outside 0..1 (a fraction)``, ``below 1 (a rank)``."""
        where = f"outside {self.low:g}..{self.high:g}" if self.high is not None else f"below {self.low:g}"
        return f"{where} (a {self.name})"


UNITS: dict[str, Unit] = {
    unit.name: unit
    for unit in (
        Unit("fraction", "fraction", "fractions", 0.0, 1.0, 100.0),
        Unit("percentage", "%", "x100", 0.0, 100.0, 1.0),
        Unit("rank", "rank", "ranks", 1.0, None, None),
    )
}

RELEVANCE: dict[str, str] = {
    "same-class": "every gallery item with the query's label is relevant; equal similarities rank by "
    "gallery order",
    "paired": "the one gallery item whose instance equals the query's (its paired photo) is relevant; "
    "equal similarities count against the query",
    "two-labels": "every gallery item with the query's label is relevant, and the items with its second "
    "label (a cue-conflict image's texture class) are ranked as a second set; equal similarities rank "
    "by gallery order",
}
"""The relevance rules a task can name, and what each means. With a gallery split by class (a
dataset's ``group_by_label``), each query is ranked against its own class's items only."""


@dataclass(frozen=True)
class Rankings:
    """B queries' rankings, as a metric's per-query function sees them (numpy arrays).

    Attributes:
        ranks: (B, W) ascending 1-based ranks of each query's relevant gallery items among its
            candidates: int64, or float64 with ``inf`` after a query's last known relevant rank
            (fewer relevant items than W, or the rest lie beyond a top-K search).
        num_relevant: (B,) int64, R: how many relevant items each query has.
        num_candidates: (B,) int64, C: how many gallery items each query was ranked against.
        second_ranks: with ``two-labels`` relevance (None otherwise): (B, W2) ascending 1-based
            ranks of the gallery items carrying each query's second label
            (:attr:`bench.ImageItem.second_label`), in the same ranking as ``ranks``; int64, or
            float64 with ``inf`` padding (one ``inf`` column where no gallery item carries it).
        num_second: (B,) int64 (None without ``second_ranks``): how many gallery items carry each
            query's second label.
    """

    ranks: Any
    num_relevant: Any
    num_candidates: Any
    second_ranks: Any = None
    num_second: Any = None

    def __len__(self) -> int:
        return len(self.num_relevant)


@dataclass(frozen=True)
class MetricInfo:
    """A registered metric.

    Attributes:
        id: its name pattern: a fixed name (``"Hits@all"``) or one with the cut-off ``@K``
            (``"Hits@K"``); letters, digits and ``@[]-_.`` only.
        per_query: lazy ``(rankings: Rankings, k: int | None) -> (B,) float64``: each query's value
            (``k`` is the name's cut-off, None for a fixed name). Vectorised over the chunk; never
            sees a similarity matrix.
        unit: ``"fraction"`` (0..1), ``"percentage"`` (0..100) or ``"rank"`` (>= 1).
        higher_is_better: the metric's direction (required: True or False).
        description: one line for ``bench list metrics``.
        digits: decimals printed in tables and leaderboards.
        aggregate: ``"mean"`` or ``"median"`` of the per-query values over the evaluated queries;
            the bootstrap interval recomputes it on each resample of queries (or classes).
        chance: lazy closed form ``(num_relevant (N,), num_candidates (N,), k) -> (N,) float64``, the
            expected per-query value under a uniformly random ranking (``"exact"`` chance levels;
            mean-aggregated metrics only); None: simulated from seeded random rankings.
        top_k_only: whether a query's value depends only on the ranks within the top K (with R
            and C), so a top-K search (faiss) can compute it.
        partial: whether the metric is undefined for some queries: its per-query function returns
            NaN for them (a ratio such as a shape bias counts only the queries that decided for
            one of two cues), and the run's value, per-class values, interval and chance level
            cover the queries where it is defined. Mean-aggregated, chance simulated (no closed
            form); a run where it is defined for no query is an error.
    """

    id: str
    per_query: Target
    unit: str
    higher_is_better: bool | None = None
    description: str = ""
    digits: int = 3
    aggregate: str = "mean"
    chance: Target | None = None
    top_k_only: bool = False
    partial: bool = False

    @property
    def takes_cutoff(self) -> bool:
        return CUTOFF in self.id


@dataclass(frozen=True)
class TaskInfo:
    """A registered retrieval task.

    Attributes:
        id: the name results files record (``"my-task"``).
        title: the title of its tables (``"Zero-shot category-level SBIR"``).
        relevance: what makes a gallery item relevant to a query: a key of :data:`RELEVANCE`.
        metrics: the metric names it reports by default, in order (``"Hits@200"``, not the pattern);
            a dataset may name others (:attr:`bench.DatasetInfo.metrics`).
        columns: the paper columns: the metrics papers report, printed first; a dataset may name
            its own.
        main_metric: its main score (MTEB's ``main_score``): what ``bench train`` validates and
            stops early on. Default: the first paper column.
        resample: what a bootstrap interval resamples: ``"query"`` or ``"class"``; a gallery split
            by class always resamples classes (the queries of one class share one gallery).
        description: one line for ``bench list tasks``.
        values_note: how its values read, for the leaderboard's introduction (``"my task's
            (my-task) Hits@K values are percentages (x100)"``); default: from the metrics' units.
    """

    id: str
    title: str
    relevance: str
    metrics: tuple[str, ...]
    columns: tuple[str, ...]
    main_metric: str | None = None
    resample: str = "query"
    description: str = ""
    values_note: str = ""

    @property
    def main(self) -> str:
        return self.main_metric or self.columns[0]


@dataclass(frozen=True)
class LeaderboardFormat:
    """A registered leaderboard format (``bench leaderboard --format ID``).

    Attributes:
        id: the name users type (``"md"``).
        render: lazy ``(leaderboard: bench.Leaderboard) -> str``: the whole file. ``leaderboard.data()``
            is the leaderboard as plain data (the ``json`` format's document), ``leaderboard.sections``
            the typed sections the built-in formats render.
        description: one line for ``bench list formats`` and ``bench leaderboard --help``.
        suffix: the usual file suffix (``".md"``).
    """

    id: str
    render: Target
    description: str
    suffix: str = ""


@dataclass(frozen=True)
class ResolvedMetric:
    """A concrete metric name (``"Hits@200"``) resolved to its registered metric and cut-off.

    Attributes:
        name: the concrete name; info: the metric; k: the cut-off (None for a fixed name);
        plugin: the plugin that registered it.
    """

    name: str
    info: MetricInfo
    k: int | None
    plugin: str

    @property
    def unit(self) -> Unit:
        return UNITS[self.info.unit]

    @property
    def higher_is_better(self) -> bool:
        return bool(self.info.higher_is_better)

    def better(self, value: float, other: float) -> bool:
        """Whether ``value`` is strictly better than ``other`` in this metric's direction."""
        return value > other if self.higher_is_better else value < other

    def best_first(self, value: float) -> float:
        """Sort key placing the best value first."""
        return -value if self.higher_is_better else value

    def format(self, value: float) -> str:
        return f"{value:.{self.info.digits}f}"


def cutoff_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression of the concrete names of ``pattern`` (``Hits@K`` -> ``Hits@1``, ...)."""
    if CUTOFF not in pattern:
        return re.compile(re.escape(pattern))
    prefix, suffix = pattern.split(CUTOFF, 1)
    return re.compile(f"{re.escape(prefix)}@([1-9][0-9]{{0,5}}){re.escape(suffix)}")


PATTERN_CHARACTERS = re.compile(r"[A-Za-z0-9@\[\]\-_.]{1,64}")


class EvaluationSpecs:
    """The registered metrics, tasks and leaderboard formats, as their consumers read them.

    Args:
        metrics, tasks, formats: (component, registering plugin) pairs in registration order.
        dataset_tasks: registered dataset id -> its task id.
    """

    def __init__(
        self,
        metrics: Iterable[tuple[MetricInfo, str]] = (),
        tasks: Iterable[tuple[TaskInfo, str]] = (),
        formats: Iterable[tuple[LeaderboardFormat, str]] = (),
        dataset_tasks: dict[str, str] | None = None,
    ) -> None:
        self._metrics = [(info, plugin, cutoff_pattern(info.id)) for info, plugin in metrics]
        self._tasks = {info.id: (info, plugin) for info, plugin in tasks}
        self._formats = {info.id: (info, plugin) for info, plugin in formats}
        self.dataset_tasks = dict(dataset_tasks or {})
        self._resolved: dict[str, ResolvedMetric | None] = {}

    # -- metrics -----------------------------------------------------------------------------------

    def find_metric(self, name: str) -> ResolvedMetric | None:
        """The registered metric of the concrete name ``name``, or None."""
        if name not in self._resolved:
            self._resolved[name] = next(
                (
                    ResolvedMetric(name, info, int(match.group(1)) if info.takes_cutoff else None, plugin)
                    for info, plugin, pattern in self._metrics
                    for match in [pattern.fullmatch(name)]
                    if match
                ),
                None,
            )
        return self._resolved[name]

    def metric(self, name: str, context: str = "") -> ResolvedMetric:
        """The registered metric of ``name``; :class:`BenchError` listing the patterns otherwise."""
        resolved = self.find_metric(name)
        if resolved is None:
            raise self.unknown_metric(name, context)
        return resolved

    def suggestion(self, name: str) -> str | None:
        """The registered name closest to ``name`` (a pattern's cut-off filled with ``name``'s)."""
        cutoff = re.search(r"@([0-9]+)", name)
        candidates = {
            info.id.replace(CUTOFF, f"@{cutoff.group(1)}") if cutoff else info.id: info.id
            for info, _, _ in self._metrics
        }
        guess = closest_match(name, candidates)
        return guess if guess is None or self.find_metric(guess) else candidates[guess]

    def unknown_metric(self, name: str, context: str = "") -> BenchError:
        patterns = self.metric_patterns()
        guess = self.suggestion(name)
        where = f" in {context}" if context else ""
        return BenchError(
            f"Unknown metric {name!r}{where}." + (f" Did you mean {guess!r}?" if guess else ""),
            f"Registered metrics (K: a cut-off >= 1): {', '.join(patterns) or '(none)'}. "
            "A metric comes from a plugin (`bench list metrics`); install or load the one that "
            "registers it (--plugin FILE).",
        )

    def metric_patterns(self) -> list[str]:
        return [info.id for info, _, _ in self._metrics]

    # -- tasks -------------------------------------------------------------------------------------

    def task(self, task_id: str) -> TaskInfo:
        """The registered task ``task_id``; :class:`BenchError` listing the registered ones otherwise."""
        try:
            return self._tasks[task_id][0]
        except KeyError:
            raise unknown_name_error(
                "task",
                task_id,
                self.task_ids(),
                "A task comes from a plugin (`bench list tasks`); install or load the one that registers it.",
            ) from None

    def task_ids(self) -> list[str]:
        """Registered task ids, in registration order."""
        return list(self._tasks)

    def task_rank(self, task_id: str) -> tuple[int, str]:
        """Sort key of a task: registration order, then unknown tasks by name."""
        ids = self.task_ids()
        return (ids.index(task_id) if task_id in ids else len(ids), task_id)

    def task_metrics(self, task_id: str) -> list[ResolvedMetric]:
        return [self.metric(name) for name in self.task(task_id).metrics]

    # -- formats -----------------------------------------------------------------------------------

    def leaderboard_format(self, format_id: str) -> LeaderboardFormat:
        try:
            return self._formats[format_id][0]
        except KeyError:
            raise unknown_name_error(
                "leaderboard format",
                format_id,
                self.format_ids(),
                "Formats come from plugins (`bench list formats`).",
            ) from None

    def format_ids(self) -> list[str]:
        return list(self._formats)

    def format_owner(self, format_id: str) -> str:
        return self._formats[format_id][1]


def metric_order(names: Sequence[str], first: Sequence[str]) -> list[str]:
    """The names of ``first`` present in ``names``, then the others in ``names``' order."""
    present = set(names)
    return [name for name in first if name in present] + [name for name in names if name not in first]
