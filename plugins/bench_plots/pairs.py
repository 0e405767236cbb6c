"""Choosing the sketch/photo pairs a PCA figure shows (pure Python)."""

from __future__ import annotations

from bench import Dataset, ImageItem

Pair = tuple[ImageItem, ImageItem]  # (sketch, photo)


def choose_pairs(dataset: Dataset, count: int) -> list[Pair]:
    """Up to ``count`` (sketch, photo) pairs from the test split, one class after another.

    A query sketch is paired with the gallery photo of its ``instance`` (the photo it was drawn
    from); where the dataset has no pairing, with the first gallery photo of its class. Classes
    take turns in order of first appearance among the queries, so a few pairs show several classes;
    each photo appears once. Deterministic: the same dataset always gives the same pairs.
    """
    gallery = dataset.split("gallery")
    by_instance = {photo.instance: photo for photo in gallery if photo.instance is not None}
    by_label: dict[str, ImageItem] = {}
    for photo in gallery:
        by_label.setdefault(photo.label, photo)
    queue: dict[str, list[Pair]] = {}
    used: set[str] = set()
    for sketch in dataset.split("query"):
        photo = by_instance.get(sketch.instance) if sketch.instance is not None else None
        photo = photo or by_label.get(sketch.label)
        if photo is not None and photo.key not in used:
            used.add(photo.key)
            queue.setdefault(sketch.label, []).append((sketch, photo))
    pairs: list[Pair] = []
    depth = 0
    while len(pairs) < count and any(depth < len(candidates) for candidates in queue.values()):
        pairs += [candidates[depth] for candidates in queue.values() if depth < len(candidates)]
        depth += 1
    return pairs[:count]
