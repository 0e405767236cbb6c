"""Chance levels: each metric's expected value when every query's candidates are ranked uniformly at
random.

A query's expectation depends only on R (its relevant items) and C (its candidates), never on
features. A metric that registers a closed form (``MetricInfo.chance``) gets it ("exact"); otherwise
the expectation is estimated from seeded random rankings ("simulated"): the ranks of R relevant
items drawn without replacement from 1..C. For a mean-aggregated metric that is the mean of the
metric over as many rankings as keep the drawn ranks near :data:`DRAW_BUDGET`, between
:data:`MIN_RANKINGS` and :data:`MAX_RANKINGS`, per distinct (R, C) (20 000 for ``synthetic``: a
standard error near 0.0005 mAP); for a median-aggregated metric, whose chance level is the expected
median over the run's queries, whole runs are simulated (each query drawn anew, the median taken,
averaged over ``run_rankings`` runs).

A run's chance level of a mean-aggregated metric is the mean of its evaluated queries'
expectations. With the ``same-class`` relevance every query shares one gallery, so the expectation
is computed once per distinct R and weighted by its queries; with ``paired`` relevance each query
counts with its own C (a gallery split by class).
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass

import numpy as np

from bench.api.errors import BenchError
from bench.api.evaluation import Rankings
from bench.evaluation.measures import Measure, MetricSet, checked, measure_values

MIN_RANKINGS = 1000
MAX_RANKINGS = 20000
MIN_RUN_RANKINGS = 10
DRAW_BUDGET = 20_000_000  # relevant ranks drawn in all, across the distinct (R, C) or the run's queries
SEED = 0

Group = tuple[int, int]  # (R, C)


@dataclass(frozen=True)
class ChanceLevels:
    """Each metric's chance level and how it was obtained (the ``chance`` of a results file).

    ``rankings``: random rankings per distinct (R, C) of the simulated mean-aggregated metrics;
    ``run_rankings``: simulated whole runs of the median-aggregated ones; ``seed`` seeds both.
    """

    metrics: dict[str, float]
    methods: dict[str, str]
    rankings: int | None = None
    seed: int | None = None
    run_rankings: int | None = None

    def to_dict(self) -> dict[str, object]:
        """The results file's form (``rankings``, ``run_rankings`` and ``seed`` only when something
        was simulated)."""
        data: dict[str, object] = {"metrics": dict(self.metrics), "methods": dict(self.methods)}
        if self.rankings is not None:
            data.update(rankings=self.rankings)
        if self.run_rankings is not None:
            data.update(run_rankings=self.run_rankings)
        if self.seed is not None:
            data.update(seed=self.seed)
        return data


def chance_levels(
    metrics: MetricSet,
    relevance: str,
    num_relevant: np.ndarray,
    num_candidates: np.ndarray,
    *,
    rankings: int | None = None,
    seed: int = SEED,
) -> ChanceLevels:
    """Chance levels of ``metrics`` over the evaluated queries.

    Args:
        metrics: the run's metrics.
        relevance: the task's relevance rule (``same-class`` or ``paired``).
        num_relevant: (N,) R of each evaluated query, each in 1..C.
        num_candidates: (N,) C of each evaluated query.
        rankings: random rankings per distinct (R, C) for the simulated mean-aggregated metrics
            (default: from the draw budget, see the module docstring).
        seed: seeds the random rankings (one generator, distinct (R, C) in ascending order; the
            simulated runs of median-aggregated metrics draw from a second one).

    The levels depend on the counts only, so every configuration scored on one gallery gets them
    from one computation (memoised by counts, metrics, rankings and seed).
    """
    relevant = np.asarray(num_relevant, dtype=np.int64)
    candidates = np.asarray(num_candidates, dtype=np.int64)
    if len(relevant) == 0 or relevant.min() < 1 or (relevant > candidates).any():
        raise ValueError("every query needs 1 <= R <= C relevant items among its candidates.")
    measures = tuple(metrics)
    if relevance == "same-class":
        counts = Counter(zip(relevant.tolist(), candidates.tolist(), strict=True))
        return _by_distinct_counts(tuple(sorted(counts.items())), measures, rankings, seed)
    return _per_query(relevant, candidates, measures, rankings, seed)


@functools.lru_cache(maxsize=64)
def _by_distinct_counts(
    counts: tuple[tuple[Group, int], ...], measures: tuple[Measure, ...], rankings: int | None, seed: int
) -> ChanceLevels:
    """Chance levels from ``counts`` (sorted ((R, C), number of queries) pairs): each distinct
    (R, C)'s expectation weighted by its queries."""
    groups = [group for group, _ in counts]
    expected, methods, used = _expectations(groups, measures, rankings, seed)
    total = sum(queries for _, queries in counts)
    sums: dict[str, float] = {}
    for index, (_, queries) in enumerate(counts):
        for name, values in expected.items():
            sums[name] = sums.get(name, 0.0) + queries * float(values[index])
    levels = {name: value / total for name, value in sums.items()}
    relevant = np.repeat([r for (r, _), _ in counts], [n for _, n in counts])
    candidates = np.repeat([c for (_, c), _ in counts], [n for _, n in counts])
    runs = _run_levels(relevant, candidates, measures, seed)
    return _levels(measures, {**levels, **runs[0]}, methods, used, runs[1], seed)


def _per_query(
    relevant: np.ndarray,
    candidates: np.ndarray,
    measures: tuple[Measure, ...],
    rankings: int | None,
    seed: int,
) -> ChanceLevels:
    """Chance levels as the mean over queries of each query's expectation (its own (R, C))."""
    groups, inverse = np.unique(np.stack([relevant, candidates], axis=1), axis=0, return_inverse=True)
    expected, methods, used = _expectations([(int(r), int(c)) for r, c in groups], measures, rankings, seed)
    levels = {name: float(np.mean(values[inverse.reshape(-1)])) for name, values in expected.items()}
    runs = _run_levels(relevant, candidates, measures, seed)
    return _levels(measures, {**levels, **runs[0]}, methods, used, runs[1], seed)


def _levels(
    measures: tuple[Measure, ...],
    levels: dict[str, float],
    methods: dict[str, str],
    rankings: int | None,
    run_rankings: int | None,
    seed: int,
) -> ChanceLevels:
    """The :class:`ChanceLevels` in the metrics' order."""
    names = [measure.name for measure in measures]
    simulated = rankings is not None or run_rankings is not None
    return ChanceLevels(
        metrics={name: levels[name] for name in names},
        methods={name: methods.get(name, "simulated") for name in names},
        rankings=rankings,
        seed=seed if simulated else None,
        run_rankings=run_rankings,
    )


def _expectations(
    groups: list[Group], measures: tuple[Measure, ...], rankings: int | None, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, str], int | None]:
    """Each mean-aggregated metric's expected per-query value per group ((G,) float64, in
    ``groups``' order), how it was obtained, and the rankings simulated per group (None: none)."""
    mean_measures = [m for m in measures if m.aggregate == "mean"]
    exact = [m for m in mean_measures if m.chance is not None]
    simulated = [m for m in mean_measures if m.chance is None]
    relevant = np.array([r for r, _ in groups], dtype=np.int64)
    candidates = np.array([c for _, c in groups], dtype=np.int64)
    expected: dict[str, np.ndarray] = {}
    if simulated:
        if rankings is None:
            rankings = min(MAX_RANKINGS, max(MIN_RANKINGS, DRAW_BUDGET // int(relevant.sum())))
        rng = np.random.default_rng(seed)
        draws = {name: np.empty(len(groups)) for name in (m.name for m in simulated)}
        for index, (r, c) in enumerate(groups):
            ranks = _random_ranks(rng, r, c, rankings)
            sample = Rankings(
                ranks, np.full(rankings, r, dtype=np.int64), np.full(rankings, c, dtype=np.int64)
            )
            for measure in simulated:
                draws[measure.name][index] = float(measure_values(measure, sample).mean())
        expected.update(draws)
    for measure in exact:
        expected[measure.name] = _closed_form(measure, relevant, candidates)
    methods = {m.name: "exact" for m in exact} | {m.name: "simulated" for m in simulated}
    return expected, methods, rankings if simulated else None


def _closed_form(measure: Measure, relevant: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(G,) float64 expectations from the metric's closed form, checked like per-query values."""
    try:
        values = measure.chance(relevant, candidates, measure.metric.k)  # type: ignore[misc]
    except BenchError:
        raise
    except Exception as exc:  # a plugin's bug: name it
        raise BenchError(
            f"The chance level of {measure.where()} failed: {type(exc).__name__}: {exc}",
            "Fix the plugin (`bench --debug ...` shows the traceback).",
        ) from exc
    return checked(measure, values, Rankings(relevant[:, None], relevant, candidates), "chance level")


def _random_ranks(rng: np.random.Generator, relevant: int, candidates: int, count: int) -> np.ndarray:
    """(count, R) int64: ``count`` random rankings' ascending 1-based ranks of R relevant items
    among C (drawn without replacement)."""
    return np.sort(
        np.stack([rng.choice(candidates, size=relevant, replace=False) + 1 for _ in range(count)]), axis=1
    )


def _run_levels(
    relevant: np.ndarray, candidates: np.ndarray, measures: tuple[Measure, ...], seed: int
) -> tuple[dict[str, float], int | None]:
    """The median-aggregated metrics' chance levels from simulated runs (each query's R ranks among
    its C drawn anew per run), and the number of runs (None without such a metric)."""
    medians = [m for m in measures if m.aggregate != "mean"]
    if not medians:
        return {}, None
    runs = min(MIN_RANKINGS, max(MIN_RUN_RANKINGS, DRAW_BUDGET // int(relevant.sum())))
    rng = np.random.default_rng([seed, 1])
    groups, inverse = np.unique(np.stack([relevant, candidates], axis=1), axis=0, return_inverse=True)
    members = [np.flatnonzero(inverse.reshape(-1) == g) for g in range(len(groups))]
    totals = dict.fromkeys((m.name for m in medians), 0.0)
    for _ in range(runs):
        values = {name: np.empty(len(relevant)) for name in totals}
        for (r, c), rows in zip(groups.tolist(), members, strict=True):
            if r == 1:
                ranks = rng.integers(1, c + 1, size=(len(rows), 1))
            else:
                ranks = _random_ranks(rng, r, c, len(rows))
            sample = Rankings(
                ranks, np.full(len(rows), r, dtype=np.int64), np.full(len(rows), c, dtype=np.int64)
            )
            for measure in medians:
                values[measure.name][rows] = measure_values(measure, sample)
        for name in totals:
            totals[name] += float(np.median(values[name]))
    return {name: total / runs for name, total in totals.items()}, runs
