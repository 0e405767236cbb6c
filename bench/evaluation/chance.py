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
counts with its own C (a gallery split by class). With ``two-labels`` relevance a query also has R2
gallery items of its second label: a random ranking draws R + R2 distinct ranks, the first R for
the relevant items, the others for the second label's, and (R, C, R2) is the group.

A partial metric (undefined for some queries) is simulated: per group, the mean of its value over
the rankings where it is defined, and how often it is; the run's level weighs each group's mean by
its queries times that rate (the expected mean over the queries where it is defined, to first order).
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass

import numpy as np

from bench.api.errors import plugin_failure
from bench.api.evaluation import Rankings
from bench.evaluation.measures import Measure, MetricSet, checked, measure_values

MIN_RANKINGS = 1000
MAX_RANKINGS = 20000
MIN_RUN_RANKINGS = 10
DRAW_BUDGET = 20_000_000  # relevant ranks drawn in all, across the distinct (R, C) or the run's queries
SEED = 0

Group = tuple[int, int, int]  # (R, C, R2): R2 = 0 without second labels


@dataclass(frozen=True)
class ComputedChanceLevels:
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
    num_second: np.ndarray | None = None,
    rankings: int | None = None,
    seed: int = SEED,
) -> ComputedChanceLevels:
    """Chance levels of ``metrics`` over the evaluated queries.

    Args:
        metrics: the run's metrics.
        relevance: the task's relevance rule (``same-class``, ``paired`` or ``two-labels``).
        num_relevant: (N,) R of each evaluated query, each in 1..C.
        num_candidates: (N,) C of each evaluated query.
        num_second: (N,) R2 of each evaluated query (``two-labels``: gallery items of its second
            label; R + R2 <= C), or None.
        rankings: random rankings per distinct (R, C) for the simulated mean-aggregated metrics
            (default: from the draw budget, see the module docstring).
        seed: seeds the random rankings (one generator, distinct (R, C) in ascending order; the
            simulated runs of median-aggregated metrics draw from a second one).

    The levels depend on the counts only, so every configuration scored on one gallery gets them
    from one computation (memoised by counts, metrics, rankings and seed).
    """
    relevant = np.asarray(num_relevant, dtype=np.int64)
    candidates = np.asarray(num_candidates, dtype=np.int64)
    second = np.zeros_like(relevant) if num_second is None else np.asarray(num_second, dtype=np.int64)
    if len(relevant) == 0 or relevant.min() < 1 or (relevant + second > candidates).any():
        raise ValueError("every query needs 1 <= R <= C relevant items among its candidates.")
    measures = tuple(metrics)
    if relevance != "paired":
        counts = Counter(zip(relevant.tolist(), candidates.tolist(), second.tolist(), strict=True))
        return _by_distinct_counts(tuple(sorted(counts.items())), measures, rankings, seed)
    return _per_query(relevant, candidates, measures, rankings, seed)


@functools.lru_cache(maxsize=64)
def _by_distinct_counts(
    counts: tuple[tuple[Group, int], ...], measures: tuple[Measure, ...], rankings: int | None, seed: int
) -> ComputedChanceLevels:
    """Chance levels from ``counts`` (sorted ((R, C, R2), number of queries) pairs): each distinct
    group's expectation weighted by its queries (and, for a partial metric, by how often it is
    defined there)."""
    groups = [group for group, _ in counts]
    expected, rates, methods, used = _expectations(groups, measures, rankings, seed)
    sums: dict[str, float] = {}
    totals: dict[str, float] = {}
    for index, (_, queries) in enumerate(counts):
        for name, values in expected.items():
            weight = queries if name not in rates else queries * float(rates[name][index])
            sums[name] = sums.get(name, 0.0) + weight * float(values[index])
            totals[name] = totals.get(name, 0) + weight
    levels = {name: value / totals[name] for name, value in sums.items()}
    relevant, candidates, second = (
        np.repeat([g[i] for g, _ in counts], [n for _, n in counts]) for i in range(3)
    )
    runs = _run_levels(relevant, candidates, measures, seed, second)
    return _levels(measures, {**levels, **runs[0]}, methods, used, runs[1], seed)


def _per_query(
    relevant: np.ndarray,
    candidates: np.ndarray,
    measures: tuple[Measure, ...],
    rankings: int | None,
    seed: int,
) -> ComputedChanceLevels:
    """Chance levels as the mean over queries of each query's expectation (its own (R, C); a partial
    metric's weighted by how often it is defined)."""
    groups, inverse = np.unique(np.stack([relevant, candidates], axis=1), axis=0, return_inverse=True)
    expected, rates, methods, used = _expectations(
        [(int(r), int(c), 0) for r, c in groups], measures, rankings, seed
    )
    inverse = inverse.reshape(-1)
    levels = {
        name: float(np.mean(values[inverse]))
        if name not in rates
        else float(np.average(values[inverse], weights=rates[name][inverse]))
        for name, values in expected.items()
    }
    runs = _run_levels(relevant, candidates, measures, seed)
    return _levels(measures, {**levels, **runs[0]}, methods, used, runs[1], seed)


def _levels(
    measures: tuple[Measure, ...],
    levels: dict[str, float],
    methods: dict[str, str],
    rankings: int | None,
    run_rankings: int | None,
    seed: int,
) -> ComputedChanceLevels:
    """The :class:`ComputedChanceLevels` in the metrics' order."""
    names = [measure.name for measure in measures]
    simulated = rankings is not None or run_rankings is not None
    return ComputedChanceLevels(
        metrics={name: levels[name] for name in names},
        methods={name: methods.get(name, "simulated") for name in names},
        rankings=rankings,
        seed=seed if simulated else None,
        run_rankings=run_rankings,
    )


def _expectations(
    groups: list[Group], measures: tuple[Measure, ...], rankings: int | None, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, str], int | None]:
    """Each mean-aggregated metric's expected per-query value per group ((G,) float64, in
    ``groups``' order; a partial metric's over the rankings where it is defined), each partial
    metric's (G,) rate of definition, how each was obtained, and the rankings simulated per group
    (None: none)."""
    mean_measures = [m for m in measures if m.aggregate == "mean"]
    exact = [m for m in mean_measures if m.chance is not None]
    simulated = [m for m in mean_measures if m.chance is None]
    relevant = np.array([r for r, _, _ in groups], dtype=np.int64)
    candidates = np.array([c for _, c, _ in groups], dtype=np.int64)
    expected: dict[str, np.ndarray] = {}
    rates: dict[str, np.ndarray] = {m.name: np.empty(len(groups)) for m in simulated if m.metric.info.partial}
    if simulated:
        if rankings is None:
            drawn = int(relevant.sum()) + sum(r2 for _, _, r2 in groups)
            rankings = min(MAX_RANKINGS, max(MIN_RANKINGS, DRAW_BUDGET // drawn))
        rng = np.random.default_rng(seed)
        draws = {name: np.empty(len(groups)) for name in (m.name for m in simulated)}
        for index, (r, c, r2) in enumerate(groups):
            sample = _random_rankings(rng, (r, c, r2), rankings)
            for measure in simulated:
                values = measure_values(measure, sample)
                if measure.name in rates:
                    defined = ~np.isnan(values)
                    rates[measure.name][index] = defined.mean()
                    values = values[defined] if defined.any() else np.zeros(1)  # weight 0 then
                draws[measure.name][index] = float(values.mean())
        expected.update(draws)
    for measure in exact:
        expected[measure.name] = _closed_form(measure, relevant, candidates)
    methods = {m.name: "exact" for m in exact} | {m.name: "simulated" for m in simulated}
    return expected, rates, methods, rankings if simulated else None


def _closed_form(measure: Measure, relevant: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(G,) float64 expectations from the metric's closed form, checked like per-query values."""
    with plugin_failure(
        f"The chance level of {measure.where()} failed",
        "Fix the plugin (`bench --debug ...` shows the traceback).",
    ):
        values = measure.chance(relevant, candidates, measure.metric.k)  # type: ignore[misc]
    return checked(measure, values, Rankings(relevant[:, None], relevant, candidates), "chance level")


def _random_ranks(rng: np.random.Generator, relevant: int, candidates: int, count: int) -> np.ndarray:
    """(count, R) int64: ``count`` random rankings' ascending 1-based ranks of R relevant items
    among C (drawn without replacement)."""
    return np.sort(_unsorted_ranks(rng, relevant, candidates, count), axis=1)


def _random_rankings(rng: np.random.Generator, group: Group, count: int) -> Rankings:
    """``count`` uniformly random rankings of one group (R, C, R2): the R relevant items' ranks and,
    when R2 > 0, the second label's R2 items' (R + R2 distinct ranks drawn, the first R relevant)."""
    relevant, candidates, second = group
    rows = (np.full(count, relevant, dtype=np.int64), np.full(count, candidates, dtype=np.int64))
    if second == 0:
        return Rankings(_random_ranks(rng, relevant, candidates, count), *rows)
    drawn = _unsorted_ranks(rng, relevant + second, candidates, count)
    return Rankings(
        np.sort(drawn[:, :relevant], axis=1),
        *rows,
        second_ranks=np.sort(drawn[:, relevant:], axis=1),
        num_second=np.full(count, second, dtype=np.int64),
    )


def _unsorted_ranks(rng: np.random.Generator, size: int, candidates: int, count: int) -> np.ndarray:
    """(count, size) int64: ``size`` distinct 1-based ranks among C per ranking, in drawing order."""
    return np.stack([rng.choice(candidates, size=size, replace=False) + 1 for _ in range(count)])


def _run_levels(
    relevant: np.ndarray,
    candidates: np.ndarray,
    measures: tuple[Measure, ...],
    seed: int,
    second: np.ndarray | None = None,
) -> tuple[dict[str, float], int | None]:
    """The median-aggregated metrics' chance levels from simulated runs (each query's R ranks among
    its C, and its R2 second-label ranks, drawn anew per run), and the number of runs (None
    without such a metric)."""
    medians = [m for m in measures if m.aggregate != "mean"]
    if not medians:
        return {}, None
    second = np.zeros_like(relevant) if second is None else second
    runs = min(MIN_RANKINGS, max(MIN_RUN_RANKINGS, DRAW_BUDGET // int(relevant.sum() + second.sum())))
    rng = np.random.default_rng([seed, 1])
    groups, inverse = np.unique(np.stack([relevant, candidates, second], axis=1), axis=0, return_inverse=True)
    members = [np.flatnonzero(inverse.reshape(-1) == g) for g in range(len(groups))]
    totals = dict.fromkeys((m.name for m in medians), 0.0)
    for _ in range(runs):
        values = {name: np.empty(len(relevant)) for name in totals}
        for (r, c, r2), rows in zip(groups.tolist(), members, strict=True):
            if r == 1 and r2 == 0:
                ranks = rng.integers(1, c + 1, size=(len(rows), 1))
                sample = Rankings(
                    ranks, np.full(len(rows), r, dtype=np.int64), np.full(len(rows), c, dtype=np.int64)
                )
            else:
                sample = _random_rankings(rng, (r, c, r2), len(rows))
            for measure in medians:
                values[measure.name][rows] = measure_values(measure, sample)
        for name in totals:
            totals[name] += float(np.median(values[name]))
    return {name: total / runs for name, total in totals.items()}, runs
