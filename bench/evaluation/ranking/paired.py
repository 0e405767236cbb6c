"""``paired`` relevance: each query's paired photo is its one relevant item."""

from __future__ import annotations

import numpy as np
import torch

from bench.api.evaluation import Rankings
from bench.evaluation.measures import MetricSet
from bench.evaluation.ranking.chunks import PAIRED_BYTES_PER_CELL, chunk_rows
from bench.evaluation.ranking.inputs import ArrayLike, as_1d_array, check_length, encode_labels, features_pair
from bench.evaluation.ranking.scores import QueryScores, spread_values


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
    queries, gallery = features_pair(query_feats, gallery_feats)
    targets, paired = _paired_targets(query_targets, queries)
    groups = {}
    if query_groups is not None:
        query_group_array = as_1d_array(query_groups, "query_groups")
        check_length(query_group_array, queries, "query_groups", "query_feats")
        groups = {"query_groups": query_group_array[paired]}
    if gallery_groups is not None:
        groups["gallery_groups"] = gallery_groups
    ranks = paired_ranks(
        queries[torch.from_numpy(paired)], targets[paired], gallery, chunk_size=chunk_size, **groups
    )
    candidates = _candidate_counts(paired, len(gallery), query_groups, gallery_groups)
    rankings = Rankings(ranks[:, None], np.ones(len(ranks), dtype=np.int64), candidates[paired])
    values = spread_values(metrics.names, metrics.values(rankings), paired, len(targets))
    first = np.zeros(len(targets), dtype=np.int64)
    first[paired] = ranks
    relevant_ranks = [first[row : row + 1] if paired[row] else first[:0] for row in range(len(first))]
    kept = relevant_ranks if keep_ranks else None
    return QueryScores(values, first, paired.astype(np.int64), candidates, relevant_ranks=kept)


def _paired_targets(query_targets: ArrayLike, queries: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The (Nq,) integer target gallery indices (-1: no paired photo in the gallery), checked for
    dtype, length against ``queries`` (Nq, D) and range, and the (Nq,) bool mask of the queries
    with a target.

    Raises:
        ValueError: on a non-integer dtype, a length mismatch, a target below -1, or no target.
    """
    targets = as_1d_array(query_targets, "query_targets")
    if targets.dtype.kind not in "iu":
        raise ValueError(f"query_targets must hold integer gallery indices, got dtype {targets.dtype}.")
    check_length(targets, queries, "query_targets", "query_feats")
    if (targets < -1).any():
        first = int(np.flatnonzero(targets < -1)[0])
        raise ValueError(
            f"Target index out of range: query {first} has target {int(targets[first])} "
            "(valid: a gallery index, or -1 for a query whose photo is not in the gallery)."
        )
    paired = targets >= 0
    if not paired.any():
        raise ValueError("no query sketch has its paired photo in the gallery")
    return targets, paired


def _candidate_counts(
    paired: np.ndarray, num_gallery: int, query_groups: ArrayLike | None, gallery_groups: ArrayLike | None
) -> np.ndarray:
    """(Nq,) int64 number of candidates of each query with a target (``paired``, (Nq,) bool): its
    group's gallery items with both groups given, else the whole gallery; 0 for the others."""
    candidates = np.zeros(len(paired), dtype=np.int64)
    if query_groups is not None and gallery_groups is not None:
        query_ids, gallery_ids = encode_labels(
            query_groups, gallery_groups, ("query_groups", "gallery_groups")
        )
        sizes = torch.bincount(gallery_ids, minlength=int(query_ids.max()) + 1).numpy()
        candidates[paired] = sizes[query_ids.numpy()[paired]]
    else:
        candidates[paired] = num_gallery
    return candidates


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
    queries, gallery = features_pair(query_feats, gallery_feats)
    targets = _targets(query_targets, queries, len(gallery))
    query_group_ids, gallery_group_ids = _groups(query_groups, gallery_groups, queries, gallery, targets)

    ranks = np.empty(len(queries), dtype=np.int64)
    for query_rows, gallery_columns in _group_members(query_group_ids, gallery_group_ids, len(queries)):
        if gallery_columns is None:
            candidates, local_targets = gallery, targets
        else:
            candidates = gallery[gallery_columns]
            local_targets = _local_indices(gallery_columns, len(gallery))[targets]
        step = chunk_rows(chunk_size, len(candidates), PAIRED_BYTES_PER_CELL)
        for start in range(0, len(query_rows), step):
            rows = query_rows[start : start + step]
            ranks[rows.numpy()] = _target_ranks(queries[rows], local_targets[rows], candidates)
    return ranks


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


def _targets(query_targets: ArrayLike, queries: torch.Tensor, num_gallery: int) -> torch.Tensor:
    """(Nq,) int64 CPU target gallery indices, checked for length against ``queries`` (Nq, D), integer
    dtype and range [0, Ng)."""
    array = as_1d_array(query_targets, "query_targets")
    if array.dtype.kind not in "iu":
        raise ValueError(f"query_targets must hold integer gallery indices, got dtype {array.dtype}.")
    targets = torch.from_numpy(array.astype(np.int64))
    check_length(targets, queries, "query_targets", "query_feats")
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
    query_ids, gallery_ids = encode_labels(query_groups, gallery_groups, ("query_groups", "gallery_groups"))
    check_length(query_ids, queries, "query_groups", "query_feats")
    check_length(gallery_ids, gallery, "gallery_groups", "gallery_feats")
    outside = gallery_ids[targets] != query_ids
    if bool(outside.any()):
        first = int(outside.nonzero()[0, 0])
        raise ValueError(
            f"Query {first}'s target (gallery index {int(targets[first])}) is not in the query's own "
            f"group: each target must share its query's group."
        )
    return query_ids, gallery_ids
