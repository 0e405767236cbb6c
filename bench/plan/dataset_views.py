"""Datasets as a run sees them: an adapter behind a view that adds a check or a cut.

:class:`DatasetView` passes everything through to the adapter (its class attributes, splits,
images, facts and extras such as captions); :class:`CheckedImages` holds a plugin's adapter to
its contract that ``load_image`` returns a PIL image, so a plugin that returns None or an array
is named in one message instead of failing deep inside a backbone's preprocessing.
"""

from __future__ import annotations

from typing import Any

from bench.api.datasets import Dataset, ImageItem, SplitName
from bench.api.errors import BenchError


class DatasetView(Dataset):
    """``dataset`` unchanged; subclasses override what they add."""

    def __init__(self, dataset: Dataset) -> None:
        self.inner = dataset
        self.group_by_label = dataset.group_by_label  # type: ignore[misc]  # the adapter's class attribute

    def split(self, name: SplitName) -> list[ImageItem]:
        return self.inner.split(name)

    def load_image(self, item: ImageItem) -> Any:
        return self.inner.load_image(item)

    def describe(self) -> dict[str, object]:
        return self.inner.describe()

    def __getattr__(self, name: str) -> Any:  # adapter extras (captions, describe facts) pass through
        if name == "inner":  # not set yet (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.inner, name)


class BrokenContract(BenchError):
    """A dataset adapter returned something its contract does not allow."""


class CheckedImages(DatasetView):
    """``dataset`` (registered as ``dataset_id`` by ``plugin``) whose images are checked to be PIL images.

    A wrong return value is a :class:`BrokenContract` error naming the plugin: the run skips and
    counts that item like an unreadable file (or stops on it with ``--strict``), and
    :meth:`check_first_image` turns an adapter that never returns an image into one error before
    any model loads.
    """

    def __init__(self, dataset: Dataset, dataset_id: str, plugin: str) -> None:
        super().__init__(dataset)
        self.dataset_id, self.plugin = dataset_id, plugin

    def load_image(self, item: ImageItem) -> Any:
        from PIL import Image

        image = self.inner.load_image(item)
        if not isinstance(image, Image.Image):
            raise BrokenContract(
                f"Dataset {self.dataset_id!r} (plugin {self.plugin!r}) broke its contract: load_image() "
                f"returned {_described(image)} for item {item.key!r}, not a PIL image.",
                "Its plugin must return a PIL.Image.Image (bench.load_rgb(path) reads any image file "
                "as one); see `bench.Dataset`.",
            )
        return image

    def check_first_image(self) -> None:
        """Load the first query; raise :class:`BrokenContract` when it is not a PIL image (an
        unreadable file is left for the run to skip and count)."""
        try:
            self.load_image(self.split("query")[0])
        except BrokenContract:
            raise
        except (BenchError, OSError, ValueError):
            return


def _described(value: object) -> str:
    """``None``, or ``a value of type numpy.ndarray with shape (32, 32, 3)``."""
    if value is None:
        return "None"
    kind = type(value)
    shape = getattr(value, "shape", None)
    return f"a value of type {kind.__module__}.{kind.__qualname__}" + (
        f" with shape {tuple(shape)}" if shape is not None else ""
    )
