"""Scoring one configuration's descriptors with the dataset's task and metrics (docs/protocol.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.api.components import DatasetInfo
from bench.api.datasets import Dataset, ImageItem
from bench.evaluation.metrics import count_queries_without_relevant, evaluate_category, evaluate_fine_grained


def l2_normalise(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero): (N, D) float32."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.maximum(norms, 1e-12)).astype(np.float32)


def _pair_targets(queries: list[ImageItem], gallery: list[ImageItem]) -> tuple[np.ndarray, np.ndarray]:
    """(targets, paired): the gallery index of each paired query's photo, and which queries have one."""
    index = {item.instance: i for i, item in enumerate(gallery)}
    paired = np.array([q.instance in index for q in queries], dtype=bool)
    targets = np.array([index[q.instance] for q in queries if q.instance in index], dtype=np.int64)
    return targets, paired


def evaluate(
    dataset: Dataset,
    info: DatasetInfo,
    queries: list[ImageItem],
    gallery: list[ImageItem],
    query_features: np.ndarray,
    gallery_features: np.ndarray,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Metrics and gallery facts for one configuration.

    Args:
        query_features: (Q, D) descriptors of ``queries``; gallery_features: (G, D) of ``gallery``.

    Returns:
        (metrics, facts): zs-sbir metrics are fractions, fg-sbir Acc@K x100; facts hold the
        query and gallery counts, gallery uniqueness and the number of queries without a relevant
        gallery item, or (fine-grained) without their paired photo: excluded from means.
    """
    q, g = l2_normalise(query_features), l2_normalise(gallery_features)
    facts: dict[str, Any] = {
        "num_queries": len(queries),
        "num_gallery": len(gallery),
        "gallery_unique": len({item.key for item in gallery}) == len(gallery),
    }
    if dataset.task == "zs-sbir":
        query_labels = np.array([item.label for item in queries])
        gallery_labels = np.array([item.label for item in gallery])
        metrics = evaluate_category(q, query_labels, g, gallery_labels, map_k=info.map_k, prec_k=info.prec_k)
        facts["queries_without_relevant"] = count_queries_without_relevant(query_labels, gallery_labels)
        return metrics, facts
    targets, paired = _pair_targets(queries, gallery)
    if not paired.any():
        raise ValueError("no query sketch has its paired photo in the gallery")
    groups = {}
    if dataset.group_by_label:
        groups = {
            "query_groups": np.array([item.label for item in queries])[paired],
            "gallery_groups": np.array([item.label for item in gallery]),
        }
    facts["per_class_gallery"] = dataset.group_by_label
    facts["queries_without_pair"] = int((~paired).sum())
    return evaluate_fine_grained(q[paired], targets, g, ks=info.acc_k, **groups), facts
