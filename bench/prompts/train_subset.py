"""Training on part of the data (``train_fraction`` / ``train_count``): nested, seeded subsets per class.

The rule (docs/protocol.md, "Training on part of the data"), applied to the training items left after
the validation hold-out (:func:`bench.prompts.triplets.split_validation`), so the validation set is
the same whatever the fraction:

- the *unit* drawn is an item for a task of ``same-class`` relevance (category-level), counted per
  class and modality (sketches and photos are drawn separately), and an instance (its photo and
  every sketch paired with it) for a task of ``paired`` relevance, counted per class;
- a class's units are ranked by the SHA-256 hex digest of ``"train-subset/<seed>/<unit id>"``
  (the unit id: the item's key, or the instance id), ties by the unit id;
- the first ``k`` are kept: ``k = ceil(fraction * n)`` of the ``n`` units, the fraction taken as
  the exact decimal it is written as (0.1 is one tenth), or ``k = min(count, n)``; every class
  keeps at least one unit.

A unit's rank does not depend on the fraction, so the 10 % subset lies inside the 30 % subset, and
so on; nor on the other units, so a class's subset does not change when another class changes.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from fractions import Fraction

from bench.api.datasets import ImageItem
from bench.prompts.triplets import instance_of


@dataclass(frozen=True)
class ItemCounts:
    """How many training items a set holds: classes, distinct sketches and photos (by key) and, for
    paired data, distinct instances (None for category-level data)."""

    classes: int
    sketches: int
    photos: int
    instances: int | None = None


def units_kept(units: int, fraction: float = 1.0, count: int | None = None) -> int:
    """How many of a class's ``units`` (>= 1) are kept: ``min(count, units)``, or
    ``ceil(fraction * units)`` with ``fraction`` as the exact decimal it is written as."""
    if count is not None:
        return min(count, units)
    return math.ceil(Fraction(repr(fraction)) * units)


def unit_rank(seed: int, unit: str) -> tuple[str, str]:
    """The sort key of ``unit`` within its class: the SHA-256 of ``train-subset/<seed>/<unit>``."""
    return hashlib.sha256(f"train-subset/{seed}/{unit}".encode()).hexdigest(), unit


def _unit_and_group(relevance: str) -> Callable[[ImageItem], tuple[str, tuple[str, ...]]]:
    """(unit id, the group it is counted in) of an item, for a task of ``relevance``."""
    if relevance != "paired":
        return lambda item: (item.key, (item.label, item.modality))
    return lambda item: (instance_of(item), (item.label,))


def training_subset(
    items: list[ImageItem], relevance: str, seed: int, fraction: float = 1.0, count: int | None = None
) -> list[ImageItem]:
    """The items of ``items`` in the subset of the module docstring, in their original order
    (``items`` itself for the whole data: fraction 1 without a count)."""
    if count is None and fraction == 1.0:
        return items
    describe = _unit_and_group(relevance)
    groups: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for item in items:
        unit, group = describe(item)
        groups[group].add(unit)
    kept: set[str] = set()
    for units in groups.values():
        ranked = sorted(units, key=lambda unit: unit_rank(seed, unit))
        kept.update(ranked[: units_kept(len(ranked), fraction, count)])
    return [item for item in items if describe(item)[0] in kept]


def item_counts(items: list[ImageItem], relevance: str) -> ItemCounts:
    """The :class:`ItemCounts` of ``items`` (of a task of ``relevance``)."""
    keys = {
        modality: {item.key for item in items if item.modality == modality}
        for modality in ("sketch", "photo")
    }
    return ItemCounts(
        classes=len({item.label for item in items}),
        sketches=len(keys["sketch"]),
        photos=len(keys["photo"]),
        instances=len({instance_of(item) for item in items}) if relevance == "paired" else None,
    )


def training_data_record(
    available: list[ImageItem], kept: list[ImageItem], validation: list[ImageItem], relevance: str
) -> dict[str, dict[str, int | None]]:
    """What a prompt was trained on, for its file's header and its runs' results:
    ``{"kept": counts, "available": counts, "validation": counts}`` (:class:`ItemCounts` as dicts),
    ``available`` being the training items after the validation hold-out, before the subset."""
    return {
        name: asdict(item_counts(subset, relevance))
        for name, subset in (("kept", kept), ("available", available), ("validation", validation))
    }
