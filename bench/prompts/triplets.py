"""Training triplets (anchor sketch, positive photo, negative photo) and the validation hold-out.

By the task's relevance rule: ``same-class``: the positive is a photo of the anchor's class, the
negative a photo of another class. ``paired``: the positive is the anchor's paired photo (same
``instance``), the negative another instance of the same class (any other photo when the class
has one instance). Every draw comes from a generator seeded by (seed, epoch): the same seed gives
the same triplets on every machine.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from bench.api.datasets import ImageItem
from bench.api.errors import BenchError


@dataclass(frozen=True)
class Triplet:
    """Indices into the training items: an anchor sketch and a positive and a negative photo."""

    anchor: int
    positive: int
    negative: int


def instance_of(item: ImageItem) -> str:
    """The pairing unit of an item: its instance, or (an unpaired item) its own key."""
    return item.instance or item.key


def split_validation(
    items: list[ImageItem], relevance: str, fraction: float, seed: int
) -> tuple[list[ImageItem], list[ImageItem]]:
    """(train, validation): hold out ``fraction`` of the classes (``same-class`` relevance, so
    validation is zero-shot like the test) or of the instances (``paired``), chosen by ``seed``.

    Raises:
        BenchError: ``fraction`` (in [0, 1), as the schema of :class:`TrainSpec` ensures) leaves the
            training or validation side without a unit.
    """
    if fraction == 0.0:
        return items, []
    paired = relevance == "paired"
    unit = instance_of if paired else (lambda item: item.label)
    units = sorted({unit(item) for item in items})
    held = round(fraction * len(units))
    if held < 1 or held >= len(units):
        what = "instances" if paired else "classes"
        raise BenchError(
            f"--val-split {fraction} of the training split's {len(units)} {what} leaves "
            f"{held} for validation and {len(units) - held} for training; both need at least one.",
            "Choose another fraction, or train without --val-split.",
        )
    chosen = set(np.random.default_rng([seed, 0x5EED]).permutation(len(units))[:held].tolist())
    held_out = {units[i] for i in chosen}
    return [i for i in items if unit(i) not in held_out], [i for i in items if unit(i) in held_out]


class TripletSampler:
    """One epoch of triplets over the sketches of ``items``.

    Args:
        items: the training items (sketches and photos).
        relevance: the task's relevance rule (``"same-class"`` or ``"paired"``).
        seed: the run seed.

    Raises:
        BenchError: no sketch has a usable positive and negative (e.g. an empty train split).
    """

    def __init__(self, items: list[ImageItem], relevance: str, seed: int) -> None:
        self.paired, self.seed = relevance == "paired", seed
        photos_by_label: dict[str, list[int]] = defaultdict(list)
        photos_by_instance: dict[str, list[int]] = defaultdict(list)
        photos = []
        for index, item in enumerate(items):
            if item.modality == "photo":
                photos.append(index)
                photos_by_label[item.label].append(index)
                if item.instance is not None:
                    photos_by_instance[item.instance].append(index)
        self.photos = np.array(photos, dtype=np.int64)
        self.labels = [item.label for item in items]
        self.instances = [item.instance for item in items]
        self.photos_by_label = {k: np.array(v) for k, v in photos_by_label.items()}
        self.photos_by_instance = {k: np.array(v) for k, v in photos_by_instance.items()}
        self.anchors = [
            index for index, item in enumerate(items) if item.modality == "sketch" and self._has_pair(item)
        ]
        if not self.anchors:
            partner = "paired photo" if self.paired else "photo of its class"
            raise BenchError(
                f"The training split has no sketch with a {partner} "
                f"and a photo to contrast it with ({len(items)} items, {len(photos)} photos).",
                "Check the dataset's train split (seen classes) and --val-split; "
                "`bench datasets check` reports the split sizes.",
            )

    def _has_pair(self, item: ImageItem) -> bool:
        if len(self.photos) < 2:
            return False
        if self.paired:
            same = self.photos_by_instance.get(item.instance)  # type: ignore[arg-type]
        else:
            same = self.photos_by_label.get(item.label)
        return same is not None and len(same) < len(self.photos)

    def epoch(self, number: int) -> list[Triplet]:
        """The triplets of epoch ``number``: every anchor once, in a seeded order."""
        rng = np.random.default_rng([self.seed, number])
        order = rng.permutation(len(self.anchors))
        return [self._triplet(self.anchors[i], rng) for i in order]

    def _triplet(self, anchor: int, rng: np.random.Generator) -> Triplet:
        label = self.labels[anchor]
        if self.paired:
            instance = self.instances[anchor]
            positive = int(rng.choice(self.photos_by_instance[instance]))
            same_class = self.photos_by_label[label]
            others = same_class[[self.instances[p] != instance for p in same_class]]
            if len(others) == 0:
                others = self.photos[[self.instances[p] != instance for p in self.photos]]
        else:
            positive = int(rng.choice(self.photos_by_label[label]))
            others = self.photos[[self.labels[p] != label for p in self.photos]]
        return Triplet(anchor, positive, int(rng.choice(others)))
