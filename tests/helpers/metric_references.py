"""Slow reference metrics, written directly from the protocol's definitions (docs/protocol.md), that
the streamed metrics are compared with."""

from __future__ import annotations

import numpy as np
import pytest


def reference_ranking(query: np.ndarray, gallery: np.ndarray) -> list[int]:
    """Gallery indices ordered by descending similarity, ties by ascending index."""
    sims = [float(np.dot(query, item)) for item in gallery]
    return sorted(range(len(gallery)), key=lambda index: (-sims[index], index))


def reference_query_metrics(rel: list[int], map_k, prec_k) -> dict[str, float]:
    """Category metrics of one query from its 0/1 relevance list in rank order (R > 0)."""
    n = len(rel)
    r = sum(rel)
    precision = [sum(rel[: i + 1]) / (i + 1) for i in range(n)]
    out = {
        "mAP@all": sum(max(precision[i:]) for i in range(n) if rel[i]) / r,
        "mAP@all[plain]": sum(precision[i] for i in range(n) if rel[i]) / r,
    }
    for k in map_k:
        window = min(k, n)
        hits = sum(rel[:window])
        interpolated = sum(max(precision[i:window]) for i in range(window) if rel[i])
        out[f"mAP@{k}"] = interpolated / min(k, r)
        plain = sum(precision[i] for i in range(window) if rel[i])
        out[f"mAP@{k}[retrieved]"] = plain / hits if hits else 0.0
    for k in prec_k:
        out[f"P@{k}"] = sum(rel[:k]) / k
    return out


def reference_category(q, ql, g, gl, map_k=(200,), prec_k=(100, 200)) -> dict[str, float]:
    """Mean of the per-query reference metrics over queries with R > 0."""
    per_query = []
    for query, label in zip(q, ql, strict=True):
        rel = [int(gl[index] == label) for index in reference_ranking(query, g)]
        if sum(rel):
            per_query.append(reference_query_metrics(rel, map_k, prec_k))
    return {key: float(np.mean([m[key] for m in per_query])) for key in per_query[0]}


def reference_fine_grained(q, targets, g, ks=(1, 5, 10), q_groups=None, g_groups=None) -> dict[str, float]:
    """Acc@K: rank = number of candidate photos with similarity >= the paired photo's."""
    ranks = []
    for i, query in enumerate(q):
        sims = g.astype(np.float64) @ query.astype(np.float64)
        candidates = (
            range(len(g)) if q_groups is None else [j for j in range(len(g)) if g_groups[j] == q_groups[i]]
        )
        ranks.append(sum(1 for j in candidates if sims[j] >= sims[targets[i]]))
    return {f"Acc@{k}": 100.0 * float(np.mean([rank <= k for rank in ranks])) for k in ks}


def assert_close(actual: dict[str, float], expected: dict[str, float], tol: float = 1e-6) -> None:
    """Same keys in the same order, values within ``tol``."""
    assert list(actual) == list(expected)
    for key in expected:
        assert actual[key] == pytest.approx(expected[key], abs=tol), key
