"""``bench run --limit N``: a quick, deterministic subset of a dataset's test splits.

At most N query sketches, spread evenly over the query list (every ``len / N``-th item, so a list
ordered by class keeps its class proportions), and at most N gallery photos: for a task with paired
relevance first the paired photos of the chosen queries, then evenly spread others up to N;
otherwise N evenly spread photos. Queries whose class then has no photo in the gallery
are left out of the means as usual (and counted). The training split is not limited (a learned
prompt trains as it would). The limit is part of the run identity: a limited run is another
benchmark, never ranked with full runs.
"""

from __future__ import annotations

from bench.api.datasets import Dataset, ImageItem, SplitName
from bench.plan.dataset_views import DatasetView


def spread(items: list[ImageItem], count: int) -> list[ImageItem]:
    """``count`` items of ``items`` evenly spaced from the first (all of them when there are fewer)."""
    if count >= len(items):
        return list(items)
    return [items[i * len(items) // count] for i in range(count)]


class LimitedDataset(DatasetView):
    """``dataset`` with its query and gallery splits cut to at most ``limit`` items each;
    ``keep_pairs``: the chosen queries' paired photos come first (a task with paired relevance)."""

    def __init__(self, dataset: Dataset, limit: int, *, keep_pairs: bool) -> None:
        super().__init__(dataset)
        self.limit = limit
        self.keep_pairs = keep_pairs
        self._queries = spread(dataset.split("query"), limit)
        self._gallery = self._limited_gallery(dataset.split("gallery"))

    def _limited_gallery(self, gallery: list[ImageItem]) -> list[ImageItem]:
        if not self.keep_pairs:
            return spread(gallery, self.limit)
        wanted = {query.instance for query in self._queries}
        paired = [photo for photo in gallery if photo.instance in wanted]
        others = [photo for photo in gallery if photo.instance not in wanted]
        chosen = {photo.key for photo in paired + spread(others, max(self.limit - len(paired), 0))}
        return [photo for photo in gallery if photo.key in chosen]  # the adapter's order

    def split(self, name: SplitName) -> list[ImageItem]:
        if name == "query":
            return list(self._queries)
        if name == "gallery":
            return list(self._gallery)
        return self.inner.split(name)

    def describe(self) -> dict[str, object]:
        return {**self.inner.describe(), "limit": self.limit}
