"""Seeded percentile-bootstrap confidence intervals of a run's metrics.

A metric of a run aggregates per-query values: their mean, or their median. Its interval comes
from resampling the units of the evaluation with replacement: queries, or, where the gallery is
split by class (each query is ranked against its own class's photos only) or the task asks for it,
whole classes, since the queries of one class share one gallery and are not independent draws.
Each resample's statistic is the metric's aggregate over the queries of the resampled units (a
mean is a ratio of sums, so units of unequal size weigh by their queries; a median is the median
of the resampled queries, each unit's queries repeated as often as the unit was drawn); the
interval is the (1 - level) / 2 and (1 + level) / 2 quantiles of ``resamples`` such statistics
(numpy's linear interpolation). The generator is numpy's PCG64 seeded with ``seed``, so the same
values give the same interval; every metric sees the same resamples. A partial metric's NaN (a query
it is undefined for) counts in no mean: its statistic is the mean of the resampled queries where it
is defined, and a resample without any is left out of its quantiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESAMPLES = 1000
LEVEL = 0.95
SEED = 0
METHOD = "percentile bootstrap"
_DRAWS_PER_CHUNK = 4_000_000  # unit draws per block of resamples (bounds the index array to 32 MB)


@dataclass(frozen=True)
class Intervals:
    """Bounds per metric and how they were computed (the ``intervals`` of a results file)."""

    bounds: dict[str, tuple[float, float]]
    unit: str
    level: float = LEVEL
    resamples: int = RESAMPLES
    seed: int = SEED

    def to_dict(self) -> dict[str, object]:
        """The results file's form."""
        return {
            "level": self.level,
            "method": METHOD,
            "unit": self.unit,
            "resamples": self.resamples,
            "seed": self.seed,
            "bounds": {name: [low, high] for name, (low, high) in self.bounds.items()},
        }


def bootstrap_intervals(
    per_query: dict[str, np.ndarray],
    units: np.ndarray | None = None,
    *,
    medians: frozenset[str] | set[str] = frozenset(),
    level: float = LEVEL,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Intervals:
    """Percentile-bootstrap intervals of the mean of each metric.

    Args:
        per_query: metric name -> (N,) float64 per-query values of the evaluated queries (NaN only
            where a mean-aggregated, partial metric is undefined).
        units: (N,) labels of the resampled unit of each query (e.g. its class), or None to
            resample queries.
        medians: the metrics aggregated by their median (the others by their mean).
        level: coverage of the interval, in (0, 1).
        resamples: bootstrap resamples, >= 1.
        seed: the generator's seed.

    Returns:
        Per metric (low, high), in the metric's unit, low <= mean <= high up to resampling noise.

    Raises:
        ValueError: no queries, lengths that differ, or a level outside (0, 1).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}.")
    names = [name for name in per_query if name not in medians]  # averaged, in one matrix
    median_names = [name for name in per_query if name in medians]
    values = np.stack([np.asarray(per_query[name], dtype=np.float64) for name in per_query], axis=1)
    if values.ndim != 2 or len(values) == 0:
        raise ValueError("bootstrap_intervals needs at least one query.")
    inverse, unit = _unit_of_each_query(units, len(values))
    averaged = np.stack([np.asarray(per_query[name], dtype=np.float64) for name in names], axis=1)
    sums, counts = _unit_sums(averaged, None if units is None else inverse)
    ordered = {name: _SortedValues(np.asarray(per_query[name], dtype=np.float64)) for name in median_names}
    statistics = np.empty((resamples, len(per_query)))
    columns = [list(per_query).index(name) for name in names]
    median_columns = [list(per_query).index(name) for name in median_names]
    for start, weights in _resampled_weights(len(counts), resamples, np.random.default_rng(seed)):
        rows = slice(start, start + len(weights))
        with np.errstate(invalid="ignore"):  # 0 / 0: no query of the resample defines a partial metric
            statistics[rows, columns] = (weights @ sums) / (weights @ counts)
        for column, name in zip(median_columns, median_names, strict=True):
            statistics[rows, column] = ordered[name].medians(weights[:, inverse])
    quantile = np.nanquantile if np.isnan(statistics).any() else np.quantile
    low, high = quantile(statistics, [(1 - level) / 2, (1 + level) / 2], axis=0)
    bounds = {name: (float(low[i]), float(high[i])) for i, name in enumerate(per_query)}
    return Intervals(bounds=bounds, unit=unit, level=level, resamples=resamples, seed=seed)


def _unit_of_each_query(units: np.ndarray | None, num_queries: int) -> tuple[np.ndarray, str]:
    """(N,) int64 index of each query's resampled unit and the unit's name: each query its own
    unit (``"query"``) without ``units``, else the (N,) labels' distinct values (``"class"``).

    Raises:
        ValueError: when ``units`` is not one label per query.
    """
    if units is None:
        return np.arange(num_queries), "query"
    if len(units) != num_queries:
        raise ValueError(f"units has {len(units)} entries for {num_queries} queries.")
    return np.unique(np.asarray(units), return_inverse=True)[1].reshape(-1), "class"


def _unit_sums(averaged: np.ndarray, inverse: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(U, M) float64 sums of the (N, M) mean-aggregated values over each unit's queries where
    defined (not NaN), and (U, M) the number of such queries; per query (U = N) when ``inverse``,
    the (N,) unit index of each query, is None."""
    defined = ~np.isnan(averaged)  # (N, M): False only where a partial metric is undefined
    if inverse is None:
        return np.where(defined, averaged, 0.0), defined.astype(np.float64)
    sums, counts = (
        np.zeros((inverse.max() + 1, averaged.shape[1])),
        np.zeros((inverse.max() + 1, averaged.shape[1])),
    )
    np.add.at(sums, inverse, np.where(defined, averaged, 0.0))
    np.add.at(counts, inverse, defined.astype(np.float64))
    return sums, counts


def _resampled_weights(num_units: int, resamples: int, rng: np.random.Generator):
    """(start, (size, U) float64 weights) blocks: per resample, how often each of the U units was
    drawn (U draws with replacement)."""
    block = max(1, _DRAWS_PER_CHUNK // num_units)
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        drawn = rng.integers(0, num_units, size=(size, num_units))
        yield start, np.stack([np.bincount(row, minlength=num_units) for row in drawn]).astype(np.float64)


class _SortedValues:
    """(N,) per-query values sorted once, for the medians of many weighted resamples."""

    def __init__(self, values: np.ndarray) -> None:
        self.order = np.argsort(values, kind="stable")
        self.sorted = values[self.order]

    def medians(self, weights: np.ndarray) -> np.ndarray:
        """(S,) medians of S resamples, each query repeated (S, N) ``weights`` times: the mean of
        the two middle values of the repeated sample (the middle one for an odd count)."""
        cumulative = np.cumsum(weights[:, self.order], axis=1)
        total = cumulative[:, -1]
        lower = (cumulative > ((total - 1) // 2)[:, None]).argmax(axis=1)
        upper = (cumulative > (total // 2)[:, None]).argmax(axis=1)
        return (self.sorted[lower] + self.sorted[upper]) / 2
