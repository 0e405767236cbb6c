"""The dataset-adapter interface: image items, splits and the base class adapters implement.

Pure Python (no torch): adapters yield :class:`ImageItem` records; pixels are produced only when
:meth:`Dataset.load_image` is called.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

if TYPE_CHECKING:
    from PIL import Image

Modality = Literal["sketch", "photo"]
SplitName = Literal["query", "gallery", "train"]


@dataclass(frozen=True)
class ImageItem:
    """One image of a dataset.

    Attributes:
        key: identifier unique within the dataset and stable across runs, e.g. ``"photo/star/0003"``.
        modality: ``"sketch"`` or ``"photo"``.
        label: class name (for fine-grained data, the category the instance belongs to).
        instance: pairing id for fine-grained retrieval: a sketch and the photo it was drawn from
            share it. ``None`` where the dataset has no pairing.
        caption: a short text description (used for sketch+text retrieval), or ``None``.
        path: the file the image is read from, or ``None`` for generated images.
    """

    key: str
    modality: Modality
    label: str
    instance: str | None = None
    caption: str | None = None
    path: Path | None = None


class Dataset(abc.ABC):
    """A benchmark: query sketches, a photo gallery and a training split.

    Subclasses implement :meth:`split` and :meth:`load_image`; the task it is scored by is named
    once, where the dataset registers (:attr:`bench.DatasetInfo.task`).

    Attributes:
        group_by_label: for a task with paired relevance, whether each query is ranked only
            against the gallery photos of its own label (the per-class galleries of cross-category
            fine-grained SBIR).
    """

    group_by_label: ClassVar[bool] = False

    @abc.abstractmethod
    def split(self, name: SplitName) -> list[ImageItem]:
        """The items of split ``name`` in a fixed, deterministic order.

        ``"query"``: test sketches; ``"gallery"``: test photos (unique); ``"train"``: sketches and
        photos of the seen (training) classes.
        """

    @abc.abstractmethod
    def load_image(self, item: ImageItem) -> Image.Image:
        """The pixels of ``item`` as an RGB PIL image (sketches on a white background)."""

    def describe(self) -> dict[str, object]:
        """Facts about this instance recorded in results files (split name, gallery rule, sizes)."""
        return {}
