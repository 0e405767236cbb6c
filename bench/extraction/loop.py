"""Batched descriptor extraction: image loading, per-item noise seeds, one backbone pass per batch.

One call of :func:`extract_descriptors` reads every requested layer at every requested timestep
from the same batches, so a sweep over L layers and T timesteps loads and encodes each image once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from bench.api.components import PromptCondition
from bench.api.datasets import Dataset, ImageItem
from bench.api.errors import BenchError
from bench.extraction.digests import file_digest, image_digest, noise_seed, unreadable_image_error
from bench.extraction.features import DescriptorKey, LoadedBackbone, layer_features
from bench.extraction.finite import check_batch, check_pixels, check_prompt, tap_finiteness
from bench.extraction.pooling import descriptor
from bench.extraction.transfer import is_cuda, model_device, pinned_for, to_device, to_host
from bench.plan.layers import LayerPlan
from bench.plan.settings import ExecutionSettings

if TYPE_CHECKING:
    from PIL import Image


FINITE_FLAGS = "finite"  # the key of tap_finiteness's flags among a batch's descriptor rows (DescriptorKeys)


@dataclass(frozen=True)
class ExtractionRequest:
    """Everything that determines the descriptors of one (backbone, dataset, prompt) group.

    Attributes:
        layers: the layer plans to produce.
        timesteps: diffusion timesteps, or ``(None,)``.
        noise_samples: noise draws averaged per image.
        prompt: the conditioning.
        settings: how to extract: its ``seed`` (each image's noise seed derives from it and the
            image's content), ``batch_size`` (images per backbone call), ``workers`` (threads reading
            images ahead) and ``strict`` (raise on the first unreadable image).
    """

    layers: tuple[LayerPlan, ...]
    timesteps: tuple[int | None, ...]
    noise_samples: int
    prompt: PromptCondition
    settings: ExecutionSettings


def _batches(items: Sequence[ImageItem], batch_size: int, texts: Sequence[str | None]) -> Iterator[list[int]]:
    """Index batches of ``items``, each of one modality and either all with a text or all without,
    in item order within such a kind."""
    kinds = [(item.modality, text is not None) for item, text in zip(items, texts, strict=True)]
    for kind in dict.fromkeys(kinds):
        indices = [i for i, other in enumerate(kinds) if other == kind]
        for start in range(0, len(indices), batch_size):
            yield indices[start : start + batch_size]


@dataclass
class LoadedBatch:
    """A batch ready for the backbone.

    Attributes:
        indices: item indices that loaded, in batch order.
        pixels: (len(indices), 3, S, S) from the backbone's ``preprocess`` (in pinned host memory
            when the backbone runs on CUDA), or None if none loaded.
        seeds: per loaded item, its noise seed.
        failures: (item index, reason) for items that could not be read.
    """

    indices: list[int]
    pixels: torch.Tensor | None
    seeds: list[int]
    failures: list[tuple[int, str]]


@dataclass
class Extraction:
    """Descriptors of a list of items.

    Attributes:
        descriptors: ``{(t, layer name): (len(items), dim) float32}``; rows of skipped items are 0.
        skipped: (item index, reason) for every item that could not be read.
    """

    descriptors: dict[DescriptorKey, np.ndarray]
    skipped: list[tuple[int, str]] = field(default_factory=list)


def _read(
    dataset: Dataset, item: ImageItem, seed: int, digest: bytes | None
) -> tuple[Image.Image, int] | str:
    """The item's image and noise seed (from ``digest``, computed if None), or why it could not be read."""
    try:
        image = dataset.load_image(item)
        if digest is None:
            digest = file_digest(item.path) if item.path is not None else image_digest(image)
    except (BenchError, OSError, ValueError) as exc:
        return str(exc)
    return image, noise_seed(seed, digest)


class BatchLoader:
    """Reads and preprocesses batches with a pool of ``settings.workers`` threads (PIL decoding and
    resizing release the GIL), one batch ahead of the backbone.

    Args:
        settings: the run's seed (noise seeds), ``workers`` and ``strict`` (raise
            :class:`BenchError` on the first unreadable image instead of skipping it).
        device: where the backbone runs; for a CUDA device each batch's pixels are pinned here, in
            the loader's thread, so that their copy to the GPU can be asynchronous.
    """

    def __init__(
        self,
        backbone: LoadedBackbone,
        dataset: Dataset,
        items: Sequence[ImageItem],
        digests: Sequence[bytes | None],
        settings: ExecutionSettings,
        device: torch.device | None = None,
    ) -> None:
        self.backbone, self.dataset, self.items, self.digests = backbone, dataset, items, digests
        self.seed, self.strict, self.device = settings.seed, settings.strict, device
        self.readers = ThreadPoolExecutor(max_workers=settings.workers) if settings.workers > 0 else None

    def load(self, indices: list[int]) -> LoadedBatch:
        read = lambda i: _read(self.dataset, self.items[i], self.seed, self.digests[i])  # noqa: E731
        outcomes = list(self.readers.map(read, indices) if self.readers else map(read, indices))
        failures = [
            (i, outcome) for i, outcome in zip(indices, outcomes, strict=True) if isinstance(outcome, str)
        ]
        if failures and self.strict:
            index, reason = failures[0]
            raise unreadable_image_error(self.items[index], reason)
        loaded = [
            (i, outcome) for i, outcome in zip(indices, outcomes, strict=True) if not isinstance(outcome, str)
        ]
        pixels = self.backbone.preprocess([image for _, (image, _) in loaded]) if loaded else None
        if pixels is not None:
            check_pixels(self.backbone, pixels, [self.items[i].key for i, _ in loaded])
            pixels = pinned_for(pixels, self.device)
        return LoadedBatch([i for i, _ in loaded], pixels, [seed for _, (_, seed) in loaded], failures)

    def close(self) -> None:
        if self.readers:
            self.readers.shutdown(cancel_futures=True)


def extract_descriptors(
    backbone: LoadedBackbone,
    dataset: Dataset,
    items: Sequence[ImageItem],
    request: ExtractionRequest,
    on_batch: Callable[[int], None] | None = None,
    *,
    digests: Sequence[bytes | None] | None = None,
    texts: Sequence[str | None] | None = None,
    on_rows: Callable[[list[int], dict[DescriptorKey, np.ndarray]], None] | None = None,
) -> Extraction:
    """Descriptors of ``items`` for every (timestep, layer) of ``request``.

    Images are read by ``request.settings.workers`` threads, one batch ahead of the backbone. An
    image that cannot be read is skipped (and reported in :attr:`Extraction.skipped`) unless
    ``request.settings.strict``. Non-finite
    values are an error raised where they arise (see :mod:`bench.extraction.finite`), before the
    batch's rows reach ``on_rows``.

    Args:
        digests: the items' content digests if already known (noise seeds derive from them).
        texts: per item, a text that conditions it in place of the prompt's text (the query
            sketches of sketch+text retrieval; ``PromptCondition.item_texts``), or None for the
            prompt alone. Items with and without a text never share a batch; noise is unchanged.
        on_rows: called after every batch with the item indices and their new descriptor rows
            ``{(t, layer): (len(indices), dim)}``, e.g. to write them to the cache as they come.

    Returns:
        An :class:`Extraction`: row i of each array is ``items[i]``'s descriptor, the mean over noise
        draws of L2-normalised pooled features.
    """
    out = {
        (t, plan.name): np.zeros((len(items), plan.dim), dtype=np.float32)
        for t in request.timesteps
        for plan in request.layers
    }
    check_prompt(request.prompt)
    skipped: list[tuple[int, str]] = []
    texts = texts or [None] * len(items)
    batches = list(_batches(items, request.settings.batch_size, texts))
    device = model_device(backbone.model)
    loader = BatchLoader(backbone, dataset, items, digests or [None] * len(items), request.settings, device)
    try:
        with ThreadPoolExecutor(max_workers=1) as ahead, torch.inference_mode():
            pending = ahead.submit(loader.load, batches[0]) if batches else None
            for number in range(len(batches)):
                batch = pending.result()  # type: ignore[union-attr]
                if number + 1 < len(batches):
                    pending = ahead.submit(loader.load, batches[number + 1])
                skipped.extend(batch.failures)
                if batch.pixels is not None:
                    _describe_batch(backbone, items, texts, request, batch, out, device)
                    if on_rows is not None:
                        on_rows(batch.indices, {key: values[batch.indices] for key, values in out.items()})
                if on_batch is not None:
                    on_batch(len(batch.indices) + len(batch.failures))
    finally:
        loader.close()
    return Extraction(out, skipped)


def _describe_batch(
    backbone: LoadedBackbone,
    items: Sequence[ImageItem],
    texts: Sequence[str | None],
    request: ExtractionRequest,
    batch: LoadedBatch,
    out: dict[DescriptorKey, np.ndarray],
    device: torch.device | None,
) -> None:
    """Fill ``out``'s rows of ``batch``: one backbone call, every layer pooled on the backbone's
    device, one copy of all of them (and of which features were finite) to the host, checked there.
    On CUDA the pinned pixels are copied to the GPU here, asynchronously, before the visual prompt
    is added (there)."""
    prompt = request.prompt
    if texts[batch.indices[0]] is not None:  # a batch's items all have a text, or none has
        prompt = replace(prompt, item_texts=tuple(texts[i] for i in batch.indices))
    pixels = to_device(batch.pixels, device) if is_cuda(device) else batch.pixels
    features = layer_features(
        backbone,
        pixels,
        modality=items[batch.indices[0]].modality,
        layers=request.layers,
        timesteps=request.timesteps,
        noise_samples=request.noise_samples,
        noise_seeds=batch.seeds,
        prompt=prompt,
    )
    pools = {plan.name: plan.pool for plan in request.layers}
    rows = {(t, name): descriptor(taps, pools[name]) for (t, name), taps in features.items()}
    tap_keys, tap_flags = tap_finiteness(features, request.layers)
    host = to_host({**rows, FINITE_FLAGS: tap_flags})
    flags = host.pop(FINITE_FLAGS)
    check_batch(backbone, [items[i].key for i in batch.indices], tap_keys, flags, host, pools)
    for key, values in host.items():
        out[key][batch.indices] = values
