"""The metrics a run reports, loaded from their plugins: per-query values over chunks of rankings,
checked, and aggregated into the run's values.

A plugin's per-query function that fails, or returns the wrong shape, a non-number or NaN (NaN is
allowed for a partial metric: a query it is undefined for), is one :class:`BenchError` naming the
plugin and the metric.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.api.components import DatasetInfo, resolve_target
from bench.api.errors import BenchError, plugin_failure
from bench.api.evaluation import EvaluationSpecs, Rankings, ResolvedMetric, TaskInfo


@dataclass(frozen=True)
class Measure:
    """A resolved metric and its loaded functions.

    Attributes:
        metric: the concrete name resolved to its registered metric and cut-off.
        per_query: ``(rankings, k) -> (B,)`` values.
        chance: the closed-form expectation ``(num_relevant, num_candidates, k) -> (N,)``, or None
            (simulated).
    """

    metric: ResolvedMetric
    per_query: Callable[..., Any]
    chance: Callable[..., Any] | None

    @property
    def name(self) -> str:
        return self.metric.name

    @property
    def aggregate(self) -> str:
        return self.metric.info.aggregate

    def where(self) -> str:
        return f"metric {self.name!r} of plugin {self.metric.plugin!r}"


class MetricSet:
    """The metrics of one run, in the order it reports them.

    Args:
        metrics: the resolved metrics (see :meth:`EvaluationSpecs.metric`).

    Raises:
        BenchError: a metric's function cannot be imported.
    """

    def __init__(self, metrics: Sequence[ResolvedMetric]) -> None:
        self.measures = [
            Measure(
                metric,
                resolve_target(metric.info.per_query, f"the per-query function of metric {metric.name!r}"),
                resolve_target(metric.info.chance, f"the chance level of metric {metric.name!r}")
                if metric.info.chance is not None
                else None,
            )
            for metric in metrics
        ]

    @property
    def names(self) -> list[str]:
        return [measure.name for measure in self.measures]

    def __iter__(self) -> Iterator[Measure]:
        return iter(self.measures)

    def __len__(self) -> int:
        return len(self.measures)

    def aggregates(self) -> dict[str, str]:
        return {measure.name: measure.aggregate for measure in self.measures}

    def values(self, rankings: Rankings) -> np.ndarray:
        """(M, B) float64 per-query values of every metric for the B queries of ``rankings``."""
        return np.stack([measure_values(measure, rankings) for measure in self.measures])


def measure_values(measure: Measure, rankings: Rankings) -> np.ndarray:
    """(B,) float64 values of one metric for the B queries of ``rankings``, checked.

    Raises:
        BenchError: naming the plugin, when its function raises or returns something other than B
            finite numbers.
    """
    with plugin_failure(
        f"The per-query function of {measure.where()} failed",
        "Fix the plugin (`bench --debug ...` shows the traceback), or leave the metric out.",
    ):
        values = measure.per_query(rankings, measure.metric.k)
    return checked(measure, values, rankings, "per-query function", undefined=measure.metric.info.partial)


def checked(
    measure: Measure, values: Any, rankings: Rankings, what: str, *, undefined: bool = False
) -> np.ndarray:
    """``values`` as (B,) float64 when they are B finite numbers, B = ``len(rankings)`` (with
    ``undefined``, NaN too: a partial metric's queries it is undefined for).

    Raises:
        BenchError: naming ``what`` of the metric and its plugin, and the first bad query's ranking.
    """
    count = len(rankings)
    array = np.asarray(values)
    if array.shape != (count,) or array.dtype.kind not in "fiub":
        raise BenchError(
            f"The {what} of {measure.where()} returned {_described(array)} for {count} queries.",
            f"It must return one number per query: a ({count},) float array.",
        )
    array = array.astype(np.float64, copy=False)
    bad = ~(np.isfinite(array) | (undefined & np.isnan(array)))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise BenchError(
            f"The {what} of {measure.where()} returned {array[row]} for a query (ranks "
            f"{rankings.ranks[row].tolist()[:5]}, R = {int(rankings.num_relevant[row])}, "
            f"C = {int(rankings.num_candidates[row])}).",
            _FINITE_HINT[undefined],
        )
    return array


_FINITE_HINT = {
    False: "Every value must be a finite number (a metric undefined for some queries returns NaN for "
    "them and registers with partial=True).",
    True: "Every value must be a finite number, or NaN where the metric is undefined for the query.",
}


def _described(array: np.ndarray) -> str:
    return f"shape {array.shape} of {array.dtype}" if array.ndim else f"a single {array.dtype} value"


def dataset_metrics(specs: EvaluationSpecs, info: DatasetInfo) -> tuple[TaskInfo, MetricSet]:
    """The task of the dataset ``info`` and the metrics it reports (completed and checked when it
    registered)."""
    return specs.task(info.task), MetricSet([specs.metric(name) for name in info.metrics])


def exact_mean(values: np.ndarray) -> float:
    """Mean of a non-empty 1-D array from its exactly rounded sum (independent of chunking)."""
    return math.fsum(values.tolist()) / len(values)


def aggregate(values: np.ndarray, how: str) -> float:
    """The run's value of a metric from its (N,) per-query values: the exactly rounded mean, or
    the median (numpy's: the mean of the two middle values for even N), of the values that are
    defined (a partial metric's NaN left out; NaN when none is)."""
    defined = values[~np.isnan(values)]
    if len(defined) == 0:
        return math.nan
    return exact_mean(defined) if how == "mean" else float(np.median(defined))
