"""Batched descriptor extraction: image loading, per-item noise seeds, one backbone pass per batch.

One call of :func:`extract_descriptors` reads every requested layer at every requested timestep
from the same batches, so a sweep over L layers and T timesteps loads and encodes each image once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from bench.components import PromptCondition
from bench.datasets import Dataset, ImageItem
from bench.layers import LayerPlan
from bench.pooling import descriptor

if TYPE_CHECKING:
    from PIL import Image

    from bench.backbone import Backbone

DescriptorKey = tuple[int | None, str]  # (timestep, layer name)


@dataclass(frozen=True)
class ExtractionRequest:
    """Everything that determines the descriptors of one (backbone, dataset, prompt) group.

    Attributes:
        layers: the layer plans to produce.
        timesteps: diffusion timesteps, or ``(None,)``.
        noise_samples: noise draws averaged per image.
        seed: run seed; each image's noise seed derives from it and the image's pixels.
        prompt: the conditioning.
        batch_size: images per backbone call.
    """

    layers: tuple[LayerPlan, ...]
    timesteps: tuple[int | None, ...]
    noise_samples: int
    seed: int
    prompt: PromptCondition
    batch_size: int

    @property
    def taps(self) -> tuple[str, ...]:
        """Every tap any layer plan needs, each once, in first-use order."""
        return tuple(dict.fromkeys(tap for plan in self.layers for tap in plan.taps))


def image_digest(image: Image.Image) -> bytes:
    """BLAKE2b-128 of the decoded pixels (mode, size and bytes): the image's content identity."""
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(f"{image.mode}:{image.size[0]}x{image.size[1]}:".encode())
    hasher.update(image.tobytes())
    return hasher.digest()


def noise_seed(seed: int, digest: bytes) -> int:
    """A 63-bit noise seed from the run seed and an image digest.

    Seeding by content (not by position or key) makes a descriptor a function of the image and the
    configuration alone: independent of batch composition, order, dataset and process count.
    """
    material = hashlib.blake2b(seed.to_bytes(8, "little", signed=True) + digest, digest_size=8).digest()
    return int.from_bytes(material, "little") & (2**63 - 1)


def _batches(items: Sequence[ImageItem], batch_size: int) -> Iterator[list[int]]:
    """Index batches of ``items``, each of one modality, in item order within a modality."""
    for modality in dict.fromkeys(item.modality for item in items):
        indices = [i for i, item in enumerate(items) if item.modality == modality]
        for start in range(0, len(indices), batch_size):
            yield indices[start : start + batch_size]


def _load_batch(
    backbone: Backbone, dataset: Dataset, items: Sequence[ImageItem], indices: list[int], seed: int
) -> tuple[torch.Tensor, list[int]]:
    images = [dataset.load_image(items[i]) for i in indices]
    seeds = [noise_seed(seed, image_digest(image)) for image in images]
    return backbone.preprocess(images), seeds


def extract_descriptors(
    backbone: Backbone,
    dataset: Dataset,
    items: Sequence[ImageItem],
    request: ExtractionRequest,
    on_batch: Callable[[int], None] | None = None,
) -> dict[DescriptorKey, np.ndarray]:
    """Descriptors of ``items`` for every (timestep, layer) of ``request``.

    Images of the next batch are loaded and preprocessed in a background thread while the backbone
    runs the current one.

    Returns:
        ``{(t, layer name): array (len(items), dim)}`` float32, row i for ``items[i]``; each row is
        the mean over noise draws of L2-normalised descriptors.
    """
    out = {
        (t, plan.name): np.zeros((len(items), plan.dim), dtype=np.float32)
        for t in request.timesteps
        for plan in request.layers
    }
    batches = list(_batches(items, request.batch_size))
    with ThreadPoolExecutor(max_workers=1) as loader, torch.inference_mode():
        pending = (
            loader.submit(_load_batch, backbone, dataset, items, batches[0], request.seed)
            if batches
            else None
        )
        for number, indices in enumerate(batches):
            pixels, seeds = pending.result()  # type: ignore[union-attr]
            if number + 1 < len(batches):
                pending = loader.submit(
                    _load_batch, backbone, dataset, items, batches[number + 1], request.seed
                )
            features = backbone.extract(
                pixels,
                modality=items[indices[0]].modality,
                taps=request.taps,
                timesteps=request.timesteps,
                noise_samples=request.noise_samples,
                noise_seeds=seeds,
                prompt=request.prompt,
            )
            for t in request.timesteps:
                for plan in request.layers:
                    maps = [features[t][tap] for tap in plan.taps]
                    out[(t, plan.name)][indices] = descriptor(maps, plan.pool).cpu().numpy()
            if on_batch is not None:
                on_batch(len(indices))
    return out
