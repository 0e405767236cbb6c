"""Exact retrieval metrics for category-level and fine-grained SBIR, streamed over query chunks.

Similarity is the dot product of the given features, computed in float32 (callers L2-normalise).
The full query x gallery similarity matrix is never held: queries are processed in chunks whose
working set stays around :data:`WORKING_SET_BYTES` (override with ``chunk_size``).

Ranking: the gallery is ordered by descending similarity; equal similarities keep ascending gallery
index (a stable sort), so among ties the lower gallery index ranks first. Ties are decided on the
float32 similarities as computed.

Category-level (``evaluate_category``), per query with R relevant gallery items, rel_i = 1 when the
item at rank i has the query's class, and P@i = hits in the top i / i:

* ``mAP@all``: interpolated AP, (1/R) * sum over relevant i of max_{j>=i} P@j.
* ``mAP@all[plain]``: (1/R) * sum over relevant i of P@i.
* ``mAP@K``: (1/min(K, R)) * sum over relevant i<=K of max_{i<=j<=K} P@j (the window is the whole
  gallery when it has fewer than K items).
* ``mAP@K[retrieved]``: (1/hits@K) * sum over relevant i<=K of P@i (0 without a hit in the top K).
* ``P@K``: hits@K / K.

Queries with R = 0 are excluded from every mean. Values are fractions in [0, 1].

Fine-grained (``evaluate_fine_grained``): the rank of a query's paired photo is the number of
candidate photos whose similarity is >= the paired photo's (ties count against the query);
``Acc@K`` = 100 * share of queries with rank <= K.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

WORKING_SET_BYTES = 256 * 2**20
"""Target size of one query chunk's intermediate tensors, in bytes."""

_CATEGORY_BYTES_PER_CELL = 80
"""Measured peak bytes per (query, gallery item) cell of the category metrics (sort, cumsum, cummax)."""

_FINE_GRAINED_BYTES_PER_CELL = 12
"""Measured peak bytes per (query, gallery item) cell of the fine-grained metrics (sims, masks)."""

ArrayLike = Any
"""A numpy array, torch tensor or sequence."""


def evaluate_category(
    query_feats: ArrayLike,
    query_labels: ArrayLike,
    gallery_feats: ArrayLike,
    gallery_labels: ArrayLike,
    *,
    map_k: Sequence[int] = (200,),
    prec_k: Sequence[int] = (100, 200),
    chunk_size: int | None = None,
) -> dict[str, float]:
    """Category-level retrieval metrics (see the module docstring for the definitions).

    Args:
        query_feats: (Nq, D) query features.
        query_labels: (Nq,) query class labels (ints or strings).
        gallery_feats: (Ng, D) gallery features, Ng >= 1.
        gallery_labels: (Ng,) gallery class labels, comparable with ``query_labels``.
        map_k: cut-offs K for ``mAP@K`` and ``mAP@K[retrieved]``, each >= 1.
        prec_k: cut-offs K for ``P@K``, each >= 1.
        chunk_size: queries per chunk; default keeps a chunk near :data:`WORKING_SET_BYTES`.

    Returns:
        ``{"mAP@all", "mAP@all[plain]", "mAP@K", "mAP@K[retrieved]" per K in map_k, "P@K" per K in
        prec_k}``, fractions in [0, 1], averaged over the queries with at least one relevant item.

    Raises:
        ValueError: on inconsistent shapes, empty query or gallery sets, K < 1, or when no query has
            a relevant gallery item.
    """
    _check_ks(map_k, "map_k")
    _check_ks(prec_k, "prec_k")
    queries, gallery = _features_pair(query_feats, gallery_feats)
    query_ids, gallery_ids = _encode_labels(query_labels, gallery_labels)
    _check_length(query_ids, queries, "query_labels", "query_feats")
    _check_length(gallery_ids, gallery, "gallery_labels", "gallery_feats")

    num_relevant = _num_relevant(query_ids, gallery_ids).to(queries.device)
    query_ids, gallery_ids = query_ids.to(queries.device), gallery_ids.to(queries.device)
    keep = num_relevant > 0
    if not bool(keep.any()):
        raise ValueError(
            "No query has a relevant gallery item (R = 0 for all queries): no query label occurs "
            "among the gallery labels."
        )
    queries, query_ids, num_relevant = queries[keep], query_ids[keep], num_relevant[keep]

    keys = _category_keys(map_k, prec_k)
    # Filled in place: small per-chunk results kept alive across chunks fragment the heap and RSS grows.
    per_query = torch.empty(len(keys), len(queries), dtype=torch.float64, device=queries.device)
    step = _chunk_size(chunk_size, len(gallery), _CATEGORY_BYTES_PER_CELL)
    for start in range(0, len(queries), step):
        chunk = slice(start, start + step)
        per_query[:, chunk] = _category_chunk(
            queries[chunk], query_ids[chunk], num_relevant[chunk], gallery, gallery_ids, map_k, prec_k
        )
    return {key: _mean(values) for key, values in zip(keys, per_query, strict=True)}


def evaluate_fine_grained(
    query_feats: ArrayLike,
    query_targets: ArrayLike,
    gallery_feats: ArrayLike,
    *,
    ks: Sequence[int] = (1, 5, 10),
    query_groups: ArrayLike | None = None,
    gallery_groups: ArrayLike | None = None,
    chunk_size: int | None = None,
) -> dict[str, float]:
    """Instance-level retrieval accuracy (see the module docstring for the definition).

    Args:
        query_feats: (Nq, D) query features, Nq >= 1.
        query_targets: (Nq,) integer gallery index of each query's paired photo.
        gallery_feats: (Ng, D) gallery features, Ng >= 1.
        ks: cut-offs K for ``Acc@K``, each >= 1.
        query_groups: (Nq,) optional group of each query (ints or strings); with ``gallery_groups``,
            each query is ranked only against the gallery items of its own group.
        gallery_groups: (Ng,) optional group of each gallery item; given together with
            ``query_groups``.
        chunk_size: queries per chunk; default keeps a chunk near :data:`WORKING_SET_BYTES`.

    Returns:
        ``{"Acc@K": percentage in [0, 100]}`` for each K in ``ks``.

    Raises:
        ValueError: on inconsistent shapes, empty query or gallery sets, K < 1, a target index out
            of range, only one of the groups given, or a target outside its query's group.
    """
    _check_ks(ks, "ks")
    queries, gallery = _features_pair(query_feats, gallery_feats)
    targets = _targets(query_targets, queries, len(gallery))
    query_group_ids, gallery_group_ids = _groups(query_groups, gallery_groups, queries, gallery, targets)
    targets = targets.to(queries.device)

    ranks = torch.empty(len(queries), dtype=torch.int32, device=queries.device)
    step = _chunk_size(chunk_size, len(gallery), _FINE_GRAINED_BYTES_PER_CELL)
    for start in range(0, len(queries), step):
        chunk = slice(start, start + step)
        chunk_query_groups = None if query_group_ids is None else query_group_ids[chunk]
        ranks[chunk] = _target_ranks(
            queries[chunk], targets[chunk], gallery, chunk_query_groups, gallery_group_ids
        )
    return {f"Acc@{k}": 100.0 * _mean((ranks <= k).double()) for k in ks}


def count_queries_without_relevant(query_labels: ArrayLike, gallery_labels: ArrayLike) -> int:
    """Number of queries whose label occurs on no gallery item (R = 0; excluded from the means).

    Args:
        query_labels: (Nq,) query class labels (ints or strings).
        gallery_labels: (Ng,) gallery class labels.
    """
    query_ids, gallery_ids = _encode_labels(query_labels, gallery_labels)
    return int((_num_relevant(query_ids, gallery_ids) == 0).sum())


def _category_keys(map_k: Sequence[int], prec_k: Sequence[int]) -> list[str]:
    """Metric names in output order; row order of :func:`_category_chunk`'s result."""
    at_k = [name for k in map_k for name in (f"mAP@{k}", f"mAP@{k}[retrieved]")]
    return ["mAP@all", "mAP@all[plain]", *at_k, *(f"P@{k}" for k in prec_k)]


def _category_chunk(
    queries: torch.Tensor,
    query_ids: torch.Tensor,
    num_relevant: torch.Tensor,
    gallery: torch.Tensor,
    gallery_ids: torch.Tensor,
    map_k: Sequence[int],
    prec_k: Sequence[int],
) -> torch.Tensor:
    """Per-query category metrics of one chunk of B queries against Ng gallery items.

    Args:
        queries: (B, D) float32 query features.
        query_ids: (B,) int64 class ids.
        num_relevant: (B,) int64 R per query, all > 0.
        gallery: (Ng, D) float32 gallery features.
        gallery_ids: (Ng,) int64 class ids.

    Returns:
        (M, B) float64 per-query values (fractions), rows in :func:`_category_keys` order.
    """
    relevant = _ranked_relevance(queries, query_ids, gallery, gallery_ids)
    hits = relevant.cumsum(dim=1, dtype=torch.int32)
    ranks = torch.arange(1, relevant.shape[1] + 1, device=relevant.device, dtype=torch.float64)
    precision = hits / ranks
    r = num_relevant.double()

    rows = [_relevant_sum(_reverse_cummax(precision), relevant) / r, _relevant_sum(precision, relevant) / r]
    for k in map_k:
        window = min(k, relevant.shape[1])
        top_precision, top_relevant = precision[:, :window], relevant[:, :window]
        top_hits = hits[:, window - 1].double()
        rows.append(_relevant_sum(_reverse_cummax(top_precision), top_relevant) / r.clamp(max=k))
        rows.append(_relevant_sum(top_precision, top_relevant) / top_hits.clamp(min=1))
    rows.extend(hits[:, min(k, relevant.shape[1]) - 1].double() / k for k in prec_k)
    return torch.stack(rows)


def _ranked_relevance(
    queries: torch.Tensor, query_ids: torch.Tensor, gallery: torch.Tensor, gallery_ids: torch.Tensor
) -> torch.Tensor:
    """(B, Ng) bool: whether the gallery item at each rank has the query's class.

    Ranks order the gallery by descending similarity, ties by ascending gallery index.

    Args:
        queries: (B, D) float32; query_ids: (B,) int64; gallery: (Ng, D) float32; gallery_ids: (Ng,).
    """
    order = torch.sort(queries @ gallery.T, dim=1, descending=True, stable=True).indices
    return gallery_ids[order] == query_ids[:, None]


def _reverse_cummax(values: torch.Tensor) -> torch.Tensor:
    """(B, W) -> (B, W): entry i is the maximum of ``values[:, i:]`` (interpolated precision)."""
    return values.flip(1).cummax(dim=1).values.flip(1)


def _relevant_sum(values: torch.Tensor, relevant: torch.Tensor) -> torch.Tensor:
    """(B, W) float64 values and (B, W) bool mask -> (B,) sum of the values at relevant ranks."""
    return torch.where(relevant, values, 0.0).sum(dim=1)


def _target_ranks(
    queries: torch.Tensor,
    targets: torch.Tensor,
    gallery: torch.Tensor,
    query_groups: torch.Tensor | None,
    gallery_groups: torch.Tensor | None,
) -> torch.Tensor:
    """(B,) int32 rank of each query's paired photo (1 = best; ties count against the query).

    Args:
        queries: (B, D) float32; targets: (B,) int64 gallery indices; gallery: (Ng, D) float32.
        query_groups: (B,) int64 group ids, or None to rank against the whole gallery.
        gallery_groups: (Ng,) int64 group ids, or None.
    """
    sims = queries @ gallery.T
    at_least_as_close = sims >= sims.gather(1, targets[:, None])
    if query_groups is not None and gallery_groups is not None:
        at_least_as_close &= gallery_groups[None, :] == query_groups[:, None]
    return at_least_as_close.sum(dim=1, dtype=torch.int32)  # no (B, Ng) int64 copy


def _num_relevant(query_ids: torch.Tensor, gallery_ids: torch.Tensor) -> torch.Tensor:
    """(Nq,) int64 number of gallery items sharing each query's class id."""
    counts = torch.bincount(gallery_ids, minlength=len(query_ids) + len(gallery_ids))  # ids < that
    return counts[query_ids]


def _mean(values: torch.Tensor) -> float:
    """Mean of a non-empty 1-D tensor from its exactly rounded sum (independent of chunking)."""
    return math.fsum(values.tolist()) / len(values)


def _chunk_size(chunk_size: int | None, num_gallery: int, bytes_per_cell: int) -> int:
    """Queries per chunk: ``chunk_size`` if given, else as many as fit in WORKING_SET_BYTES."""
    if chunk_size is None:
        return max(1, WORKING_SET_BYTES // (bytes_per_cell * num_gallery))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    return chunk_size


def _check_ks(ks: Sequence[int], name: str) -> None:
    """Raise ValueError unless ``ks`` is a non-empty sequence of integers >= 1."""
    if len(ks) == 0:
        raise ValueError(f"{name} is empty: give at least one cut-off K >= 1.")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"{name} must hold integers K >= 1, got {k!r}.")


def _features_pair(query_feats: ArrayLike, gallery_feats: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    """Query (Nq, D) and gallery (Ng, D) float32 features on the query features' device.

    Raises:
        ValueError: if either is not 2-D, not finite or empty, or D differs.
    """
    queries = _as_features(query_feats, "query_feats")
    gallery = _as_features(gallery_feats, "gallery_feats").to(queries.device)
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
    """(N, D) float32 contiguous tensor from a numpy array or tensor, checked to be 2-D and finite."""
    tensor = feats.detach() if isinstance(feats, torch.Tensor) else torch.as_tensor(np.asarray(feats))
    if tensor.ndim != 2:
        raise ValueError(f"{name} must be 2-D (items x dimensions), got shape {tuple(tensor.shape)}.")
    tensor = tensor.to(torch.float32).contiguous()
    if not _all_finite(tensor):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return tensor


def _all_finite(tensor: torch.Tensor) -> bool:
    """Whether every entry of a (N, D) tensor is finite, checked in row blocks of ~1M entries."""
    rows = max(1, 2**20 // max(1, tensor.shape[1]))
    return all(bool(torch.isfinite(block).all()) for block in tensor.split(rows))


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
    return query_ids.to(queries.device), gallery_ids.to(queries.device)
