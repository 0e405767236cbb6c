"""Scoring one configuration's descriptors with the dataset's task and metrics (docs/protocol.md).

:func:`evaluate` ranks the gallery for every query once and keeps what each query scored, so the
same pass gives the run's metrics, their chance levels, bootstrap intervals, per-class means and,
when asked, the per-query log (:mod:`bench.evaluation.samples`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.api.datasets import ImageItem
from bench.api.errors import BenchError
from bench.api.evaluation import TaskInfo
from bench.evaluation.chance import ComputedChanceLevels, chance_levels
from bench.evaluation.measures import MetricSet, aggregate
from bench.evaluation.ranking import QueryScores, paired_scores, same_class_scores, top_gallery_items
from bench.evaluation.uncertainty import Intervals, bootstrap_intervals


def l2_normalise(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero): (N, D) float32."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass
class Evaluation:
    """What scoring one configuration found.

    Attributes:
        metrics: the run's value of each metric (in its unit: fractions, percentages, ranks).
        facts: query and gallery counts, gallery uniqueness, queries left out of the values.
        per_query: metric name -> (Q,) float64 per-query values over *all* queries (NaN for the
            queries the run leaves out: no relevant gallery item, or no paired photo; and where a
            partial metric is undefined).
        rank: (Q,) int64 rank of each query's first relevant item (paired: of its paired photo),
            0 for the queries left out.
        chance: the metrics' chance levels on this gallery.
        unit: what the bootstrap resamples: ``"query"``, or ``"class"`` where each query is ranked
            against its own class's photos only (or the task resamples classes).
        aggregates: metric name -> ``"mean"`` or ``"median"``.
        queries, gallery: the items scored, in descriptor order.
        ranking_inputs: the L2-normalised (Q, D) query and (G, D) gallery descriptors and the
            groups they were ranked in (for :meth:`top_items`).
        relevance: the task's relevance rule (:data:`bench.RELEVANCE`).
        num_candidates: (Q,) int64 C, the gallery items each query was ranked against (0 for a
            paired query left out).
        relevant_ranks: per query, the (R,) ascending int64 ranks of its relevant items (empty for
            the queries left out); None unless :func:`evaluate` was asked to keep them.
    """

    metrics: dict[str, float]
    facts: dict[str, Any]
    per_query: dict[str, np.ndarray]
    rank: np.ndarray
    chance: ComputedChanceLevels
    unit: str
    aggregates: dict[str, str]
    queries: list[ImageItem]
    gallery: list[ImageItem]
    ranking_inputs: tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]
    relevance: str
    num_candidates: np.ndarray
    relevant_ranks: list[np.ndarray] | None = None

    @property
    def evaluated(self) -> np.ndarray:
        """(Q,) bool: the queries the run's values cover."""
        return self.rank > 0

    def intervals(self) -> Intervals:
        """Percentile-bootstrap intervals of every metric (seeded: :mod:`bench.evaluation.uncertainty`)."""
        kept = self.evaluated
        units = np.array([q.label for q in self.queries])[kept] if self.unit == "class" else None
        medians = {name for name, how in self.aggregates.items() if how == "median"}
        return bootstrap_intervals(
            {name: v[kept] for name, v in self.per_query.items()}, units, medians=medians
        )

    def per_class(self) -> dict[str, dict[str, Any]]:
        """Per query class: how many of its queries were evaluated, and their metrics (a partial
        metric only where some query of the class defines it)."""
        kept = self.evaluated
        labels = np.array([q.label for q in self.queries])
        classes: dict[str, dict[str, Any]] = {}
        for label in sorted(set(labels[kept].tolist())):
            rows = kept & (labels == label)
            metrics = {
                name: aggregate(values[rows], self.aggregates[name])
                for name, values in self.per_query.items()
            }
            classes[str(label)] = {
                "queries": int(rows.sum()),
                "metrics": {name: value for name, value in metrics.items() if not np.isnan(value)},
            }
        return classes

    def top_items(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(Q, k) int64 gallery indices of each query's k most similar candidates, most similar
        first (-1 padding), and (Q, k) float32 their similarities (cosine; NaN padding)."""
        query_features, gallery_features, groups = self.ranking_inputs
        return top_gallery_items(query_features, gallery_features, k, **groups)

    def relevant(self, row: int, indices: np.ndarray) -> np.ndarray:
        """(k,) bool: whether each gallery item ``indices`` (k,) int64 (-1: none) is relevant to
        query ``row`` under the task's relevance rule."""
        query = self.queries[row]
        flags = [i >= 0 and _is_relevant(self.relevance, query, self.gallery[i]) for i in indices.tolist()]
        return np.array(flags, dtype=bool)

    def paired_photos(self) -> list[ImageItem | None]:
        """Per query, its paired photo in the gallery (paired relevance; None without one)."""
        return [self.gallery[i] if i >= 0 else None for i in _pair_targets(self.queries, self.gallery)]


def _is_relevant(relevance: str, query: ImageItem, item: ImageItem) -> bool:
    """Whether gallery ``item`` is relevant to ``query`` under the rule ``relevance``."""
    if relevance == "same-class":
        return item.label == query.label
    return query.instance is not None and item.instance == query.instance


def _pair_targets(queries: list[ImageItem], gallery: list[ImageItem]) -> np.ndarray:
    """(Q,) int64 gallery index of each query's paired photo (same ``instance``), -1 without one."""
    index = {item.instance: i for i, item in enumerate(gallery)}
    return np.array([index.get(q.instance, -1) if q.instance is not None else -1 for q in queries], np.int64)


def evaluate(
    task: TaskInfo,
    metrics: MetricSet,
    queries: list[ImageItem],
    gallery: list[ImageItem],
    query_features: np.ndarray,
    gallery_features: np.ndarray,
    *,
    per_class_gallery: bool = False,
    keep_ranks: bool = False,
) -> Evaluation:
    """Score one configuration of ``task`` with ``metrics``.

    Args:
        query_features: (Q, D) descriptors of ``queries``; gallery_features: (G, D) of ``gallery``.
        per_class_gallery: rank each query against its own class's gallery items only (a dataset's
            ``group_by_label``; paired relevance only).
        keep_ranks: keep every relevant item's rank (:attr:`Evaluation.relevant_ranks`, for the
            per-query log).

    Returns:
        The :class:`Evaluation`: metrics, facts (query and gallery counts, gallery uniqueness, the
        number of queries without a relevant gallery item, or, paired, without their paired
        photo: left out of the values), per-query values and chance levels.

    Raises:
        BenchError: a per-class gallery with same-class relevance (every candidate would be
            relevant), a query without a second label for ``two-labels`` relevance, a partial
            metric defined for no query, or a metric's plugin that fails.
    """
    q, g = l2_normalise(query_features), l2_normalise(gallery_features)
    facts: dict[str, Any] = {
        "num_queries": len(queries),
        "num_gallery": len(gallery),
        "gallery_unique": len({item.key for item in gallery}) == len(gallery),
    }
    query_labels = np.array([item.label for item in queries])
    gallery_labels = np.array([item.label for item in gallery])
    groups: dict[str, np.ndarray] = {}
    if task.relevance != "paired":
        if per_class_gallery:
            raise BenchError(
                f"Task {task.id!r} counts every photo of the query's class as relevant, so a gallery "
                "split by class would make every candidate relevant.",
                "Use a task with paired relevance for a dataset whose gallery is split by class.",
            )
        second = _second_labels(task, queries) if task.relevance == "two-labels" else None
        scores = same_class_scores(
            q, query_labels, g, gallery_labels, metrics, query_second_labels=second, keep_ranks=keep_ranks
        )
        facts["queries_without_relevant"] = int((~scores.evaluated).sum())
    else:
        if per_class_gallery:
            groups = {"query_groups": query_labels, "gallery_groups": gallery_labels}
        targets = _pair_targets(queries, gallery)
        scores = paired_scores(q, targets, g, metrics, keep_ranks=keep_ranks, **groups)
        facts["per_class_gallery"] = per_class_gallery
        facts["queries_without_pair"] = int((~scores.evaluated).sum())
    return _evaluation(task, metrics, scores, facts, queries, gallery, (q, g, groups), per_class_gallery)


def _second_labels(task: TaskInfo, queries: list[ImageItem]) -> np.ndarray:
    """(Q,) the queries' second labels, for a task with ``two-labels`` relevance.

    Raises:
        BenchError: naming the first query without one.
    """
    missing = next((item for item in queries if item.second_label is None), None)
    if missing is not None:
        raise BenchError(
            f"Task {task.id!r} ranks each query's second label (e.g. a cue-conflict image's texture "
            f"class), but query {missing.key!r} has none.",
            "Score it with a dataset whose queries carry a second_label (bench.ImageItem), or with "
            "another task.",
        )
    return np.array([item.second_label for item in queries])


def _evaluation(
    task: TaskInfo,
    metrics: MetricSet,
    scores: QueryScores,
    facts: dict[str, Any],
    queries: list[ImageItem],
    gallery: list[ImageItem],
    ranking_inputs: tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]],
    per_class_gallery: bool,
) -> Evaluation:
    kept = scores.evaluated
    aggregates = metrics.aggregates()
    values = {name: aggregate(values[kept], aggregates[name]) for name, values in scores.values.items()}
    undefined = next((name for name, value in values.items() if np.isnan(value)), None)
    if undefined is not None:
        raise BenchError(
            f"Metric {undefined!r} is defined for none of the {int(kept.sum())} queries evaluated, so "
            "this run has no value for it.",
            "Its plugin returns NaN for a query its rule does not apply to (a cue-conflict image "
            "decided for neither its shape nor its texture class, say); more queries may give it one.",
        )
    second = None if scores.num_second is None else scores.num_second[kept]
    return Evaluation(
        metrics=values,
        facts=facts,
        per_query=scores.values,
        rank=scores.first_relevant_rank,
        chance=chance_levels(
            metrics,
            task.relevance,
            scores.num_relevant[kept],
            scores.num_candidates[kept],
            num_second=second,
        ),
        unit="class" if per_class_gallery else task.resample,
        aggregates=aggregates,
        queries=queries,
        gallery=gallery,
        ranking_inputs=ranking_inputs,
        relevance=task.relevance,
        num_candidates=scores.num_candidates,
        relevant_ranks=scores.relevant_ranks,
    )
