"""Seeded percentile-bootstrap confidence intervals of mean metrics.

A metric of a run is the mean of per-query values. Its interval comes from resampling the units of
the evaluation with replacement: queries, or, where the gallery is split by class (each query is
ranked against its own class's photos only), whole classes, since the queries of one class share
one gallery and are not independent draws. Each resample's statistic is the mean over the queries
of the resampled units (a ratio of sums, so units of unequal size weigh by their queries); the
interval is the (1 - level) / 2 and (1 + level) / 2 quantiles of ``resamples`` such statistics
(numpy's linear interpolation). The generator is numpy's PCG64 seeded with ``seed``, so the same
values give the same interval.
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
    level: float = LEVEL,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Intervals:
    """Percentile-bootstrap intervals of the mean of each metric.

    Args:
        per_query: metric name -> (N,) float64 per-query values of the evaluated queries (no NaN).
        units: (N,) labels of the resampled unit of each query (e.g. its class), or None to
            resample queries.
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
    names = list(per_query)
    values = np.stack([np.asarray(per_query[name], dtype=np.float64) for name in names], axis=1)
    if values.ndim != 2 or len(values) == 0:
        raise ValueError("bootstrap_intervals needs at least one query.")
    if units is None:
        sums, counts, unit = values, np.ones(len(values)), "query"
    else:
        if len(units) != len(values):
            raise ValueError(f"units has {len(units)} entries for {len(values)} queries.")
        _, inverse = np.unique(np.asarray(units), return_inverse=True)
        inverse = inverse.reshape(-1)
        sums = np.zeros((inverse.max() + 1, len(names)))
        np.add.at(sums, inverse, values)
        counts = np.bincount(inverse).astype(np.float64)
        unit = "class"
    statistics = _resampled_means(sums, counts, resamples, np.random.default_rng(seed))
    low, high = np.quantile(statistics, [(1 - level) / 2, (1 + level) / 2], axis=0)
    bounds = {name: (float(low[i]), float(high[i])) for i, name in enumerate(names)}
    return Intervals(bounds=bounds, unit=unit, level=level, resamples=resamples, seed=seed)


def _resampled_means(
    sums: np.ndarray, counts: np.ndarray, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """(resamples, M) means: per resample, U units drawn with replacement; sum of their (U, M)
    value sums over the sum of their (U,) query counts."""
    num_units = len(counts)
    block = max(1, _DRAWS_PER_CHUNK // num_units)
    out = np.empty((resamples, sums.shape[1]))
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        drawn = rng.integers(0, num_units, size=(size, num_units))
        weights = np.stack([np.bincount(row, minlength=num_units) for row in drawn]).astype(np.float64)
        out[start : start + size] = (weights @ sums) / (weights @ counts)[:, None]
    return out
