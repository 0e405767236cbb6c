"""Content identities of images, and the per-image noise seeds derived from them.

An image is identified by its file's bytes (or a generated image's pixels), never by its position
or key, so a descriptor is a function of the image and the configuration alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
    """The content identity of ``item``: its file's bytes, or the pixels of a generated image."""
    return file_digest(item.path) if item.path is not None else image_digest(dataset.load_image(item))


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


def _digest_or_reason(dataset: Dataset, item: ImageItem) -> bytes | str:
    try:
        return item_digest(dataset, item)
    except (BenchError, OSError, ValueError) as exc:
        return str(exc)


def digest_items(
    dataset: Dataset, items: Sequence[ImageItem], workers: int, on_item: Callable[[int], None] | None = None
) -> tuple[list[bytes | None], list[tuple[int, str]]]:
    """Content digests of ``items`` (``workers`` threads); None and a reason for unreadable ones."""

    def one(item: ImageItem) -> bytes | str:
        outcome = _digest_or_reason(dataset, item)
        if on_item is not None:
            on_item(1)
        return outcome

    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        outcomes = list(pool.map(one, items))
    failures = [(i, outcome) for i, outcome in enumerate(outcomes) if isinstance(outcome, str)]
    return [None if isinstance(o, str) else o for o in outcomes], failures
