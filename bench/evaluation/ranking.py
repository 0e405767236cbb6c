"""Ranking a gallery for every query, streamed over query chunks: what every metric is computed from.

Similarity is the dot product of the given features, computed in float32 on the CPU (callers
L2-normalise; tensors on another device are copied to the CPU). The full query x gallery similarity
matrix is never held: queries are processed in chunks whose similarity block stays around
:data:`WORKING_SET_BYTES` (override with ``chunk_size``). Each chunk becomes a
:class:`bench.Rankings` (the ranks of each query's relevant items, R and the number of candidates C),
from which the run's metrics (:class:`~bench.evaluation.measures.MetricSet`, registered by plugins)
compute their per-query values. The relevance rules (:data:`bench.RELEVANCE`):

``same-class`` (:func:`same_class_scores`): the gallery items with the query's label are relevant.
The gallery is ordered by descending similarity; equal similarities keep ascending gallery index
(a stable sort), so among ties the lower gallery index ranks first. Ties are decided on the float32
similarities as computed. The rank of a relevant item with similarity s and gallery index g is
1 + #(items with similarity > s) + #(items with similarity == s and index < g). Each query's
similarities are sorted once (numpy's vectorised sort, values only) and the first count is a binary
search of each relevant similarity; the second is counted directly for the few similarities that
occur more than once in a row (a stable sort of the row when there are many). Rows are ranked in
blocks of one class on a thread pool of ``torch.get_num_threads()`` threads, each block's metrics
computed in its thread. Queries with R = 0 are left out of every mean.

``paired`` (:func:`paired_scores`): the query's paired photo is its one relevant item; its rank is
the number of candidates whose similarity is >= the paired photo's (ties count against the query).
With groups, each query is ranked against its own group's gallery items only (a gallery split by
class). Queries without their paired photo in the gallery are left out.

Optional, never the default: :func:`top_k_scores_faiss` computes metrics that depend on the top K
only (``MetricInfo.top_k_only``) from a faiss index, for galleries too large for the exact path; its
result names the index and whether it was exhaustive (exact up to the order of ties).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bench.api.evaluation import Rankings
from bench.evaluation.measures import MetricSet, exact_mean

WORKING_SET_BYTES = 256 * 2**20
"""Target size of one query chunk's similarity block, in bytes."""

_CATEGORY_BYTES_PER_CELL = 4
"""Bytes per (query, gallery item) cell of a category chunk: its float32 similarity block (the
worker threads' sorted copies are bounded by :data:`_BLOCK_ROWS` rows each)."""

_PAIRED_BYTES_PER_CELL = 5
"""Bytes per (query, gallery item) cell of paired ranking: similarities and one mask."""

_TOPK_BYTES_PER_CELL = 24
"""Bytes per (query, neighbour) cell of the faiss top-K path: scores, indices, ranks, metric values."""

_BLOCK_ROWS = 32
"""Queries a worker thread ranks at a time: enough to amortise per-block overhead, few enough to
balance the threads at the end of a chunk."""

_MAX_TIED_VALUES = 16
"""Above this many distinct tied relevant similarities in one row, the row is ranked by a stable
sort instead of one equality pass per tied value."""

ArrayLike = Any
"""A numpy array, torch tensor or sequence."""


@dataclass(frozen=True)
class QueryScores:
    """Per-query metric values and ranking facts, in the caller's query order.

    ``values`` maps each metric name (in the metric set's order) to a (Nq,) float64 array, NaN for
    the queries the run leaves out (no relevant item); ``first_relevant_rank`` is the (Nq,) int64
    rank of each query's most similar relevant item (0 where left out); ``num_relevant`` and
    ``num_candidates`` the (Nq,) int64 R and C of each query (R = 0 where left out).
    ``relevant_ranks`` (only when asked for: ``keep_ranks``) holds per query the (R,) ascending int64
    ranks of its relevant items, exactly as the metrics saw them (empty where left out).
    """

    values: dict[str, np.ndarray]
    first_relevant_rank: np.ndarray
    num_relevant: np.ndarray
    num_candidates: np.ndarray
    relevant_ranks: list[np.ndarray] | None = None

    @property
    def evaluated(self) -> np.ndarray:
        """(Nq,) bool: the queries with a relevant item, which the run's values cover."""
        return self.num_relevant > 0


def same_class_scores(
    query_feats: ArrayLike,
    query_labels: ArrayLike,
    gallery_feats: ArrayLike,
    gallery_labels: ArrayLike,
    metrics: MetricSet,
    *,
    chunk_size: int | None = None,
    keep_ranks: bool = False,
) -> QueryScores:
    """Per-query values of ``metrics`` when the gallery items sharing a query's label are relevant.

    Args:
        query_feats: (Nq, D) query features; query_labels: (Nq,) class labels (ints or strings).
        gallery_feats: (Ng, D) gallery features, Ng >= 1; gallery_labels: (Ng,) class labels,
            comparable with ``query_labels``.
        metrics: the metrics to compute.
        chunk_size: queries per chunk; default keeps a chunk near :data:`WORKING_SET_BYTES`.
        keep_ranks: also return every relevant item's rank (``QueryScores.relevant_ranks``).

    Raises:
        ValueError: on inconsistent shapes, empty query or gallery sets, when no query has a
            relevant gallery item, or when a similarity overflows to NaN.
    """
    queries, gallery = _features_pair(query_feats, gallery_feats)
    query_ids, gallery_ids = _encode_labels(query_labels, gallery_labels)
    _check_length(query_ids, queries, "query_labels", "query_feats")
    _check_length(gallery_ids, gallery, "gallery_labels", "gallery_feats")
    kept, _ = _queries_with_relevant(query_ids, gallery_ids)
    order = kept[torch.sort(query_ids[kept], stable=True).indices]  # kept queries, grouped by class
    step = _chunk_size(chunk_size, len(gallery), _CATEGORY_BYTES_PER_CELL)
    kept_ranks: list[np.ndarray] | None = [] if keep_ranks else None
    per_query, first_ranks = _class_ranked_values(
        queries[order], query_ids[order], gallery, gallery_ids, metrics, step, kept_ranks
    )
    rows = order.numpy()
    values = {}
    for name, row_values in zip(metrics.names, per_query, strict=True):
        values[name] = np.full(len(queries), np.nan)
        values[name][rows] = row_values
    first = np.zeros(len(queries), dtype=np.int64)
    first[rows] = first_ranks
    candidates = np.full(len(queries), len(gallery), dtype=np.int64)
    relevant_ranks = None
    if kept_ranks is not None:
        relevant_ranks = [np.zeros(0, dtype=np.int64)] * len(queries)
        for row, ranks in zip(rows.tolist(), kept_ranks, strict=True):
            relevant_ranks[row] = ranks
    num_relevant = _num_relevant(query_ids, gallery_ids).numpy()
    return QueryScores(values, first, num_relevant, candidates, relevant_ranks)


def paired_scores(
    query_feats: ArrayLike,
    query_targets: ArrayLike,
    gallery_feats: ArrayLike,
    metrics: MetricSet,
    *,
    query_groups: ArrayLike | None = None,
    gallery_groups: ArrayLike | None = None,
    chunk_size: int | None = None,
    keep_ranks: bool = False,
) -> QueryScores:
    """Per-query values of ``metrics`` when each query's paired photo is its one relevant item.

    Args:
        query_feats: (Nq, D) query features, Nq >= 1.
        query_targets: (Nq,) integer gallery index of each query's paired photo, -1 for a query
            whose photo is not in the gallery (left out).
        gallery_feats: (Ng, D) gallery features, Ng >= 1.
        metrics: the metrics to compute.
        query_groups: (Nq,) optional group of each query (ints or strings); with ``gallery_groups``,
            each query is ranked only against the gallery items of its own group.
        gallery_groups: (Ng,) optional group of each gallery item; given together with
            ``query_groups``.
        chunk_size: queries per chunk; default keeps a chunk near :data:`WORKING_SET_BYTES`.
        keep_ranks: also return the paired photo's rank as ``QueryScores.relevant_ranks``.

    Raises:
        ValueError: on inconsistent shapes, empty query or gallery sets, no query with a target,
            a target index out of range, only one of the groups given, or a target outside its
            query's group.
    """
    queries, gallery = _features_pair(query_feats, gallery_feats)
    targets = _as_1d_array(query_targets, "query_targets")
    if targets.dtype.kind not in "iu":
        raise ValueError(f"query_targets must hold integer gallery indices, got dtype {targets.dtype}.")
    _check_length(targets, queries, "query_targets", "query_feats")
    if (targets < -1).any():
        first = int(np.flatnonzero(targets < -1)[0])
        raise ValueError(
            f"Target index out of range: query {first} has target {int(targets[first])} "
            "(valid: a gallery index, or -1 for a query whose photo is not in the gallery)."
        )
    paired = targets >= 0
    if not paired.any():
        raise ValueError("no query sketch has its paired photo in the gallery")
    groups = {}
    if query_groups is not None:
        query_group_array = _as_1d_array(query_groups, "query_groups")
        _check_length(query_group_array, queries, "query_groups", "query_feats")
        groups = {"query_groups": query_group_array[paired]}
    if gallery_groups is not None:
        groups["gallery_groups"] = gallery_groups
    ranks = paired_ranks(
        queries[torch.from_numpy(paired)], targets[paired], gallery, chunk_size=chunk_size, **groups
    )
    candidates = np.zeros(len(targets), dtype=np.int64)
    if query_groups is not None and gallery_groups is not None:
        query_ids, gallery_ids = _encode_labels(
            query_groups, gallery_groups, ("query_groups", "gallery_groups")
        )
        sizes = torch.bincount(gallery_ids, minlength=int(query_ids.max()) + 1).numpy()
        candidates[paired] = sizes[query_ids.numpy()[paired]]
    else:
        candidates[paired] = len(gallery)
    rankings = Rankings(ranks[:, None], np.ones(len(ranks), dtype=np.int64), candidates[paired])
    values = {}
    for measure, row_values in zip(metrics, metrics.values(rankings), strict=True):
        values[measure.name] = np.full(len(targets), np.nan)
        values[measure.name][paired] = row_values
    first = np.zeros(len(targets), dtype=np.int64)
    first[paired] = ranks
    relevant_ranks = [first[row : row + 1] if paired[row] else first[:0] for row in range(len(first))]
    return QueryScores(
        values, first, paired.astype(np.int64), candidates, relevant_ranks if keep_ranks else None
    )


def paired_ranks(
    query_feats: ArrayLike,
    query_targets: ArrayLike,
    gallery_feats: ArrayLike,
    *,
    query_groups: ArrayLike | None = None,
    gallery_groups: ArrayLike | None = None,
    chunk_size: int | None = None,
) -> np.ndarray:
    """(Nq,) int64 rank of each query's paired photo among its candidates (1 = best; ties count
    against the query); every query has a target (arguments as :func:`paired_scores`)."""
    queries, gallery = _features_pair(query_feats, gallery_feats)
    targets = _targets(query_targets, queries, len(gallery))
    query_group_ids, gallery_group_ids = _groups(query_groups, gallery_groups, queries, gallery, targets)

    ranks = np.empty(len(queries), dtype=np.int64)
    for query_rows, gallery_columns in _group_members(query_group_ids, gallery_group_ids, len(queries)):
        if gallery_columns is None:
            candidates, local_targets = gallery, targets
        else:
            candidates = gallery[gallery_columns]
            local_targets = _local_indices(gallery_columns, len(gallery))[targets]
        step = _chunk_size(chunk_size, len(candidates), _PAIRED_BYTES_PER_CELL)
        for start in range(0, len(query_rows), step):
            rows = query_rows[start : start + step]
            ranks[rows.numpy()] = _target_ranks(queries[rows], local_targets[rows], candidates)
    return ranks


def _class_ranked_values(
    queries: torch.Tensor,
    query_ids: torch.Tensor,
    gallery: torch.Tensor,
    gallery_ids: torch.Tensor,
    metrics: MetricSet,
    step: int,
    kept_ranks: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-query metric values, streamed over chunks of ``step`` queries.

    Args:
        queries: (Nq, D) float32, sorted by class; query_ids: (Nq,) int64 class ids, each with R > 0.
        gallery: (Ng, D) float32; gallery_ids: (Ng,) int64 class ids.
        kept_ranks: when given, receives each query's (R,) int64 ascending relevant ranks, in order.

    Returns:
        (M, Nq) float64 values, rows in the metric set's order, and (Nq,) int64 the rank of each
        query's most similar relevant item.
    """
    per_query = np.empty((len(metrics), len(queries)))
    first_ranks = np.empty(len(queries), dtype=np.int64)
    columns = _class_columns(gallery_ids.numpy())
    sims = torch.empty(min(step, len(queries)), len(gallery))  # reused: no allocation per chunk
    with ThreadPoolExecutor(torch.get_num_threads()) as pool:
        for start in range(0, len(queries), step):
            chunk = slice(start, start + step)
            chunk_sims = torch.mm(queries[chunk], gallery.T, out=sims[: len(queries[chunk])]).numpy()
            blocks = _class_blocks(query_ids[chunk].numpy())
            futures = [
                pool.submit(_block_values, chunk_sims[rows], columns[class_id], metrics)
                for rows, class_id in blocks
            ]
            for (rows, _), future in zip(blocks, futures, strict=True):
                block = slice(start + rows.start, start + rows.stop)
                per_query[:, block], ranks = future.result()
                first_ranks[block] = ranks[:, 0]
                if kept_ranks is not None:
                    kept_ranks.extend(ranks)
    return per_query, first_ranks


def _block_values(sims: np.ndarray, columns: np.ndarray, metrics: MetricSet) -> tuple[np.ndarray, np.ndarray]:
    """(M, B) float64 metric values of B queries of one class from their (B, Ng) float32
    similarities and the (R,) ascending gallery indices of the class, and the (B, R) int64 ranks of
    their relevant items (each row ascending)."""
    ranks = _relevant_ranks(sims, columns)
    count = len(ranks)
    rankings = Rankings(
        ranks, np.full(count, ranks.shape[1], dtype=np.int64), np.full(count, sims.shape[1], dtype=np.int64)
    )
    return metrics.values(rankings), ranks


def top_gallery_items(
    query_feats: ArrayLike,
    gallery_feats: ArrayLike,
    k: int,
    *,
    query_groups: ArrayLike | None = None,
    gallery_groups: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(Nq, k) int64 gallery indices of each query's k most similar candidates, most similar first,
    ties by ascending gallery index (the ranking of the metrics), and (Nq, k) float32 their
    similarities; -1 (and NaN) pad a row with fewer than k candidates. With groups, a query's
    candidates are its own group's gallery items."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}.")
    queries, gallery = _features_pair(query_feats, gallery_feats)
    top = np.full((len(queries), k), -1, dtype=np.int64)
    top_sims = np.full((len(queries), k), np.nan, dtype=np.float32)
    if query_groups is None or gallery_groups is None:
        members = [(np.arange(len(queries)), np.arange(len(gallery)))]
    else:
        query_ids, gallery_ids = _encode_labels(
            query_groups, gallery_groups, ("query_groups", "gallery_groups")
        )
        members = [
            (np.flatnonzero(query_ids.numpy() == group), np.flatnonzero(gallery_ids.numpy() == group))
            for group in np.unique(query_ids.numpy())
        ]
    for rows, columns in members:
        step = _chunk_size(None, max(len(columns), 1), _PAIRED_BYTES_PER_CELL)
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            sims = (queries[torch.from_numpy(chunk)] @ gallery[torch.from_numpy(columns)].T).numpy()
            width = min(k, len(columns))
            for row, line in zip(chunk, sims, strict=True):
                threshold = np.partition(line, len(line) - width)[len(line) - width]
                candidates = np.flatnonzero(line >= threshold)  # ascending index: ties stay in order
                best = candidates[np.argsort(-line[candidates], kind="stable")[:width]]
                top[row, :width] = columns[best]
                top_sims[row, :width] = line[best]
    return top, top_sims


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
    queries, gallery = _features_pair(query_feats, gallery_feats)
    query_ids, gallery_ids = _encode_labels(query_labels, gallery_labels)
    _check_length(query_ids, queries, "query_labels", "query_feats")
    _check_length(gallery_ids, gallery, "gallery_labels", "gallery_feats")
    kept, num_relevant = _queries_with_relevant(query_ids, gallery_ids)
    searcher = _faiss_index(faiss, index, gallery.numpy(), nprobe)
    depth = min(max(m.metric.k for m in metrics), len(gallery))
    per_query = np.empty((len(metrics), len(kept)))
    step = _chunk_size(chunk_size, depth, _TOPK_BYTES_PER_CELL)
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


def _queries_with_relevant(
    query_ids: torch.Tensor, gallery_ids: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(K,) int64 indices of the queries with R > 0, ascending, and (K,) their R.

    Raises:
        ValueError: when no query has a relevant gallery item.
    """
    num_relevant = _num_relevant(query_ids, gallery_ids)
    kept = (num_relevant > 0).nonzero().squeeze(1)
    if len(kept) == 0:
        raise ValueError(
            "No query has a relevant gallery item (R = 0 for all queries): no query label occurs "
            "among the gallery labels."
        )
    return kept, num_relevant[kept]


def _class_columns(gallery_ids: np.ndarray) -> list[np.ndarray]:
    """(Ng,) int64 class ids -> per class id, the ascending (R,) int64 gallery indices of that class."""
    order = np.argsort(gallery_ids, kind="stable")
    return np.split(order, np.cumsum(np.bincount(gallery_ids))[:-1])


def _class_blocks(class_ids: np.ndarray) -> list[tuple[slice, int]]:
    """Split (B,) class ids sorted by class into (rows, class id) blocks of one class, at most
    :data:`_BLOCK_ROWS` rows each."""
    bounds = [0, *(np.flatnonzero(np.diff(class_ids)) + 1).tolist(), len(class_ids)]
    return [
        (slice(start, min(start + _BLOCK_ROWS, end)), int(class_ids[begin]))
        for begin, end in zip(bounds[:-1], bounds[1:], strict=True)
        for start in range(begin, end, _BLOCK_ROWS)
    ]


def _relevant_ranks(sims: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Ranks of the relevant gallery items (1 = most similar; ties by ascending gallery index).

    Args:
        sims: (B, Ng) float32 similarities of B queries of one class.
        columns: (R,) int64 ascending gallery indices of that class, R >= 1.

    Returns:
        (B, R) int64, each row ascending.

    Raises:
        ValueError: if a similarity is NaN (an overflowing dot product).
    """
    relevant = sims[:, columns]
    values = np.sort(relevant, axis=1)
    ordered = np.sort(sims, axis=1)
    if np.isnan(ordered[:, -1]).any():
        raise ValueError("A similarity is NaN: the features overflow float32 dot products.")
    at_or_below = np.stack(
        [np.searchsorted(line, needles, side="right") for line, needles in zip(ordered, values, strict=True)]
    )
    ranks = sims.shape[1] + 1 - at_or_below  # 1 + number of items more similar
    previous = np.take_along_axis(ordered, np.maximum(at_or_below - 2, 0), axis=1)
    tied = (at_or_below >= 2) & (previous == values)  # the similarity occurs more than once in the row
    for row in np.flatnonzero(tied.any(axis=1)):
        tied_values = np.unique(values[row][tied[row]])
        _break_ties(ranks[row], sims[row], relevant[row], values[row], columns, tied_values)
    ranks.sort(axis=1)
    return ranks


def _break_ties(
    ranks: np.ndarray,
    sims: np.ndarray,
    relevant: np.ndarray,
    values: np.ndarray,
    columns: np.ndarray,
    tied_values: np.ndarray,
) -> None:
    """Add the tie-break to one query's ranks, in place.

    Args:
        ranks: (R,) int64, 1 + items more similar, at the positions of ``values``.
        sims: (Ng,) float32 similarities; relevant: (R,) those of ``columns``; values: (R,) sorted.
        columns: (R,) int64 ascending gallery indices of the relevant items.
        tied_values: (T,) distinct relevant similarities that occur more than once in ``sims``.
    """
    if len(tied_values) > _MAX_TIED_VALUES:
        ranks[:] = _ranks_by_sorting(sims, columns)
        return
    for value in tied_values:
        slots = np.flatnonzero(values == value)
        equal = np.flatnonzero(sims == value)  # every item with this similarity, by gallery index
        ranks[slots] = ranks[slots[0]] + np.searchsorted(equal, columns[relevant == value])


def _ranks_by_sorting(sims: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """(R,) int64 ranks of the items ``columns`` (R,) from a stable sort of one row (Ng,) of ``sims``."""
    position = np.empty(len(sims), dtype=np.int64)
    position[np.argsort(-sims, kind="stable")] = np.arange(1, len(sims) + 1)
    return position[columns]


def _group_members(
    query_groups: torch.Tensor | None, gallery_groups: torch.Tensor | None, num_queries: int
) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """(query rows, gallery columns) per group, ascending int64 indices; one pair with columns None
    (the whole gallery) without groups.

    Args:
        query_groups: (Nq,) int64 group ids or None; gallery_groups: (Ng,) int64 group ids or None.
    """
    if query_groups is None or gallery_groups is None:
        return [(torch.arange(num_queries), None)]
    size = int(max(query_groups.max(), gallery_groups.max())) + 1
    members = [
        torch.sort(ids, stable=True).indices.split(torch.bincount(ids, minlength=size).tolist())
        for ids in (query_groups, gallery_groups)
    ]
    return [(rows, columns) for rows, columns in zip(*members, strict=True) if len(rows)]


def _local_indices(columns: torch.Tensor, num_gallery: int) -> torch.Tensor:
    """(Ng,) int64: the position of each gallery index within ``columns`` (C,) (-1 where absent)."""
    local = torch.full((num_gallery,), -1, dtype=torch.int64)
    local[columns] = torch.arange(len(columns))
    return local


def _target_ranks(queries: torch.Tensor, targets: torch.Tensor, gallery: torch.Tensor) -> np.ndarray:
    """(B,) int64 rank of each query's paired photo (1 = best; ties count against the query).

    Args:
        queries: (B, D) float32; targets: (B,) int64 indices into ``gallery``; gallery: (C, D) float32.
    """
    sims = (queries @ gallery.T).numpy()
    return np.count_nonzero(sims >= np.take_along_axis(sims, targets.numpy()[:, None], axis=1), axis=1)


def _num_relevant(query_ids: torch.Tensor, gallery_ids: torch.Tensor) -> torch.Tensor:
    """(Nq,) int64 number of gallery items sharing each query's class id."""
    counts = torch.bincount(gallery_ids, minlength=len(query_ids) + len(gallery_ids))  # ids < that
    return counts[query_ids]


def _chunk_size(chunk_size: int | None, num_gallery: int, bytes_per_cell: int) -> int:
    """Queries per chunk: ``chunk_size`` if given, else as many as fit in WORKING_SET_BYTES."""
    if chunk_size is None:
        return max(1, WORKING_SET_BYTES // (bytes_per_cell * num_gallery))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    return chunk_size


def _features_pair(query_feats: ArrayLike, gallery_feats: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    """Query (Nq, D) and gallery (Ng, D) float32 CPU features.

    Raises:
        ValueError: if either is not 2-D, not finite or empty, or D differs.
    """
    queries = _as_features(query_feats, "query_feats")
    gallery = _as_features(gallery_feats, "gallery_feats")
    if len(queries) == 0:
        raise ValueError("query_feats is empty: evaluation needs at least one query.")
    if len(gallery) == 0:
        raise ValueError("gallery_feats is empty: retrieval needs at least one gallery item.")
    if queries.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"Feature dimensions differ: query_feats has {queries.shape[1]} columns, "
            f"gallery_feats has {gallery.shape[1]}."
        )
    return queries, gallery


def _as_features(feats: ArrayLike, name: str) -> torch.Tensor:
    """(N, D) float32 contiguous CPU tensor from a numpy array or tensor, checked to be 2-D and finite."""
    tensor = feats.detach() if isinstance(feats, torch.Tensor) else torch.as_tensor(np.asarray(feats))
    if tensor.ndim != 2:
        raise ValueError(f"{name} must be 2-D (items x dimensions), got shape {tuple(tensor.shape)}.")
    tensor = tensor.to(device="cpu", dtype=torch.float32).contiguous()
    if not _all_finite(tensor):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return tensor


def _all_finite(tensor: torch.Tensor) -> bool:
    """Whether every entry of a (N, D) tensor is finite: NaN propagates to the minimum and maximum,
    and an infinite entry is one of them."""
    if tensor.numel() == 0:
        return True
    low, high = torch.aminmax(tensor)
    return bool(torch.isfinite(low) & torch.isfinite(high))


def _encode_labels(
    query_labels: ArrayLike,
    gallery_labels: ArrayLike,
    names: tuple[str, str] = ("query_labels", "gallery_labels"),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Map query and gallery labels (ints, strings or objects) to shared ids: equal labels, equal ids.

    Args:
        query_labels: (Nq,) labels; gallery_labels: (Ng,) labels.
        names: the arguments' names, for error messages.

    Returns:
        (Nq,) and (Ng,) int64 CPU tensors of ids in [0, number of distinct labels).
    """
    query_array, gallery_array = _as_1d_array(query_labels, names[0]), _as_1d_array(gallery_labels, names[1])
    joined = np.concatenate([query_array, gallery_array])
    if joined.dtype.kind == "O":
        index: dict[Any, int] = {}
        ids = np.fromiter((index.setdefault(v, len(index)) for v in joined.tolist()), np.int64, len(joined))
    else:
        ids = np.unique(joined, return_inverse=True)[1].reshape(-1).astype(np.int64)
    ids_tensor = torch.from_numpy(ids)
    return ids_tensor[: len(query_array)], ids_tensor[len(query_array) :]


def _as_1d_array(values: ArrayLike, name: str) -> np.ndarray:
    """1-D numpy array from a tensor, array or sequence; ``name`` is used in the error message."""
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}.")
    return array


def _check_length(values: torch.Tensor, feats: torch.Tensor, values_name: str, feats_name: str) -> None:
    """Raise ValueError unless ``values`` has one entry per row of ``feats``."""
    if len(values) != len(feats):
        raise ValueError(
            f"Lengths differ: {values_name} has {len(values)} entries but {feats_name} has {len(feats)} rows."
        )


def _targets(query_targets: ArrayLike, queries: torch.Tensor, num_gallery: int) -> torch.Tensor:
    """(Nq,) int64 CPU target gallery indices, checked for length against ``queries`` (Nq, D), integer
    dtype and range [0, Ng)."""
    array = _as_1d_array(query_targets, "query_targets")
    if array.dtype.kind not in "iu":
        raise ValueError(f"query_targets must hold integer gallery indices, got dtype {array.dtype}.")
    targets = torch.from_numpy(array.astype(np.int64))
    _check_length(targets, queries, "query_targets", "query_feats")
    bad = (targets < 0) | (targets >= num_gallery)
    if bool(bad.any()):
        first = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"Target index out of range: query {first} has target {int(targets[first])}, "
            f"but the gallery has {num_gallery} items (valid: 0..{num_gallery - 1})."
        )
    return targets


def _groups(
    query_groups: ArrayLike | None,
    gallery_groups: ArrayLike | None,
    queries: torch.Tensor,
    gallery: torch.Tensor,
    targets: torch.Tensor,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Shared int64 group ids (Nq,) and (Ng,), or (None, None) when no groups are given.

    Raises:
        ValueError: if only one of the groups is given, a length differs from its features, or a
            query's target lies outside the query's group.
    """
    if query_groups is None and gallery_groups is None:
        return None, None
    if query_groups is None or gallery_groups is None:
        raise ValueError("Give both query_groups and gallery_groups, or neither.")
    query_ids, gallery_ids = _encode_labels(query_groups, gallery_groups, ("query_groups", "gallery_groups"))
    _check_length(query_ids, queries, "query_groups", "query_feats")
    _check_length(gallery_ids, gallery, "gallery_groups", "gallery_feats")
    outside = gallery_ids[targets] != query_ids
    if bool(outside.any()):
        first = int(outside.nonzero()[0, 0])
        raise ValueError(
            f"Query {first}'s target (gallery index {int(targets[first])}) is not in the query's own "
            f"group: each target must share its query's group."
        )
    return query_ids, gallery_ids
