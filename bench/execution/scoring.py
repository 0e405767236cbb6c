"""Scoring one configuration's descriptors into a :class:`RunResult` (metrics and facts)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench.api.components import DatasetInfo
from bench.api.datasets import ImageItem
from bench.api.errors import BenchError
from bench.api.evaluation import EvaluationSpecs
from bench.api.reporting import Reporter
from bench.plan.query_text import QueryTexts
from bench.results.schema import RunResult


@dataclass
class ScoredRun:
    """A run's result and the evaluation behind it (per-query values, for the per-query log)."""

    result: RunResult
    evaluation: Any  # bench.evaluation.protocol.Evaluation (imported with numpy, when scoring)


def require_readable_splits(
    dataset_id: str, queries: list[ImageItem], gallery: list[ImageItem], skipped: list[tuple[int, str]]
) -> None:
    """Refuse a group in which every query or every gallery image was skipped as unreadable
    (``skipped``: (row, reason), rows counting queries first, then gallery): nothing can be scored.

    Raises:
        BenchError: naming the split, how many were skipped and the first reason.
    """
    items = queries + gallery
    for split, rows in (("query", range(len(queries))), ("gallery", range(len(queries), len(items)))):
        lost = [(row, reason) for row, reason in skipped if row in rows]
        if rows and len(lost) == len(rows):
            row, reason = lost[0]
            raise BenchError(
                f"No {split} image of dataset {dataset_id!r} could be read ({len(lost)} skipped, e.g. "
                f"{items[row].key!r}: {reason}).",
                f"Check the files under --data-root (bench datasets check {dataset_id} names each problem).",
            )


class ScoredSplits:
    """The queries and gallery of one extraction group, without the images that could not be read.

    Args:
        specs: the registered tasks and metrics.
        queries, gallery: the dataset's splits; descriptor rows are queries first, then gallery.
        skipped: (row, reason) of unreadable images (reported once, recorded in every result).
        texts: the queries' texts when they are sketch+text queries (counted in every result).
    """

    def __init__(
        self,
        specs: EvaluationSpecs,
        dataset,
        queries: list[ImageItem],
        gallery: list[ImageItem],
        skipped: list[tuple[int, str]],
        reporter: Reporter,
        texts: QueryTexts | None = None,
    ) -> None:
        items = queries + gallery
        missing = {row for row, _ in skipped}
        self.specs = specs
        self.dataset = dataset
        self.query_rows = [row for row in range(len(queries)) if row not in missing]
        self.gallery_rows = [row for row in range(len(queries), len(items)) if row not in missing]
        self.queries = [items[row] for row in self.query_rows]
        self.gallery = [items[row] for row in self.gallery_rows]
        self.skipped_facts = {
            "skipped_images": len(skipped),
            "skipped_examples": [items[row].key for row, _ in skipped[:5]],
        }
        self.text_facts = texts.facts(self.query_rows) if texts else {}
        if skipped:
            row, reason = skipped[0]
            reporter.status(
                f"skipped {len(skipped)} unreadable image(s), e.g. {items[row].key}: {reason} "
                "(--strict stops at the first one)"
            )

    def evaluate(self, info: DatasetInfo, descriptors: Any, *, keep_ranks: bool = False) -> Any:
        """The :class:`~bench.evaluation.protocol.Evaluation` of ``descriptors`` (rows as in the
        dataset's query + gallery order) with the task and metrics of dataset ``info``."""
        from bench.evaluation.measures import dataset_metrics
        from bench.evaluation.protocol import evaluate

        task, metrics = dataset_metrics(self.specs, info)
        return evaluate(
            task,
            metrics,
            self.queries,
            self.gallery,
            descriptors[self.query_rows],
            descriptors[self.gallery_rows],
            per_class_gallery=self.dataset.group_by_label,
            keep_ranks=keep_ranks,
        )

    def score(
        self,
        config: dict[str, Any],
        info: DatasetInfo,
        backbone_note: str | None,
        descriptors: Any,
        shared: dict[str, dict],
        *,
        keep_ranks: bool = False,
    ) -> ScoredRun:
        """Score ``descriptors`` (rows as in the dataset's query + gallery order) for ``config``:
        metrics, their chance levels, bootstrap intervals and per-class means (and, with
        ``keep_ranks``, every relevant item's rank, for the per-query log). ``shared`` holds the
        ``provenance``, ``extractor`` and ``runtime`` facts, and may hold more ``dataset`` facts."""
        started = time.perf_counter()
        evaluation = self.evaluate(info, descriptors, keep_ranks=keep_ranks)
        intervals = evaluation.intervals().to_dict()
        listed = {"id": info.id, "columns": list(info.columns)}
        facts = {**listed, **evaluation.facts, **self.skipped_facts, **self.text_facts}
        result = RunResult(
            task=info.task,
            config=config,
            dataset={**facts, **self.dataset.describe(), **shared.get("dataset", {})},
            metrics=evaluation.metrics,
            backbone_note=backbone_note,
            extractor=shared["extractor"],
            runtime={**shared["runtime"], "evaluate_seconds": round(time.perf_counter() - started, 4)},
            provenance=shared["provenance"],
            chance=evaluation.chance.to_dict(),
            intervals=intervals,
            per_class=evaluation.per_class(),
        )
        return ScoredRun(result, evaluation)
