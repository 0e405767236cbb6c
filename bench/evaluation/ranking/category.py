"""``same-class`` and ``two-labels`` relevance: the gallery items sharing a query's label are relevant."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from bench.api.evaluation import Rankings
from bench.evaluation.measures import MetricSet
from bench.evaluation.ranking.chunks import chunk_rows
from bench.evaluation.ranking.inputs import ArrayLike, as_1d_array, check_length, encode_labels, features_pair
from bench.evaluation.ranking.scores import QueryScores, spread_values

_CATEGORY_BYTES_PER_CELL = 4
"""Bytes per (query, gallery item) cell of a category chunk: its float32 similarity block (the
worker threads' sorted copies are bounded by :data:`_BLOCK_ROWS` rows each)."""

_BLOCK_ROWS = 32
"""Queries a worker thread ranks at a time: enough to amortise per-block overhead, few enough to
balance the threads at the end of a chunk."""

_MAX_TIED_VALUES = 16
"""Above this many distinct tied relevant similarities in one row, the row is ranked by a stable
sort instead of one equality pass per tied value."""


def same_class_scores(
    query_feats: ArrayLike,
    query_labels: ArrayLike,
    gallery_feats: ArrayLike,
    gallery_labels: ArrayLike,
    metrics: MetricSet,
    *,
    query_second_labels: ArrayLike | None = None,
    chunk_size: int | None = None,
    keep_ranks: bool = False,
) -> QueryScores:
    """Per-query values of ``metrics`` when the gallery items sharing a query's label are relevant.

    Args:
        query_feats: (Nq, D) query features; query_labels: (Nq,) class labels (ints or strings).
        gallery_feats: (Ng, D) gallery features, Ng >= 1; gallery_labels: (Ng,) class labels,
            comparable with ``query_labels``.
        metrics: the metrics to compute.
        query_second_labels: (Nq,) optional second label of each query (``two-labels`` relevance),
            comparable with the labels: the ranks of the gallery items carrying it reach the
            metrics as :attr:`bench.Rankings.second_ranks`.
        chunk_size: queries per chunk; default keeps a chunk near :data:`WORKING_SET_BYTES`.
        keep_ranks: also return every relevant item's rank (``QueryScores.relevant_ranks``).

    Raises:
        ValueError: on inconsistent shapes, empty query or gallery sets, when no query has a
            relevant gallery item, or when a similarity overflows to NaN.
    """
    queries, gallery = features_pair(query_feats, gallery_feats)
    query_ids, gallery_ids, second_ids = _label_ids(query_labels, gallery_labels, query_second_labels)
    check_length(query_ids, queries, "query_labels", "query_feats")
    check_length(gallery_ids, gallery, "gallery_labels", "gallery_feats")
    kept, _ = queries_with_relevant(query_ids, gallery_ids)
    label_count = (
        None if second_ids is None else int(torch.cat([query_ids, gallery_ids, second_ids]).max()) + 1
    )
    keys = query_ids if second_ids is None else query_ids * label_count + second_ids
    order = kept[torch.sort(keys[kept], stable=True).indices]  # kept queries, grouped by class
    step = chunk_rows(chunk_size, len(gallery), _CATEGORY_BYTES_PER_CELL)
    kept_ranks: list[np.ndarray] | None = [] if keep_ranks else None
    per_query, first_ranks = _class_ranked_values(
        queries[order], keys[order], gallery, gallery_ids, metrics, step, label_count, kept_ranks
    )
    rows = order.numpy()
    values = spread_values(metrics.names, per_query, rows, len(queries))
    first = np.zeros(len(queries), dtype=np.int64)
    first[rows] = first_ranks
    candidates = np.full(len(queries), len(gallery), dtype=np.int64)
    relevant_ranks = None
    if kept_ranks is not None:
        relevant_ranks = [np.zeros(0, dtype=np.int64)] * len(queries)
        for row, ranks in zip(rows.tolist(), kept_ranks, strict=True):
            relevant_ranks[row] = ranks
    second = None if second_ids is None else count_relevant(second_ids, gallery_ids).numpy()
    num_relevant = count_relevant(query_ids, gallery_ids).numpy()
    return QueryScores(values, first, num_relevant, candidates, second, relevant_ranks)


def _label_ids(
    query_labels: ArrayLike, gallery_labels: ArrayLike, query_second_labels: ArrayLike | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Shared int64 ids of the (Nq,) query labels, (Ng,) gallery labels and, when given, the (Nq,)
    second labels of the queries (None otherwise): equal labels, equal ids.

    Raises:
        ValueError: when the second labels are not one per query label.
    """
    if query_second_labels is None:
        return (*encode_labels(query_labels, gallery_labels), None)
    first = as_1d_array(query_labels, "query_labels")
    second = as_1d_array(query_second_labels, "query_second_labels")
    if len(second) != len(first):
        raise ValueError(
            f"Lengths differ: query_second_labels has {len(second)} entries but query_labels has "
            f"{len(first)}."
        )
    both, gallery_ids = encode_labels(np.concatenate([first, second]), gallery_labels)
    return both[: len(first)], gallery_ids, both[len(first) :]


def _class_ranked_values(
    queries: torch.Tensor,
    query_ids: torch.Tensor,
    gallery: torch.Tensor,
    gallery_ids: torch.Tensor,
    metrics: MetricSet,
    step: int,
    label_count: int | None = None,
    kept_ranks: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-query metric values, streamed over chunks of ``step`` queries.

    Args:
        queries: (Nq, D) float32, sorted by ``query_ids``; query_ids: (Nq,) int64 class ids, each
            with R > 0, or with ``label_count`` (two labels) class id * label_count + second id.
        gallery: (Ng, D) float32; gallery_ids: (Ng,) int64 class ids.
        label_count: the number of label ids when queries carry a second label (None: one label).
        kept_ranks: when given, receives each query's (R,) int64 ascending relevant ranks, in order.

    Returns:
        (M, Nq) float64 values, rows in the metric set's order, and (Nq,) int64 the rank of each
        query's most similar relevant item.
    """
    per_query = np.empty((len(metrics), len(queries)))
    first_ranks = np.empty(len(queries), dtype=np.int64)
    columns = _class_columns(gallery_ids.numpy(), label_count or 0)
    sims = torch.empty(min(step, len(queries)), len(gallery))  # reused: no allocation per chunk
    with ThreadPoolExecutor(torch.get_num_threads()) as pool:
        for start in range(0, len(queries), step):
            chunk = slice(start, start + step)
            chunk_sims = torch.mm(queries[chunk], gallery.T, out=sims[: len(queries[chunk])]).numpy()
            blocks = _class_blocks(query_ids[chunk].numpy())
            futures = [
                pool.submit(
                    _block_values, chunk_sims[rows], *_block_columns(columns, key, label_count), metrics
                )
                for rows, key in blocks
            ]
            for (rows, _), future in zip(blocks, futures, strict=True):
                block = slice(start + rows.start, start + rows.stop)
                per_query[:, block], ranks = future.result()
                first_ranks[block] = ranks[:, 0]
                if kept_ranks is not None:
                    kept_ranks.extend(ranks)
    return per_query, first_ranks


def _block_columns(
    columns: list[np.ndarray], key: int, label_count: int | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The ascending gallery indices of a block's class and, with two labels, of its second label."""
    if label_count is None:
        return columns[key], None
    return columns[key // label_count], columns[key % label_count]


def _block_values(
    sims: np.ndarray, columns: np.ndarray, second_columns: np.ndarray | None, metrics: MetricSet
) -> tuple[np.ndarray, np.ndarray]:
    """(M, B) float64 metric values of B queries of one class from their (B, Ng) float32
    similarities and the (R,) ascending gallery indices of the class (and, for queries with a
    second label, the (R2,) indices of that label), and the (B, R) int64 ranks of their relevant
    items (each row ascending)."""
    ranks = _relevant_ranks(sims, columns)
    count = len(ranks)
    second: dict[str, np.ndarray] = {}
    if second_columns is not None:
        second["second_ranks"] = (
            _relevant_ranks(sims, second_columns) if len(second_columns) else np.full((count, 1), np.inf)
        )
        second["num_second"] = np.full(count, len(second_columns), dtype=np.int64)
    rankings = Rankings(
        ranks,
        np.full(count, ranks.shape[1], dtype=np.int64),
        np.full(count, sims.shape[1], dtype=np.int64),
        **second,
    )
    return metrics.values(rankings), ranks


def queries_with_relevant(
    query_ids: torch.Tensor, gallery_ids: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(K,) int64 indices of the queries with R > 0, ascending, and (K,) their R.

    Raises:
        ValueError: when no query has a relevant gallery item.
    """
    num_relevant = count_relevant(query_ids, gallery_ids)
    kept = (num_relevant > 0).nonzero().squeeze(1)
    if len(kept) == 0:
        raise ValueError(
            "No query has a relevant gallery item (R = 0 for all queries): no query label occurs "
            "among the gallery labels."
        )
    return kept, num_relevant[kept]


def count_relevant(query_ids: torch.Tensor, gallery_ids: torch.Tensor) -> torch.Tensor:
    """(Nq,) int64 number of gallery items sharing each query's class id."""
    counts = torch.bincount(gallery_ids, minlength=int(query_ids.max()) + 1 if len(query_ids) else 0)
    return counts[query_ids]


def _class_columns(gallery_ids: np.ndarray, minimum: int = 0) -> list[np.ndarray]:
    """(Ng,) int64 class ids -> per class id (at least ``minimum`` ids), the ascending (R,) int64
    gallery indices of that class."""
    order = np.argsort(gallery_ids, kind="stable")
    return np.split(order, np.cumsum(np.bincount(gallery_ids, minlength=minimum))[:-1])


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
