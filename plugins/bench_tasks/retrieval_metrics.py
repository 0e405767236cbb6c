"""The retrieval metrics of the built-in tasks: per-query values from a chunk of rankings.

Each function takes a :class:`bench.Rankings` chunk of B queries (the ascending 1-based ranks r_1 <
... < r_R of each query's relevant items, R and the number of candidates C) and a cut-off K, and
returns (B,) float64 values. The j-th relevant item has precision P@r_j = j / r_j, and precision only
rises at a relevant rank, so interpolated precision is a maximum over relevant ranks:

* ``mAP@all``: (1/R) sum_j max_{i>=j} P@r_i (interpolated AP).
* ``mAP@all[plain]``: (1/R) sum_j P@r_j.
* ``mAP@K``: (1/min(K, R)) sum_{r_j<=K} max_{j<=i, r_i<=K} P@r_i.
* ``mAP@K[retrieved]``: (1/hits@K) sum_{r_j<=K} P@r_j (0 without a hit in the top K).
* ``P@K``: hits@K / K.
* ``Acc@K`` (one paired photo): 100 when it ranks within K, else 0.
* ``R@K``: 100 * hits@K / R, the share of a query's relevant items within the top K (one paired
  photo: 100 when it ranks within K; FS-COCO's scene-level recall).
* ``MeanR``, ``MedR``: the rank of the first relevant item (the run's mean, or median).

The closed-form chance levels (``*_chance``) give each query's expected value when its C candidates
are ranked uniformly at random (docs/protocol.md, section 6).
"""

from __future__ import annotations

import numpy as np

from bench import Rankings


def _precision(ranks: np.ndarray) -> np.ndarray:
    """(B, W) j / r_j of the j-th relevant item (0 where a rank is +inf)."""
    return np.arange(1, ranks.shape[1] + 1) / ranks


def _reverse_cummax(values: np.ndarray) -> np.ndarray:
    """(B, W) -> (B, W) contiguous: entry i is the maximum of ``values[:, i:]`` (interpolated precision)."""
    return np.ascontiguousarray(np.maximum.accumulate(values[:, ::-1], axis=1)[:, ::-1])


def _within(rankings: Rankings, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(B, W) whether each relevant rank is within K, and the precision there (0 elsewhere)."""
    within = rankings.ranks <= k
    return within, np.where(within, _precision(rankings.ranks), 0.0)


def interpolated_ap(rankings: Rankings, k: None) -> np.ndarray:
    return _reverse_cummax(_precision(rankings.ranks)).sum(axis=1) / rankings.num_relevant


def plain_ap(rankings: Rankings, k: None) -> np.ndarray:
    return _precision(rankings.ranks).sum(axis=1) / rankings.num_relevant


def interpolated_ap_at(rankings: Rankings, k: int) -> np.ndarray:
    _, top = _within(rankings, k)
    return _reverse_cummax(top).sum(axis=1) / np.minimum(k, rankings.num_relevant)


def retrieved_ap_at(rankings: Rankings, k: int) -> np.ndarray:
    within, top = _within(rankings, k)
    return top.sum(axis=1) / np.maximum(np.count_nonzero(within, axis=1), 1)


def precision_at(rankings: Rankings, k: int) -> np.ndarray:
    return np.count_nonzero(rankings.ranks <= k, axis=1) / k


def accuracy_at(rankings: Rankings, k: int) -> np.ndarray:
    return 100.0 * (rankings.ranks[:, 0] <= k).astype(np.float64)


def recall_at(rankings: Rankings, k: int) -> np.ndarray:
    return 100.0 * np.count_nonzero(rankings.ranks <= k, axis=1) / rankings.num_relevant


def first_relevant_rank(rankings: Rankings, k: None) -> np.ndarray:
    return rankings.ranks[:, 0].astype(np.float64)


# ----------------------------------------------------------------------------- chance levels


def precision_chance(num_relevant: np.ndarray, num_candidates: np.ndarray, k: int) -> np.ndarray:
    """E[hits in the top K] / K = min(K, C) R / (C K)."""
    return np.minimum(k, num_candidates) * num_relevant / (num_candidates * k)


def plain_ap_chance(num_relevant: np.ndarray, num_candidates: np.ndarray, k: None) -> np.ndarray:
    """E[(1/R) sum_i rel_i P@i] = (H_C + (R-1)/(C-1) (C - H_C)) / C, H_C the C-th harmonic number
    (from E[rel_i] = R/C and E[rel_i rel_j] = R(R-1) / (C(C-1)) for j < i; 1 when C = 1)."""
    harmonic: dict[int, float] = {}
    values = []
    for relevant, candidates in zip(num_relevant.tolist(), num_candidates.tolist(), strict=True):
        if candidates not in harmonic:
            harmonic[candidates] = float(np.sum(1.0 / np.arange(1, candidates + 1)))
        spread = (relevant - 1) / (candidates - 1) if candidates > 1 else 0.0
        h = harmonic[candidates]
        values.append((h + spread * (candidates - h)) / candidates)
    return np.array(values, dtype=np.float64)


def hit_chance(num_relevant: np.ndarray, num_candidates: np.ndarray, k: int) -> np.ndarray:
    """Acc@K and R@K: 100 * min(K, C) / C (each relevant item lies in the top K with that chance)."""
    return 100.0 * np.minimum(k, num_candidates) / num_candidates


def mean_rank_chance(num_relevant: np.ndarray, num_candidates: np.ndarray, k: None) -> np.ndarray:
    """E[rank of the first of R relevant items among C] = (C + 1) / (R + 1)."""
    return (num_candidates + 1) / (num_relevant + 1)
