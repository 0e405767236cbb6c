"""Optional, never the default: same-class metrics that depend on the top K only, from a faiss index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.api.evaluation import Rankings
from bench.evaluation.measures import MetricSet, exact_mean
from bench.evaluation.ranking.category import queries_with_relevant
from bench.evaluation.ranking.chunks import chunk_rows
from bench.evaluation.ranking.inputs import ArrayLike, check_length, encode_labels, features_pair

_TOPK_BYTES_PER_CELL = 24
"""Bytes per (query, neighbour) cell of the faiss top-K path: scores, indices, ranks, metric values."""


@dataclass(frozen=True)
class TopKResult:
    """Metrics from :func:`top_k_scores_faiss`, and how they were obtained."""

    metrics: dict[str, float]
    """Each metric's mean over the queries with R > 0."""
    method: str
    """The index used, e.g. ``"faiss Flat (exhaustive: exact up to the order of tied similarities)"``."""
    exact_up_to_ties: bool
    """Whether the index searched exhaustively (a flat index); False for approximate indexes."""


def top_k_scores_faiss(
    query_feats: ArrayLike,
    query_labels: ArrayLike,
    gallery_feats: ArrayLike,
    gallery_labels: ArrayLike,
    metrics: MetricSet,
    *,
    index: str = "Flat",
    nprobe: int | None = None,
    chunk_size: int | None = None,
) -> TopKResult:
    """Same-class metrics that depend on the top K only, from a faiss inner-product index: an
    optional path for galleries too large for :func:`same_class_scores`, which stays the exact
    reference and is never replaced by it.

    Every metric must take a cut-off K and declare ``top_k_only`` (``bench list metrics``); the
    ranks are those of the top max(K) neighbours (R from the labels; queries
    with R = 0 left out). ``index`` is a faiss index-factory string. ``"Flat"`` (IndexFlatIP)
    searches exhaustively, so it finds the same neighbours as the exact path except in the order of
    tied similarities, which faiss does not break by gallery index (and faiss computes its own
    float32 dot products, which may differ from torch's in the last bit, so near-ties may swap as
    well). Other indexes (``"IVF1024,Flat"``, ``"HNSW32"``, ...) are approximate, and the result says
    so. Needs the optional dependency ``pip install 'sbir-bench[faiss]'`` (faiss-cpu).

    Raises:
        ImportError: without faiss.
        ValueError: as :func:`same_class_scores`, a metric that needs the whole ranking, or nprobe < 1.
    """
    whole = [m.name for m in metrics if m.metric.k is None or not m.metric.info.top_k_only]
    if whole:
        raise ValueError(
            f"{', '.join(whole)} need the whole ranking; a top-K search computes metrics with a cut-off "
            "K that depend on the top K only (MetricInfo.top_k_only)."
        )
    faiss = _import_faiss()
    if nprobe is not None and nprobe < 1:
        raise ValueError(f"nprobe must be a positive integer, got {nprobe!r}.")
    queries, gallery = features_pair(query_feats, gallery_feats)
    query_ids, gallery_ids = encode_labels(query_labels, gallery_labels)
    check_length(query_ids, queries, "query_labels", "query_feats")
    check_length(gallery_ids, gallery, "gallery_labels", "gallery_feats")
    kept, num_relevant = queries_with_relevant(query_ids, gallery_ids)
    searcher = _faiss_index(faiss, index, gallery.numpy(), nprobe)
    depth = min(max(m.metric.k for m in metrics), len(gallery))
    per_query = np.empty((len(metrics), len(kept)))
    step = chunk_rows(chunk_size, depth, _TOPK_BYTES_PER_CELL)
    for start in range(0, len(kept), step):
        rows = kept[start : start + step]
        _, neighbours = searcher.search(queries[rows].numpy(), depth)
        ranks = _hit_ranks(neighbours, gallery_ids.numpy(), query_ids[rows].numpy())
        relevant = num_relevant[start : start + step].numpy()
        rankings = Rankings(ranks, relevant, np.full(len(rows), len(gallery), dtype=np.int64))
        per_query[:, start : start + step] = metrics.values(rankings)
    exhaustive = isinstance(searcher, faiss.IndexFlat)
    detail = "exhaustive: exact up to the order of tied similarities" if exhaustive else "approximate"
    return TopKResult(
        metrics={name: exact_mean(values) for name, values in zip(metrics.names, per_query, strict=True)},
        method=f"faiss {index}{'' if nprobe is None else f' nprobe={nprobe}'} ({detail})",
        exact_up_to_ties=exhaustive,
    )


def _import_faiss() -> Any:
    """The faiss module, or an ImportError that says how to install it."""
    try:
        import faiss
    except ImportError as error:
        raise ImportError(
            "top_k_scores_faiss needs faiss: pip install 'sbir-bench[faiss]' (faiss-cpu). "
            "The exact path (bench.score) needs no extra dependency."
        ) from error
    return faiss


def _faiss_index(faiss: Any, factory: str, gallery: np.ndarray, nprobe: int | None) -> Any:
    """A faiss inner-product index over the (Ng, D) float32 gallery, trained on it when needed."""
    index = faiss.index_factory(gallery.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        index.train(gallery)
    index.add(gallery)
    if nprobe is not None:
        faiss.ParameterSpace().set_index_parameter(index, "nprobe", nprobe)
    return index


def _hit_ranks(neighbours: np.ndarray, gallery_ids: np.ndarray, query_ids: np.ndarray) -> np.ndarray:
    """Ranks of the relevant items among each query's neighbours.

    Args:
        neighbours: (B, W) int64 gallery indices, most similar first (-1: no result).
        gallery_ids: (Ng,) int64 class ids; query_ids: (B,) int64 class ids.

    Returns:
        (B, W) float64 ascending 1-based ranks of the relevant neighbours, +inf after the last.
    """
    relevant = (neighbours >= 0) & (gallery_ids[neighbours] == query_ids[:, None])
    return np.sort(np.where(relevant, np.arange(1, neighbours.shape[1] + 1), np.inf), axis=1)
