"""Content identities of images, and the per-image noise seeds derived from them.

An image is identified by its content, never by its position or key, so a descriptor is a function
of the image and the configuration alone. Two digests make up its identity (:class:`ImageIdentity`):
its file's bytes (or a generated image's pixels), which seed its noise, and the pixels the dataset's
``load_image`` returns, which the backbone is fed: a dataset that crops, inverts or binarises its
files gets other cache rows than one that reads them plainly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.api.datasets import Dataset, ImageItem
from bench.api.errors import BenchError

if TYPE_CHECKING:
    from PIL import Image


def image_digest(image: Image.Image) -> bytes:
    """BLAKE2b-128 of decoded pixels (mode, size and bytes): the identity of a generated image."""
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(f"{image.mode}:{image.size[0]}x{image.size[1]}:".encode())
    hasher.update(image.tobytes())
    return hasher.digest()


def file_digest(path: Path) -> bytes:
    """BLAKE2b-128 of a file's bytes: the identity of an image read from disk (no decoding)."""
    hasher = hashlib.blake2b(digest_size=16, person=b"sbir-file")
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.digest()


def item_digest(dataset: Dataset, item: ImageItem) -> bytes:
    """The digest that seeds ``item``'s noise: its file's bytes, or the pixels of a generated image."""
    return file_digest(item.path) if item.path is not None else image_digest(dataset.load_image(item))


@dataclass(frozen=True)
class ImageIdentity:
    """What an image's descriptors depend on besides the configuration.

    Attributes:
        content: :func:`item_digest` (16 bytes), which seeds the image's noise.
        pixels: :func:`image_digest` (16 bytes) of the image ``load_image`` returns, which the
            backbone is fed (equal to ``content`` for a generated image).
    """

    content: bytes
    pixels: bytes

    @property
    def key(self) -> bytes:
        """The image's row key in the feature cache: BLAKE2b-128 of both digests."""
        return hashlib.blake2b(self.content + self.pixels, digest_size=16, person=b"sbir-image").digest()


def item_identity(dataset: Dataset, item: ImageItem) -> ImageIdentity:
    """``item``'s :class:`ImageIdentity`: its image is loaded (decoded) and its file read."""
    pixels = image_digest(dataset.load_image(item))
    return ImageIdentity(file_digest(item.path) if item.path is not None else pixels, pixels)


def noise_seed(seed: int, digest: bytes) -> int:
    """A 63-bit noise seed from the run seed and an image's content digest.

    Seeding by content (not by position or key) makes a descriptor a function of the image and the
    configuration alone: independent of batch composition, order, dataset and process count.
    """
    material = hashlib.blake2b(seed.to_bytes(8, "little", signed=True) + digest, digest_size=8).digest()
    return int.from_bytes(material, "little") & (2**63 - 1)


def unreadable_image_error(item: ImageItem, reason: str) -> BenchError:
    """The error of a ``--strict`` run that meets an unreadable image."""
    return BenchError(
        f"Could not read image {item.key!r}: {reason}",
        "Fix or remove the file, or drop --strict to skip unreadable images (they are counted).",
    )


def _identity_or_reason(dataset: Dataset, item: ImageItem) -> ImageIdentity | str:
    try:
        return item_identity(dataset, item)
    except (BenchError, OSError, ValueError) as exc:
        return str(exc)


def identify_items(
    dataset: Dataset, items: Sequence[ImageItem], workers: int, on_item: Callable[[int], None] | None = None
) -> tuple[list[ImageIdentity | None], list[tuple[int, str]]]:
    """Identities of ``items`` (``workers`` threads: decoding releases the GIL); None and a reason
    for unreadable ones."""

    def one(item: ImageItem) -> ImageIdentity | str:
        outcome = _identity_or_reason(dataset, item)
        if on_item is not None:
            on_item(1)
        return outcome

    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        outcomes = list(pool.map(one, items))
    failures = [(i, outcome) for i, outcome in enumerate(outcomes) if isinstance(outcome, str)]
    return [None if isinstance(o, str) else o for o in outcomes], failures
