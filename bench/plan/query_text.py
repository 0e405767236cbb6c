"""Sketch+text retrieval (``bench run --query-text SOURCE``): each query is a sketch plus a text.

The text conditions the query sketch's feature extraction in place of the run's prompt text (with
a learned textual prompt, the text's tokens come first and the learned context fills the rest of
the 77 positions: ``bench_sd.conditioning.text_then_learned``). Gallery photos are extracted with
the run's prompt as usual, so they share their cached descriptors with the sketch-only run.

Sources:

* ``caption``: each query's own caption, or, when it has none, the caption of the photo of its
  instance (``ImageItem.instance``) in the dataset's gallery or train split;
* ``text:<words>``: one fixed text for every query.

Pure Python (no torch): every check runs before a model loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.api.errors import BenchError

if TYPE_CHECKING:
    from bench.api.datasets import Dataset
    from bench.config.run_config import SweepSpec
    from bench.plan.runs import PlannedRun
    from bench.registry.tables import Registry

CAPTION = "caption"
FIXED_PREFIX = "text:"
SOURCES_HINT = (
    "Use --query-text caption (each query's caption, or the caption of its instance's photo) or "
    "--query-text 'text:<words>' (one text for every query, e.g. 'text:a red star')."
)


def fixed_text(source: object) -> str | None:
    """The words of a ``text:<words>`` source; None for ``caption``.

    Raises:
        BenchError: any other value (an unknown form, ``text:`` without words, not a string).
    """
    if source == CAPTION:
        return None
    if isinstance(source, str) and source.startswith(FIXED_PREFIX):
        words = source[len(FIXED_PREFIX) :]
        if words.strip():
            return words
        raise BenchError(f"--query-text {source!r} gives no words after 'text:'.", SOURCES_HINT)
    raise BenchError(f"--query-text {source!r} is not a query text source.", SOURCES_HINT)


def check_query_text(spec: SweepSpec, runs: Sequence[PlannedRun], registry: Registry) -> None:
    """Plan-time checks of ``spec.query_text`` (before any dataset opens or model loads): a valid
    source, and only backbones whose image features depend on text (``accepts_text``).

    Raises:
        BenchError: naming the bad source or the first backbone that cannot take a text.
    """
    if spec.query_text is None:
        return
    fixed_text(spec.query_text)
    refused = next((run.backbone for run in runs if not run.backbone.accepts_text), None)
    if refused is not None:
        accepting = [entry.component.id for entry in registry.backbones if entry.component.accepts_text]
        raise BenchError(
            f"--query-text conditions the query sketches' features on a text, and the image features "
            f"of backbone {refused.id!r} do not depend on text.",
            f"Use a backbone that accepts text ({', '.join(accepting) or 'none is installed'}), "
            "or leave out --query-text for sketch-only queries.",
        )


@dataclass(frozen=True)
class QueryTexts:
    """The text of every query of one dataset.

    Attributes:
        source: the ``--query-text`` value.
        texts: one text per query, in the dataset's query order.
        from_photo: per query, whether its text is the caption of its instance's photo (the query
            has no caption of its own).
    """

    source: str
    texts: tuple[str, ...]
    from_photo: tuple[bool, ...]

    def facts(self, scored_rows: Sequence[int]) -> dict[str, Any]:
        """Dataset facts recorded in results, over the queries that were scored (``scored_rows``)."""
        facts: dict[str, Any] = {"text_conditioned_queries": len(scored_rows)}
        if self.source == CAPTION:
            facts["query_texts_from_photo_captions"] = sum(self.from_photo[row] for row in scored_rows)
        return facts


def query_texts(source: str, dataset: Dataset, dataset_id: str) -> QueryTexts:
    """The texts of ``dataset``'s queries for ``source`` (``caption`` or ``text:<words>``).

    Raises:
        BenchError: with ``caption``, when a query has no caption and no photo of its instance has
            one (the message names the dataset, the first such query and how many there are).
    """
    queries = dataset.split("query")
    words = fixed_text(source)
    if words is not None:
        return QueryTexts(source, (words,) * len(queries), (False,) * len(queries))
    photo_captions: dict[str | None, str] = {}  # by instance
    if any(query.caption is None for query in queries):
        for split in ("gallery", "train"):
            for item in dataset.split(split):
                if item.modality == "photo" and item.instance is not None and item.caption:
                    photo_captions.setdefault(item.instance, item.caption)
    texts = [query.caption or photo_captions.get(query.instance, "") for query in queries]
    missing = [query for query, text in zip(queries, texts, strict=True) if not text]
    if missing:
        raise BenchError(
            f"--query-text caption: dataset {dataset_id!r} has no caption for {len(missing)} of its "
            f"{len(queries)} queries, e.g. {missing[0].key!r} (no caption of its own, and no photo of "
            "its instance has one).",
            "Give every query the same text with --query-text 'text:<words>' (e.g. 'text:a photo of a "
            "shoe'), or use a dataset with captions (synthetic and synthetic-fg have them).",
        )
    from_photo = tuple(not query.caption for query in queries)
    return QueryTexts(source, tuple(texts), from_photo)
