"""Tests for the streamed, rank-counting category ranking of bench.evaluation.ranking against an in-memory
reference (one full similarity matrix, one stable sort per query, every metric from the sorted
relevance), on features whose float32 dot products are exact, so ties are the same in both."""

from __future__ import annotations

import numpy as np
import pytest

import bench.evaluation.ranking.category
from tests.helpers.retrieval import category_metrics as evaluate_category
from tests.helpers.retrieval import fine_grained_metrics as evaluate_fine_grained

MAP_K = (1, 5, 10, 200, 1000)
PREC_K = (1, 3, 10, 100, 1000)


def in_memory_category(q, ql, g, gl, map_k=MAP_K, prec_k=PREC_K) -> dict[str, float]:
    """Category metrics from the full (Nq, Ng) ranking, per docs/protocol.md section 2."""
    sims = q.astype(np.float64) @ g.astype(np.float64).T
    relevant = np.asarray(gl)[np.argsort(-sims, axis=1, kind="stable")] == np.asarray(ql)[:, None]
    relevant = relevant[relevant.any(axis=1)]  # R = 0 queries are excluded
    hits = np.cumsum(relevant, axis=1)
    precision = hits / np.arange(1, relevant.shape[1] + 1)
    r = relevant.sum(axis=1)
    out = {
        "mAP@all": (_reverse_cummax(precision) * relevant).sum(axis=1) / r,
        "mAP@all[plain]": (precision * relevant).sum(axis=1) / r,
    }
    for k in map_k:
        window = min(k, relevant.shape[1])
        top, top_relevant, top_hits = precision[:, :window], relevant[:, :window], hits[:, window - 1]
        out[f"mAP@{k}"] = (_reverse_cummax(top) * top_relevant).sum(axis=1) / np.minimum(k, r)
        out[f"mAP@{k}[retrieved]"] = (top * top_relevant).sum(axis=1) / np.maximum(top_hits, 1)
    for k in prec_k:
        out[f"P@{k}"] = hits[:, min(k, relevant.shape[1]) - 1] / k
    return {key: float(np.mean(values)) for key, values in out.items()}


def _reverse_cummax(values: np.ndarray) -> np.ndarray:
    return np.maximum.accumulate(values[:, ::-1], axis=1)[:, ::-1]


def integer_features(rng: np.random.Generator, n: int, dim: int, span: int) -> np.ndarray:
    """(n, dim) float32 integers in [-span, span]: exact dot products; span 1 ties almost everything,
    span 1000 (dim 4) almost nothing."""
    return rng.integers(-span, span + 1, size=(n, dim)).astype(np.float32)


def dataset(seed: int, span: int, num_queries: int, num_gallery: int, dim: int = 4):
    """Features, string labels, and one query class ("zebra") absent from the gallery."""
    rng = np.random.default_rng(seed)
    names = np.array(["cat", "dog", "owl", "yak", "zebra"], dtype=object)
    q, g = integer_features(rng, num_queries, dim, span), integer_features(rng, num_gallery, dim, span)
    return q, names[rng.integers(0, 5, num_queries)], g, names[rng.integers(0, 4, num_gallery)]


def assert_close(actual: dict[str, float], expected: dict[str, float], tol: float = 1e-12) -> None:
    assert list(actual) == list(expected)
    for key in expected:
        assert actual[key] == pytest.approx(expected[key], abs=tol), key


@pytest.mark.parametrize("chunk_size", [1, 7, 1000])
def test_streamed_equals_in_memory_reference(chunk_size):
    q, ql, g, gl = dataset(seed=0, span=1, num_queries=60, num_gallery=150)  # heavy ties
    assert chunk_size == 1000 or chunk_size < len(q)
    expected = in_memory_category(q, ql, g, gl)
    assert_close(evaluate_category(q, ql, g, gl, map_k=MAP_K, prec_k=PREC_K, chunk_size=chunk_size), expected)


@pytest.mark.parametrize(
    ("seed", "span", "num_gallery"),
    [
        (1, 1000, 150),  # no ties, gallery between the cut-offs
        (2, 1000, 4),  # no ties, gallery smaller than every K > 3
        (3, 1000, 1500),  # no ties, gallery larger than every K
        (4, 1, 6),  # ties, tiny gallery
        (5, 3, 1500),  # many distinct tied values per row (the stable-sort fallback)
        (6, 2, 300),  # a few distinct tied values per row (counted per value)
    ],
)
def test_fast_path_matches_reference(seed, span, num_gallery):
    q, ql, g, gl = dataset(seed, span, num_queries=40, num_gallery=num_gallery)
    actual = evaluate_category(q, ql, g, gl, map_k=MAP_K, prec_k=PREC_K)
    assert_close(actual, in_memory_category(q, ql, g, gl))


@pytest.mark.parametrize("max_tied_values", [0, 10**6])
def test_both_tie_breaks_match_reference(monkeypatch, max_tied_values):
    # 0: every row with a tie is ranked by a stable sort; 10**6: every tied value is counted directly.
    monkeypatch.setattr(bench.evaluation.ranking.category, "_MAX_TIED_VALUES", max_tied_values)
    q, ql, g, gl = dataset(seed=7, span=2, num_queries=30, num_gallery=400)
    actual = evaluate_category(q, ql, g, gl, map_k=MAP_K, prec_k=PREC_K)
    assert_close(actual, in_memory_category(q, ql, g, gl))


def test_tie_break_follows_gallery_index_not_relevance():
    # One query, five items all at similarity 1: ranks follow the index, so the relevant items
    # (indices 1 and 4) sit at ranks 2 and 5: AP = (1/2 + 2/5) / 2.
    gallery = np.ones((5, 1), dtype=np.float32)
    metrics = evaluate_category([[1.0]], [0], gallery, [1, 0, 1, 1, 0], map_k=(2,), prec_k=(2,))
    assert metrics["mAP@all[plain]"] == pytest.approx((1 / 2 + 2 / 5) / 2)
    assert metrics["mAP@all"] == pytest.approx((1 / 2 + 2 / 5) / 2)
    assert metrics["P@2"] == pytest.approx(1 / 2)


def test_negative_zero_ties_with_zero():
    # -0.0 == 0.0: items 0 (similarity -0.0, relevant) and 1 (0.0) tie, so index 0 ranks first.
    gallery = np.array([[-0.0], [0.0]], dtype=np.float32)
    metrics = evaluate_category([[1.0]], [0], gallery, [0, 1], map_k=(1,), prec_k=(1,))
    assert metrics["P@1"] == 1.0


@pytest.mark.parametrize("block_rows", [1, 3])
def test_worker_blocks_do_not_change_results(monkeypatch, block_rows):
    q, ql, g, gl = dataset(seed=8, span=1, num_queries=25, num_gallery=90)
    expected = evaluate_category(q, ql, g, gl, map_k=MAP_K, prec_k=PREC_K)
    monkeypatch.setattr(bench.evaluation.ranking.category, "_BLOCK_ROWS", block_rows)
    assert evaluate_category(q, ql, g, gl, map_k=MAP_K, prec_k=PREC_K, chunk_size=11) == expected


def test_overflowing_similarity_is_an_error():
    q = np.array([[1e30, 1e30]], dtype=np.float32)
    g = np.array([[1e30, -1e30], [1.0, 0.0]], dtype=np.float32)
    with pytest.raises(ValueError, match="NaN"):
        evaluate_category(q, [0], g, [0, 1])


@pytest.mark.parametrize("chunk_size", [1, 7, 1000])
def test_fine_grained_groups_equal_a_masked_full_ranking(chunk_size):
    rng = np.random.default_rng(9)
    q, g = integer_features(rng, 50, 3, 1), integer_features(rng, 120, 3, 1)
    gallery_groups = rng.integers(0, 6, 120)
    targets = rng.integers(0, 120, 50)
    sims = q @ g.T
    same_group = gallery_groups[None, :] == gallery_groups[targets][:, None]
    ranks = ((sims >= sims[np.arange(50), targets][:, None]) & same_group).sum(axis=1)
    expected = {f"Acc@{k}": 100.0 * float(np.mean(ranks <= k)) for k in (1, 5, 10)}
    actual = evaluate_fine_grained(
        q,
        targets,
        g,
        query_groups=gallery_groups[targets],
        gallery_groups=gallery_groups,
        chunk_size=chunk_size,
    )
    assert_close(actual, expected)
