"""The tables of metrics, tasks, leaderboard formats and datasets, each checked when a plugin registers.

A plugin's mistake (a metric without a direction, a task naming an unregistered metric, a dataset
naming an unknown task) is one :class:`BenchError` naming the plugin, what is wrong and what is valid.
Metrics and tasks register before datasets (see :class:`bench.registry.tables.Registry`), so a
dataset is checked against every task and metric of every plugin.
"""

from __future__ import annotations

from dataclasses import replace

from bench.api.components import DatasetInfo
from bench.api.errors import BenchError, closest_match
from bench.api.evaluation import (
    AGGREGATES,
    CUTOFF,
    PATTERN_CHARACTERS,
    RELEVANCE,
    RESAMPLE_UNITS,
    UNITS,
    EvaluationSpecs,
    LeaderboardFormat,
    MetricInfo,
    TaskInfo,
    cutoff_pattern,
)
from bench.registry.components import ComponentTable


class MetricTable(ComponentTable[MetricInfo]):
    """The registered metrics; a new one is checked against itself and the others' name patterns."""

    def __init__(self) -> None:
        super().__init__("metric", MetricInfo, "bench list metrics")

    def add(self, component: MetricInfo, plugin: str) -> None:
        self._check_type(component, plugin)
        problem = _metric_problem(component)
        if problem:
            raise BenchError(
                f"Plugin {plugin!r} registered metric {component.id!r} {problem}.",
                "See bench.MetricInfo (docs/plugins.md) for what each field takes.",
            )
        for entry in self.in_order():
            other = entry.component
            if other.id != component.id and _overlap(other.id, component.id):
                raise BenchError(
                    f"The metric {component.id!r} of plugin {plugin!r} overlaps metric {other.id!r} of "
                    f"plugin {entry.plugin!r}: one name would mean both.",
                    "Rename one of them (e.g. a suffix like Hits@K[mine]).",
                )
        super().add(component, plugin)


def _metric_problem(metric: MetricInfo) -> str | None:
    """What is wrong with ``metric`` (a phrase after its name), or None."""
    if not PATTERN_CHARACTERS.fullmatch(metric.id) or metric.id.count(CUTOFF) > 1:
        return "with a bad name: use letters, digits and @[]-_. (at most 64), and at most one @K"
    if metric.higher_is_better is None or not isinstance(metric.higher_is_better, bool):
        return (
            "without a direction: set higher_is_better=True (larger is better) or False (smaller is better)"
        )
    if metric.unit not in UNITS:
        return f"with unit {metric.unit!r}: valid units are {', '.join(UNITS)}"
    if metric.aggregate not in AGGREGATES:
        return f"with aggregate {metric.aggregate!r}: valid aggregates are {', '.join(AGGREGATES)}"
    if isinstance(metric.digits, bool) or not isinstance(metric.digits, int) or not 0 <= metric.digits <= 9:
        return f"with digits {metric.digits!r}: give an integer 0..9"
    if metric.chance is not None and metric.aggregate != "mean":
        return (
            "with a closed-form chance level and a median aggregate: the expected median is not the "
            "median of expectations; leave chance=None (simulated)"
        )
    if not isinstance(metric.partial, bool):
        return f"with partial {metric.partial!r}: give True or False"
    if metric.partial and (metric.aggregate != "mean" or metric.chance is not None):
        return (
            "as partial (undefined for some queries) with a median aggregate or a closed-form chance "
            "level: a partial metric averages the queries where it is defined and its chance level is "
            "simulated; use aggregate='mean' and chance=None"
        )
    if not (callable(metric.per_query) or isinstance(metric.per_query, str)):
        return "without a per-query function: per_query takes a callable or 'module:attribute'"
    return None


def _overlap(first: str, second: str) -> bool:
    """Whether some concrete name fits both name patterns."""
    fixed = [p for p in (first, second) if CUTOFF not in p]
    if len(fixed) == 2:
        return first == second
    if fixed:
        pattern = second if fixed[0] == first else first
        return cutoff_pattern(pattern).fullmatch(fixed[0]) is not None
    return first.split(CUTOFF, 1) == second.split(CUTOFF, 1)


class TaskTable(ComponentTable[TaskInfo]):
    """The registered tasks; each one's metrics must be registered already.

    Args:
        metrics: the metric table (filled before any task registers).
    """

    def __init__(self, metrics: MetricTable) -> None:
        super().__init__("task", TaskInfo, "bench list tasks")
        self.metrics = metrics

    def add(self, component: TaskInfo, plugin: str) -> None:
        self._check_type(component, plugin)
        what = f"Plugin {plugin!r} registered task {component.id!r}"
        if component.relevance not in RELEVANCE:
            raise BenchError(
                f"{what} with relevance {component.relevance!r}.",
                f"Valid relevance rules: {', '.join(RELEVANCE)}.",
            )
        if component.resample not in RESAMPLE_UNITS:
            raise BenchError(
                f"{what} resampling {component.resample!r}.", f"Valid units: {', '.join(RESAMPLE_UNITS)}."
            )
        check_metric_names(self.metrics, component.metrics, component.columns, what)
        if component.main_metric is not None and component.main_metric not in component.metrics:
            raise BenchError(
                f"{what} with main metric {component.main_metric!r}, which it does not report.",
                f"Name one of its metrics: {', '.join(component.metrics)}.",
            )
        super().add(component, plugin)


def check_metric_names(
    metrics: MetricTable, names: tuple[str, ...], columns: tuple[str, ...], what: str
) -> None:
    """Raise :class:`BenchError` (starting with ``what``) unless ``names`` is a non-empty list of
    distinct registered metric names and ``columns`` (the paper columns) is a non-empty part of it."""
    if not names or not columns:
        raise BenchError(f"{what} without metrics or paper columns.", "Name at least one of each.")
    specs = EvaluationSpecs(metrics=[(entry.component, entry.plugin) for entry in metrics.in_order()])
    for name in names:
        if specs.find_metric(name) is None:
            guess = specs.suggestion(name)
            raise BenchError(
                f"{what} naming metric {name!r}, which no plugin registers."
                + (f" Did you mean {guess!r}?" if guess else ""),
                f"Registered metrics (K: a cut-off >= 1): {', '.join(specs.metric_patterns())}.",
            )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BenchError(f"{what} naming metric {repeated[0]!r} twice.", "Name each metric once.")
    missing = [name for name in columns if name not in names]
    if missing:
        raise BenchError(
            f"{what} with paper column {missing[0]!r} among its columns but not among its metrics.",
            f"Paper columns are some of its metrics: {', '.join(names)}.",
        )


class DatasetTable(ComponentTable[DatasetInfo]):
    """The registered datasets, each completed with its task's metrics and paper columns where it
    names none, and checked against the registered tasks and metrics.

    Args:
        tasks: the task table (filled before any dataset registers).
    """

    def __init__(self, tasks: TaskTable) -> None:
        super().__init__("dataset", DatasetInfo, "bench list datasets")
        self.tasks = tasks

    def add(self, component: DatasetInfo, plugin: str) -> None:
        self._check_type(component, plugin)
        what = f"Plugin {plugin!r} registered dataset {component.id!r}"
        if component.task not in self.tasks:
            valid = [entry.component.id for entry in self.tasks.in_order()]
            guess = closest_match(str(component.task), valid)
            raise BenchError(
                f"{what} with task {component.task!r}, which no plugin registers."
                + (f" Did you mean {guess!r}?" if guess else ""),
                f"Registered tasks: {', '.join(valid) or '(none)'}. A task comes from a plugin "
                "(`bench list tasks`).",
            )
        task = self.tasks.get(component.task)
        completed = replace(
            component, metrics=component.metrics or task.metrics, columns=component.columns or task.columns
        )
        check_metric_names(self.tasks.metrics, completed.metrics, completed.columns, what)
        super().add(completed, plugin)


class FormatTable(ComponentTable[LeaderboardFormat]):
    """The registered leaderboard formats."""

    def __init__(self) -> None:
        super().__init__("leaderboard format", LeaderboardFormat, "bench list formats")
