"""The most similar gallery items of each query, in the ranking the metrics use (for logged samples)."""

from __future__ import annotations

import numpy as np
import torch

from bench.evaluation.ranking.chunks import PAIRED_BYTES_PER_CELL, chunk_rows
from bench.evaluation.ranking.inputs import ArrayLike, encode_labels, features_pair


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
    queries, gallery = features_pair(query_feats, gallery_feats)
    top = np.full((len(queries), k), -1, dtype=np.int64)
    top_sims = np.full((len(queries), k), np.nan, dtype=np.float32)
    if query_groups is None or gallery_groups is None:
        members = [(np.arange(len(queries)), np.arange(len(gallery)))]
    else:
        query_ids, gallery_ids = encode_labels(
            query_groups, gallery_groups, ("query_groups", "gallery_groups")
        )
        members = [
            (np.flatnonzero(query_ids.numpy() == group), np.flatnonzero(gallery_ids.numpy() == group))
            for group in np.unique(query_ids.numpy())
        ]
    for rows, columns in members:
        step = chunk_rows(None, max(len(columns), 1), PAIRED_BYTES_PER_CELL)
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
