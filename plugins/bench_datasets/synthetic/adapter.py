"""The ``synthetic`` and ``synthetic-fg`` dataset adapters over the generated images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from bench import Dataset, ImageItem, SplitName
from bench_datasets.synthetic.instances import SPLIT_STREAM, photo_caption, seeded_rng
from bench_datasets.synthetic.photos import render_photo
from bench_datasets.synthetic.shapes import CATEGORIES
from bench_datasets.synthetic.sketches import render_sketch


@dataclass(frozen=True)
class _ImageSpec:
    """What determines one image: the instance and, for a sketch, which of its sketches."""

    seed: int
    category_index: int
    instance: int
    sketch_index: int | None = None

    @property
    def key(self) -> str:
        """``"photo/star/0003"`` or ``"sketch/star/0003-0"``."""
        if self.sketch_index is None:
            return f"photo/{self.instance_id}"
        return f"sketch/{self.instance_id}-{self.sketch_index}"

    @property
    def instance_id(self) -> str:
        """The pairing id shared by a photo and its sketches, e.g. ``"star/0003"``."""
        return f"{CATEGORIES[self.category_index]}/{self.instance:04d}"

    def item(self) -> ImageItem:
        """The dataset item of this image (photos carry a caption, sketches none)."""
        label = CATEGORIES[self.category_index]
        if self.sketch_index is not None:
            return ImageItem(self.key, "sketch", label, self.instance_id)
        caption = photo_caption(self.seed, self.category_index, self.instance)
        return ImageItem(self.key, "photo", label, self.instance_id, caption)

    def render(self, size: int) -> Image.Image:
        """The RGB pixels of this image, ``size`` x ``size``."""
        if self.sketch_index is None:
            return render_photo(self.seed, self.category_index, self.instance, size)
        return render_sketch(self.seed, self.category_index, self.instance, self.sketch_index, size)


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` if it is an integer in ``[low, high]`` (no upper bound when ``high`` is None).

    Raises:
        ValueError: naming the argument, the valid range and the value given.
    """
    valid = f">= {low}" if high is None else f"in [{low}, {high}]"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer {valid}, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer {valid}, got {value}")
    return int(value)


def _choose_classes(seed: int, num_classes: int, num_unseen: int) -> tuple[list[int], list[int]]:
    """Category indices (unseen, seen), each in ``CATEGORIES`` order, drawn from ``seed``."""
    order = seeded_rng(SPLIT_STREAM, seed).permutation(len(CATEGORIES))
    return sorted(order[:num_unseen].tolist()), sorted(order[num_unseen:num_classes].tolist())


class _SyntheticDataset(Dataset):
    """Procedural shape sketches and photos (see the module docstring); subclasses pick the task.

    Args:
        seed: seeds the class split and every image (>= 0).
        num_classes: categories used, at most ``len(CATEGORIES)``.
        num_unseen: test categories (query and gallery), disjoint from the training categories.
        photos_per_class: photos (instances) per test category.
        train_photos_per_class: photos (instances) per training category.
        sketches_per_photo: sketches drawn from each photo's instance.
        image_size: side of every image, pixels.

    Raises:
        ValueError: when an argument is out of range (the message says what is valid).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        num_classes: int = 24,
        num_unseen: int = 8,
        photos_per_class: int = 12,
        train_photos_per_class: int = 12,
        sketches_per_photo: int = 1,
        image_size: int = 128,
    ) -> None:
        num_classes = check_int("num_classes", num_classes, 2, len(CATEGORIES))
        self._options: dict[str, int] = {
            "seed": check_int("seed", seed, 0),
            "num_classes": num_classes,
            "num_unseen": check_int("num_unseen", num_unseen, 1, num_classes - 1),
            "photos_per_class": check_int("photos_per_class", photos_per_class, 1, 9999),
            "train_photos_per_class": check_int("train_photos_per_class", train_photos_per_class, 1, 9999),
            "sketches_per_photo": check_int("sketches_per_photo", sketches_per_photo, 1, 99),
            "image_size": check_int("image_size", image_size, 32, 1024),
        }
        options = self._options
        self._unseen, self._seen = _choose_classes(options["seed"], num_classes, options["num_unseen"])
        test = [self._instance_specs(c, i) for c in self._unseen for i in range(options["photos_per_class"])]
        train = [
            self._instance_specs(c, i) for c in self._seen for i in range(options["train_photos_per_class"])
        ]
        self._splits: dict[str, list[_ImageSpec]] = {
            "query": [spec for specs in test for spec in specs[1:]],
            "gallery": [specs[0] for specs in test],
            "train": [spec for specs in train for spec in specs],
        }
        self._specs = {spec.key: spec for specs in test + train for spec in specs}

    def _instance_specs(self, category_index: int, instance: int) -> list[_ImageSpec]:
        """The photo of one instance followed by its sketches."""
        seed, sketches = self._options["seed"], self._options["sketches_per_photo"]
        return [_ImageSpec(seed, category_index, instance)] + [
            _ImageSpec(seed, category_index, instance, k) for k in range(sketches)
        ]

    @property
    def unseen_classes(self) -> list[str]:
        """The test categories, in ``CATEGORIES`` order."""
        return [CATEGORIES[c] for c in self._unseen]

    @property
    def seen_classes(self) -> list[str]:
        """The training categories, in ``CATEGORIES`` order."""
        return [CATEGORIES[c] for c in self._seen]

    def split(self, name: SplitName) -> list[ImageItem]:
        """See :meth:`Dataset.split`; photos of an instance come before its sketches in ``"train"``."""
        if name not in self._splits:
            raise ValueError(f"split must be one of {sorted(self._splits)}, got {name!r}")
        return [spec.item() for spec in self._splits[name]]

    def load_image(self, item: ImageItem) -> Image.Image:
        """Render ``item`` (an item of this dataset) as an RGB image of ``image_size`` pixels."""
        spec = self._specs.get(item.key)
        if spec is None:
            raise ValueError(f"{item.key!r} is not an item of this dataset; pass items its split() returns")
        return spec.render(self._options["image_size"])

    def describe(self) -> dict[str, object]:
        """The generator arguments and the unseen (test) and seen (training) class lists."""
        return {**self._options, "unseen_classes": self.unseen_classes, "seen_classes": self.seen_classes}


class SyntheticCategory(_SyntheticDataset):
    """Zero-shot category-level SBIR on procedural shapes: unseen-class sketches query their photos."""


class SyntheticFineGrained(_SyntheticDataset):
    """Fine-grained SBIR on procedural shapes: each sketch's target is the photo it was drawn from.

    Same images as :class:`SyntheticCategory` for the same arguments; queries are ranked against the
    photos of their own class only.
    """

    group_by_label = True
