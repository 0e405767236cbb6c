"""Tests for the optional faiss top-K path, bench.evaluation.ranking.top_k_scores_faiss: with a stand-in
faiss module (so they run without the optional dependency), with the real faiss when installed, and
its error without faiss."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from bench.evaluation.ranking import top_k_scores_faiss
from tests.helpers.retrieval import category_metrics as evaluate_category
from tests.helpers.retrieval import category_names, metric_set

MAP_K, PREC_K = (1, 5, 200), (1, 10, 200)


def evaluate_category_topk_faiss(q, ql, g, gl, *, map_k=(200,), prec_k=(100, 200), **options):
    """The top-K category metrics (no mAP@all) from a faiss index."""
    names = [name for name in category_names(map_k, prec_k) if not name.startswith("mAP@all")]
    return top_k_scores_faiss(q, ql, g, gl, metric_set(names), **options)


class FakeFlatIndex:
    """Exhaustive inner-product search, ties by ascending gallery index (no training needed)."""

    is_trained = True

    def add(self, gallery: np.ndarray) -> None:
        self.gallery = gallery

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        sims = queries.astype(np.float64) @ self.gallery.T.astype(np.float64)
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(sims, order, axis=1), order


class FakeApproximateIndex:
    """Not a flat index: trained before use; returns the first ``nprobe`` neighbours, then -1."""

    is_trained = False
    nprobe = 2

    def __init__(self) -> None:
        self.flat = FakeFlatIndex()

    def train(self, gallery: np.ndarray) -> None:
        self.is_trained = True

    def add(self, gallery: np.ndarray) -> None:
        assert self.is_trained
        self.flat.add(gallery)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, neighbours = self.flat.search(queries, k)
        neighbours[:, self.nprobe :] = -1
        return scores, neighbours


def fake_index_factory(dim: int, factory: str, metric: int) -> FakeFlatIndex | FakeApproximateIndex:
    return FakeFlatIndex() if factory == "Flat" else FakeApproximateIndex()


@pytest.fixture
def fake_faiss(monkeypatch) -> types.SimpleNamespace:
    """A stand-in faiss module: "Flat" builds a FakeFlatIndex, anything else a FakeApproximateIndex."""
    module = types.SimpleNamespace(
        IndexFlat=FakeFlatIndex,
        METRIC_INNER_PRODUCT=0,
        index_factory=fake_index_factory,
        ParameterSpace=lambda: types.SimpleNamespace(set_index_parameter=setattr),
    )
    monkeypatch.setitem(sys.modules, "faiss", module)
    return module


def tie_free_dataset(seed: int, num_gallery: int):
    """Integer features (exact dot products, practically no ties) and labels; class 4 has no photo."""
    rng = np.random.default_rng(seed)
    q = rng.integers(-1000, 1001, size=(30, 4)).astype(np.float32)
    g = rng.integers(-1000, 1001, size=(num_gallery, 4)).astype(np.float32)
    return q, rng.integers(0, 5, 30), g, rng.integers(0, 4, num_gallery)


def exact_top_k(q, ql, g, gl) -> dict[str, float]:
    metrics = evaluate_category(q, ql, g, gl, map_k=MAP_K, prec_k=PREC_K)
    return {key: value for key, value in metrics.items() if not key.startswith("mAP@all")}


@pytest.mark.parametrize(("num_gallery", "chunk_size"), [(300, None), (300, 7), (12, 1)])
def test_flat_index_equals_the_exact_top_k_metrics(fake_faiss, num_gallery, chunk_size):
    q, ql, g, gl = tie_free_dataset(0, num_gallery)  # 12 < K = 200: the search depth is the gallery
    result = evaluate_category_topk_faiss(q, ql, g, gl, map_k=MAP_K, prec_k=PREC_K, chunk_size=chunk_size)
    expected = exact_top_k(q, ql, g, gl)
    assert list(result.metrics) == list(expected)
    for key, value in expected.items():
        assert result.metrics[key] == pytest.approx(value, abs=1e-12), key
    assert result.exact_up_to_ties
    assert result.method == "faiss Flat (exhaustive: exact up to the order of tied similarities)"


def test_approximate_index_is_labelled_and_missing_results_count_as_misses(fake_faiss):
    q, ql, g, gl = tie_free_dataset(1, 50)
    result = evaluate_category_topk_faiss(q, ql, g, gl, map_k=(5,), prec_k=(5,), index="IVF4,Flat", nprobe=1)
    assert not result.exact_up_to_ties
    assert result.method == "faiss IVF4,Flat nprobe=1 (approximate)"
    # Only the first neighbour comes back, so P@5 is (hits at rank 1) / 5 averaged over queries with R > 0.
    scores = q @ g.T
    kept = np.isin(ql, gl)
    first_hit = gl[np.argmax(scores, axis=1)] == ql
    assert result.metrics["P@5"] == pytest.approx(first_hit[kept].mean() / 5)


def test_missing_faiss_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match=r"sbir-bench\[faiss\]"):
        evaluate_category_topk_faiss(np.eye(2), [0, 1], np.eye(2), [0, 1])


def test_bad_nprobe_is_an_error(fake_faiss):
    with pytest.raises(ValueError, match="nprobe"):
        evaluate_category_topk_faiss(np.eye(2), [0, 1], np.eye(2), [0, 1], nprobe=0)


def test_real_faiss_flat_and_ivf():
    pytest.importorskip("faiss")
    q, ql, g, gl = tie_free_dataset(2, 400)
    flat = evaluate_category_topk_faiss(q, ql, g, gl, map_k=MAP_K, prec_k=PREC_K)
    assert flat.exact_up_to_ties
    for key, value in exact_top_k(q, ql, g, gl).items():
        assert flat.metrics[key] == pytest.approx(value, abs=1e-12), key
    ivf = evaluate_category_topk_faiss(q, ql, g, gl, map_k=(5,), prec_k=(5,), index="IVF4,Flat", nprobe=2)
    assert not ivf.exact_up_to_ties and "approximate" in ivf.method
    assert all(0.0 <= value <= 1.0 for value in ivf.metrics.values())


def test_metrics_of_the_whole_ranking_are_refused(fake_faiss):
    with pytest.raises(ValueError, match="mAP@all need the whole ranking"):
        top_k_scores_faiss(np.eye(2), [0, 1], np.eye(2), [0, 1], metric_set(["mAP@all", "P@1"]))
    recall = top_k_scores_faiss(np.eye(2), [0, 1], np.eye(2), [0, 1], metric_set(["R@1"]))
    assert recall.metrics == {"R@1": 100.0}
