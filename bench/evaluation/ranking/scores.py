"""What the ranking functions return: per-query metric values and ranking facts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class QueryScores:
    """Per-query metric values and ranking facts, in the caller's query order.

    ``values`` maps each metric name (in the metric set's order) to a (Nq,) float64 array, NaN for
    the queries the run leaves out (no relevant item); ``first_relevant_rank`` is the (Nq,) int64
    rank of each query's most similar relevant item (0 where left out); ``num_relevant`` and
    ``num_candidates`` the (Nq,) int64 R and C of each query (R = 0 where left out);
    ``num_second`` the (Nq,) int64 number of gallery items carrying each query's second label
    (``two-labels`` relevance; None otherwise). ``relevant_ranks`` (only when asked for:
    ``keep_ranks``) holds per query the (R,) ascending int64 ranks of its relevant items, exactly as
    the metrics saw them (empty where left out).
    """

    values: dict[str, np.ndarray]
    first_relevant_rank: np.ndarray
    num_relevant: np.ndarray
    num_candidates: np.ndarray
    num_second: np.ndarray | None = None
    relevant_ranks: list[np.ndarray] | None = None

    @property
    def evaluated(self) -> np.ndarray:
        """(Nq,) bool: the queries with a relevant item, which the run's values cover."""
        return self.num_relevant > 0


def spread_values(
    names: list[str], evaluated_values: Iterable[np.ndarray], rows: np.ndarray, num_queries: int
) -> dict[str, np.ndarray]:
    """Each metric's (Nq,) float64 values in the caller's query order: the values of the evaluated
    queries (``evaluated_values``, one (K,) array per name) at ``rows`` ((K,) indices or an (Nq,)
    bool mask), NaN for the queries left out."""
    values = {}
    for name, row_values in zip(names, evaluated_values, strict=True):
        values[name] = np.full(num_queries, np.nan)
        values[name][rows] = row_values
    return values
