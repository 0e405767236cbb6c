"""Chance levels: each metric's expected value when the gallery is ranked uniformly at random.

A chance level depends only on the gallery's class counts (category-level) or on how many
candidates each query is ranked against (fine-grained), never on features. Where a closed form
exists it is used ("exact"); otherwise the expectation is estimated by averaging the metric over
seeded random rankings ("simulated"). Definitions of the metrics: :mod:`bench.evaluation.metrics`.

Category-level, one query with R relevant items in a gallery of N, rel_i the relevance at rank i:

* ``P@K``: E[hits in the top K] / K = min(K, N) * R / (N * K)  (exact).
* ``mAP@all[plain]``: E[(1/R) sum_i rel_i P@i] with E[rel_i] = R/N and E[rel_i rel_j] =
  R(R-1) / (N(N-1)) for j < i, which gives (H_N + (R-1)/(N-1) * (N - H_N)) / N, H_N the N-th
  harmonic number (exact; 1 when N = 1).
* ``mAP@all``, ``mAP@K``, ``mAP@K[retrieved]``: interpolated or retrieved-normalised precision
  has no simple closed form; the mean over random rankings (the ranks of the R relevant items
  drawn without replacement from 1..N, seeded) per distinct R ("simulated"): as many rankings as
  keep the drawn ranks near :data:`DRAW_BUDGET`, between :data:`MIN_RANKINGS` and
  :data:`MAX_RANKINGS` per distinct R (20 000 for ``synthetic``: a standard error near 0.0005 mAP).

Fine-grained, a query ranked against C candidates: ``Acc@K`` = 100 * min(K, C) / C (exact).

A run's chance level is the mean of its queries' expectations (over the queries its metrics
average: R > 0, or with a paired photo).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.evaluation.metrics import metrics_from_relevant_ranks

MIN_RANKINGS = 1000
MAX_RANKINGS = 20000
DRAW_BUDGET = 20_000_000  # relevant ranks drawn in all, across the distinct R
SEED = 0


@dataclass(frozen=True)
class ChanceLevels:
    """Each metric's chance level and how it was obtained (the ``chance`` of a results file)."""

    metrics: dict[str, float]
    methods: dict[str, str]
    rankings: int | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, object]:
        """The results file's form (``rankings`` and ``seed`` only when something was simulated)."""
        data: dict[str, object] = {"metrics": dict(self.metrics), "methods": dict(self.methods)}
        if self.rankings is not None:
            data.update(rankings=self.rankings, seed=self.seed)
        return data


def category_chance(
    num_relevant: Sequence[int],
    num_gallery: int,
    *,
    map_k: Sequence[int],
    prec_k: Sequence[int],
    rankings: int | None = None,
    seed: int = SEED,
) -> ChanceLevels:
    """Chance levels of the category metrics, averaged over the queries.

    Args:
        num_relevant: R of each evaluated query (each >= 1 and <= num_gallery).
        num_gallery: N, the gallery size.
        map_k, prec_k: the cut-offs of the run's metrics.
        rankings: random rankings per distinct R for the simulated metrics (default: from the
            draw budget, see the module docstring).
        seed: seeds the random rankings (one generator, distinct R in ascending order).

    The levels depend on the class counts only, so every configuration scored on one gallery gets
    them from one computation (memoised by counts, cut-offs, rankings and seed).
    """
    counts = Counter(int(r) for r in num_relevant)
    if not counts or min(counts) < 1 or max(counts) > num_gallery:
        raise ValueError(f"every R must lie in 1..{num_gallery}, got {sorted(counts)}.")
    return _category_chance(
        tuple(sorted(counts.items())), num_gallery, tuple(map_k), tuple(prec_k), rankings, seed
    )


@functools.lru_cache(maxsize=64)
def _category_chance(
    counts: tuple[tuple[int, int], ...],
    num_gallery: int,
    map_k: tuple[int, ...],
    prec_k: tuple[int, ...],
    rankings: int | None,
    seed: int,
) -> ChanceLevels:
    """:func:`category_chance` from ``counts``: sorted (R, number of queries with that R) pairs."""
    if rankings is None:
        rankings = min(MAX_RANKINGS, max(MIN_RANKINGS, DRAW_BUDGET // sum(r for r, _ in counts)))
    rng = np.random.default_rng(seed)
    total = sum(queries for _, queries in counts)
    sums: dict[str, float] = {}
    for relevant, queries in counts:
        ranks = np.sort(
            np.stack([rng.choice(num_gallery, size=relevant, replace=False) + 1 for _ in range(rankings)]),
            axis=1,
        )
        simulated = metrics_from_relevant_ranks(ranks, map_k, prec_k)
        expected = {name: float(values.mean()) for name, values in simulated.items()}
        expected.update(exact_category_levels(relevant, num_gallery, prec_k))
        for name, value in expected.items():
            sums[name] = sums.get(name, 0.0) + queries * value
    exact = {"mAP@all[plain]", *(f"P@{k}" for k in prec_k)}
    return ChanceLevels(
        metrics={name: value / total for name, value in sums.items()},
        methods={name: "exact" if name in exact else "simulated" for name in sums},
        rankings=rankings,
        seed=seed,
    )


def exact_category_levels(relevant: int, num_gallery: int, prec_k: Sequence[int]) -> dict[str, float]:
    """Closed-form expectations for one query with R = ``relevant`` in a gallery of N."""
    n = num_gallery
    harmonic = float(np.sum(1.0 / np.arange(1, n + 1)))
    spread = (relevant - 1) / (n - 1) if n > 1 else 0.0
    values = {"mAP@all[plain]": (harmonic + spread * (n - harmonic)) / n}
    values.update({f"P@{k}": min(k, n) * relevant / (n * k) for k in prec_k})
    return values


def fine_grained_chance(num_candidates: Sequence[int], ks: Sequence[int]) -> ChanceLevels:
    """Chance levels of ``Acc@K`` (x100) for queries ranked against ``num_candidates`` photos each."""
    candidates = np.asarray(num_candidates, dtype=np.float64)
    if len(candidates) == 0 or candidates.min() < 1:
        raise ValueError("every query needs at least one candidate.")
    metrics = {f"Acc@{k}": float(np.mean(100.0 * np.minimum(k, candidates) / candidates)) for k in ks}
    return ChanceLevels(metrics=metrics, methods=dict.fromkeys(metrics, "exact"))
