"""Category and fine-grained metrics from feature and label arrays, computed by the registered
metrics (the built-in plugin's) on the streamed ranking: what the metric tests compare with slow
references written from the definitions."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from bench.api.evaluation import EvaluationSpecs
from bench.evaluation.measures import MetricSet, exact_mean
from bench.evaluation.ranking import QueryScores, paired_scores, same_class_scores
from bench.workflows import plugin_registry


@functools.cache
def specs() -> EvaluationSpecs:
    return plugin_registry().evaluation_specs()


def metric_set(names: Sequence[str]) -> MetricSet:
    return MetricSet([specs().metric(name) for name in names])


def category_names(map_k: Sequence[int] = (200,), prec_k: Sequence[int] = (100, 200)) -> list[str]:
    """mAP@all, mAP@all[plain], mAP@K and mAP@K[retrieved] per K of map_k, P@K per K of prec_k."""
    at_k = [name for k in map_k for name in (f"mAP@{k}", f"mAP@{k}[retrieved]")]
    return ["mAP@all", "mAP@all[plain]", *at_k, *(f"P@{k}" for k in prec_k)]


def means(scores: QueryScores) -> dict[str, float]:
    """Each metric's exactly rounded mean over the evaluated queries."""
    return {name: exact_mean(values[scores.evaluated]) for name, values in scores.values.items()}


def category_metrics(q, ql, g, gl, *, map_k=(200,), prec_k=(100, 200), chunk_size=None) -> dict[str, float]:
    """Same-class relevance: the built-in zero-shot metrics at the given cut-offs."""
    return means(
        same_class_scores(q, ql, g, gl, metric_set(category_names(map_k, prec_k)), chunk_size=chunk_size)
    )


def fine_grained_metrics(
    q, targets, g, *, ks=(1, 5, 10), query_groups=None, gallery_groups=None, chunk_size=None
) -> dict[str, float]:
    """Paired relevance (``targets``: each query's paired photo): Acc@K at the given cut-offs."""
    scores = paired_scores(
        q,
        targets,
        g,
        metric_set([f"Acc@{k}" for k in ks]),
        query_groups=query_groups,
        gallery_groups=gallery_groups,
        chunk_size=chunk_size,
    )
    return means(scores)
