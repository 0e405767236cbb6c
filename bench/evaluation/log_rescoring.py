"""Metrics recomputed from a per-query log alone (:mod:`bench.evaluation.samples`, ``bench rescore``):
each metric's registered per-query function on the logged relevant ranks, aggregated as the run
aggregates it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.api.errors import BenchError
from bench.api.evaluation import EvaluationSpecs, Rankings
from bench.evaluation.measures import MetricSet, aggregate
from bench.evaluation.samples import REWRITE_HINT, QueryLog, QueryRecord, read_query_log

_CELLS_PER_BLOCK = 2**22
"""Ranks per block of queries handed to a metric's per-query function when rescoring."""


def rescore(
    log: QueryLog | Path, specs: EvaluationSpecs, metrics: Sequence[str] | None = None
) -> dict[str, float]:
    """Metrics recomputed from a per-query log alone: each metric's registered per-query function
    on every evaluated query's relevant ranks, aggregated as the run aggregates it (the exactly
    rounded mean, or the median). Those the run reported equal its results file to the last bit.

    Args:
        log: the log, or the path of one.
        metrics: concrete metric names (``bench list metrics``); default: those the run reported.
            A version-1 log serves only those (from its recorded per-query values).

    Raises:
        BenchError: an unreadable log, one without evaluated queries, a metric no plugin registers,
            or one a version-1 log cannot give.
    """
    log = log if isinstance(log, QueryLog) else read_query_log(Path(log))
    names = list(dict.fromkeys(metrics or log.metrics))
    resolved = [specs.metric(name, f"the per-query log {log.source!r}") for name in names]
    kept = [record for record in log.queries if record.evaluated]
    if not kept:
        raise BenchError(f"{log.source!r} holds no evaluated query.", REWRITE_HINT)
    if not log.keeps_every_rank or log.relevance == "two-labels":
        return _recorded(log, kept, resolved)
    values = _per_query_values(MetricSet(resolved), kept)
    return {
        metric.name: aggregate(row, metric.info.aggregate)
        for metric, row in zip(resolved, values, strict=True)
    }


def _recorded(log: QueryLog, kept: list[QueryRecord], resolved: list) -> dict[str, float]:
    """The aggregates of the per-query values a log recorded (a version-1 log, or a two-labels task's)."""
    missing = [metric.name for metric in resolved if metric.name not in log.metrics]
    if missing:
        raise BenchError(
            f"{log.source!r} kept the per-query values of {', '.join(log.metrics)} but not every rank "
            f"{', '.join(missing)} need{'s' if len(missing) == 1 else ''} (a version-1 log, or a task whose "
            "queries have a second label), so it cannot give them.",
            f"Rescore it for {', '.join(log.metrics)}, or rerun its run with `bench run --log-samples` "
            "(the log it writes keeps every relevant rank, which every metric can be computed from).",
        )
    return {
        metric.name: aggregate(
            np.array([record.metrics[metric.name] for record in kept], dtype=np.float64),  # type: ignore[index]
            metric.info.aggregate,
        )
        for metric in resolved
    }


def _per_query_values(metrics: MetricSet, kept: list[QueryRecord]) -> np.ndarray:
    """(M, N) float64 values of ``metrics`` for the N evaluated queries ``kept``, computed in blocks
    of queries with the same number of relevant items (the (B, R) int64 ranks a run's ranking hands
    a metric: the same numbers, the same float operations)."""
    values = np.empty((len(metrics), len(kept)))
    by_count: dict[int, list[int]] = {}
    for row, record in enumerate(kept):
        by_count.setdefault(len(record.ranks), []).append(row)  # type: ignore[arg-type]
    for count, rows in by_count.items():
        step = max(1, _CELLS_PER_BLOCK // count)
        for start in range(0, len(rows), step):
            block = rows[start : start + step]
            ranks = np.stack([kept[row].ranks for row in block]).astype(np.int64, copy=False)
            rankings = Rankings(
                ranks,
                np.full(len(block), count, dtype=np.int64),
                np.array([kept[row].candidates for row in block], dtype=np.int64),
            )
            values[:, block] = metrics.values(rankings)
    return values
