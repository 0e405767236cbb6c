"""Scoring one configuration's descriptors with the dataset's task and metrics (docs/protocol.md).

:func:`evaluate` ranks the gallery for every query once and keeps what each query scored, so the
same pass gives the run's metrics, their chance levels, bootstrap intervals, per-class means and,
when asked, the per-query log (:mod:`bench.evaluation.samples`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.api.components import DatasetInfo
from bench.api.datasets import Dataset, ImageItem
from bench.evaluation.chance import ChanceLevels, category_chance, fine_grained_chance
from bench.evaluation.metrics import (
    accuracy_per_query,
    category_scores,
    exact_mean,
    fine_grained_ranks,
    top_gallery_items,
)
from bench.evaluation.uncertainty import Intervals, bootstrap_intervals


def l2_normalise(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero): (N, D) float32."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass
class Evaluation:
    """What scoring one configuration found.

    Attributes:
        metrics: the means (zs-sbir: fractions; fg-sbir: Acc@K x100).
        facts: query and gallery counts, gallery uniqueness, queries left out of the means.
        per_query: metric name -> (Q,) float64 per-query values over *all* queries (NaN for the
            queries the means leave out: no relevant gallery item, or no paired photo).
        rank: (Q,) int64 rank of each query's first relevant item (fg-sbir: of its paired photo),
            0 for the queries left out.
        chance: the metrics' chance levels on this gallery.
        unit: what the bootstrap resamples: ``"query"``, or ``"class"`` where each query is ranked
            against its own class's photos only.
        queries, gallery: the items scored, in descriptor order.
        ranking_inputs: the L2-normalised (Q, D) query and (G, D) gallery descriptors and the
            groups they were ranked in (for :meth:`top_items`).
    """

    metrics: dict[str, float]
    facts: dict[str, Any]
    per_query: dict[str, np.ndarray]
    rank: np.ndarray
    chance: ChanceLevels
    unit: str
    queries: list[ImageItem]
    gallery: list[ImageItem]
    ranking_inputs: tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]

    @property
    def evaluated(self) -> np.ndarray:
        """(Q,) bool: the queries the means cover."""
        return self.rank > 0

    def intervals(self) -> Intervals:
        """Percentile-bootstrap intervals of every metric (seeded: :mod:`bench.evaluation.uncertainty`)."""
        kept = self.evaluated
        units = np.array([q.label for q in self.queries])[kept] if self.unit == "class" else None
        return bootstrap_intervals({name: v[kept] for name, v in self.per_query.items()}, units)

    def per_class(self) -> dict[str, dict[str, Any]]:
        """Per query class: how many of its queries were evaluated, and the means of their metrics."""
        kept = self.evaluated
        labels = np.array([q.label for q in self.queries])
        classes: dict[str, dict[str, Any]] = {}
        for label in sorted(set(labels[kept].tolist())):
            rows = kept & (labels == label)
            metrics = {name: exact_mean(values[rows]) for name, values in self.per_query.items()}
            classes[str(label)] = {"queries": int(rows.sum()), "metrics": metrics}
        return classes

    def top_items(self, k: int) -> np.ndarray:
        """(Q, k) int64 gallery indices of each query's k most similar candidates (-1 padding)."""
        query_features, gallery_features, groups = self.ranking_inputs
        return top_gallery_items(query_features, gallery_features, k, **groups)


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
) -> Evaluation:
    """Score one configuration.

    Args:
        query_features: (Q, D) descriptors of ``queries``; gallery_features: (G, D) of ``gallery``.

    Returns:
        The :class:`Evaluation`: metrics, facts (query and gallery counts, gallery uniqueness, the
        number of queries without a relevant gallery item, or, fine-grained, without their paired
        photo: excluded from means), per-query values and chance levels.
    """
    q, g = l2_normalise(query_features), l2_normalise(gallery_features)
    facts: dict[str, Any] = {
        "num_queries": len(queries),
        "num_gallery": len(gallery),
        "gallery_unique": len({item.key for item in gallery}) == len(gallery),
    }
    query_labels = np.array([item.label for item in queries])
    gallery_labels = np.array([item.label for item in gallery])
    if dataset.task == "zs-sbir":
        scores = category_scores(q, query_labels, g, gallery_labels, map_k=info.map_k, prec_k=info.prec_k)
        facts["queries_without_relevant"] = int((~scores.evaluated).sum())
        chance = category_chance(
            scores.num_relevant[scores.evaluated], len(gallery), map_k=info.map_k, prec_k=info.prec_k
        )
        return Evaluation(
            metrics=scores.means(),
            facts=facts,
            per_query=scores.values,
            rank=scores.first_relevant_rank,
            chance=chance,
            unit="query",
            queries=queries,
            gallery=gallery,
            ranking_inputs=(q, g, {}),
        )
    targets, paired = _pair_targets(queries, gallery)
    if not paired.any():
        raise ValueError("no query sketch has its paired photo in the gallery")
    groups = {}
    if dataset.group_by_label:
        groups = {"query_groups": query_labels[paired], "gallery_groups": gallery_labels}
    ranks = fine_grained_ranks(q[paired], targets, g, **groups)
    facts["per_class_gallery"] = dataset.group_by_label
    facts["queries_without_pair"] = int((~paired).sum())
    if dataset.group_by_label:
        class_sizes = {label: int((gallery_labels == label).sum()) for label in set(gallery_labels.tolist())}
        candidates = [class_sizes[label] for label in query_labels[paired].tolist()]
    else:
        candidates = [len(gallery)] * int(paired.sum())
    per_query = {}
    for name, values in accuracy_per_query(ranks, info.acc_k).items():
        per_query[name] = np.full(len(queries), np.nan)
        per_query[name][paired] = values
    rank = np.zeros(len(queries), dtype=np.int64)
    rank[paired] = ranks
    all_groups = {"query_groups": query_labels, "gallery_groups": gallery_labels} if groups else {}
    return Evaluation(
        metrics={name: exact_mean(values[paired]) for name, values in per_query.items()},
        facts=facts,
        per_query=per_query,
        rank=rank,
        chance=fine_grained_chance(candidates, info.acc_k),
        unit="class" if dataset.group_by_label else "query",
        queries=queries,
        gallery=gallery,
        ranking_inputs=(q, g, all_groups),
    )
