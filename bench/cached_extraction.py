"""Descriptors of one extraction group through the cache: look up, extract only what is missing.

1. Hash every image's content (file bytes, or pixels of a generated image).
2. Open one cache store per (timestep, layer) of the group and look the digests up.
3. Extract the images missing from any store (this process's share of them when several processes
   run), writing rows to the stores as batches finish, so a killed run keeps its work.
4. Wait for every process; the main one reads all descriptors back from the stores.

Descriptors are always read back in the cache's precision, so a first run and a cached rerun give
identical numbers.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.cache import DescriptorStore, FeatureCache
from bench.components import PromptCondition
from bench.datasets import Dataset, ImageItem
from bench.distributed import World
from bench.extract import (
    DescriptorKey,
    ExtractionRequest,
    digest_items,
    extract_descriptors,
    unreadable_image_error,
)

FLUSH_ROWS_ENV = "SBIR_BENCH_FLUSH_ROWS"
DEFAULT_FLUSH_ROWS = 256  # rows buffered per store before a shard is written: work lost on a kill


def weights_fingerprint(weights: str) -> str:
    """``weights`` plus, for a local file or directory, a hash of its files' names, sizes and times."""
    path = Path(weights).expanduser()
    if not path.exists():
        return weights
    hasher = hashlib.sha256()
    for file in sorted(p for p in [path, *path.rglob("*")] if p.is_file()):
        stat = file.stat()
        hasher.update(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return f"{path.resolve()}#{hasher.hexdigest()[:16]}"


def code_fingerprint(target: Any) -> str:
    """A hash of the source of the package that implements ``target`` (a ``"module:attr"`` string or
    a callable), read without importing it: editing a backbone's code (a random model's config,
    preprocessing) invalidates its cached descriptors."""
    if isinstance(target, str):
        spec = importlib.util.find_spec(target.split(":")[0].split(".")[0])
        origin = Path(spec.origin) if spec and spec.origin else None
    else:
        source = inspect.getsourcefile(target)
        origin = Path(source) if source else None
    if origin is None:
        return "unknown"
    files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
    hasher = hashlib.sha256()
    for file in files:
        hasher.update(file.read_bytes())
    return hasher.hexdigest()[:16]


def prompt_fingerprint(prompt: PromptCondition) -> str:
    """A hash of everything in the prompt: its text and the bytes of any learned tensors."""
    hasher = hashlib.sha256(prompt.text.encode())
    for tensor in (prompt.text_embedding, *(sorted((prompt.visual or {}).items()))):
        if tensor is None:
            continue
        name, value = tensor if isinstance(tensor, tuple) else ("text", tensor)
        hasher.update(name.encode())
        hasher.update(np.ascontiguousarray(value.detach().float().cpu().numpy()).tobytes())
    return hasher.hexdigest()[:16]


@dataclass
class GroupDescriptors:
    """What the main process scores.

    Attributes:
        descriptors: ``{(t, layer): (len(items), dim) float32}`` (rows of skipped items are 0).
        skipped: (row, reason) of images that could not be read.
        hits: per (t, layer), images found in the cache before extraction.
        extracted: images this process extracted.
        extract_seconds: wall time of this process's extraction.
    """

    descriptors: dict[DescriptorKey, np.ndarray]
    skipped: list[tuple[int, str]]
    hits: dict[DescriptorKey, int]
    extracted: int
    extract_seconds: float
    cache_problems: list[str] = field(default_factory=list)


class StoreWriter:
    """Buffers new descriptor rows and writes them to their stores as shards of ``flush_rows`` rows
    (``$SBIR_BENCH_FLUSH_ROWS``, default 256: smaller shards lose less work to a kill)."""

    def __init__(self, stores: dict[DescriptorKey, DescriptorStore], digests: list[bytes]) -> None:
        self.stores = stores
        self.digests = digests
        self.flush_rows = int(os.environ.get(FLUSH_ROWS_ENV, DEFAULT_FLUSH_ROWS))
        self.pending: dict[DescriptorKey, tuple[list[int], list[np.ndarray]]] = {
            key: ([], []) for key in stores
        }

    def add(self, indices: list[int], rows: dict[DescriptorKey, np.ndarray]) -> None:
        for key, values in rows.items():
            pending_indices, pending_rows = self.pending[key]
            pending_indices.extend(indices)
            pending_rows.append(values)
            if len(pending_indices) >= self.flush_rows:
                self.flush(key)

    def flush(self, key: DescriptorKey) -> None:
        indices, rows = self.pending[key]
        if indices:
            self.stores[key].put([self.digests[i] for i in indices], np.concatenate(rows))
        self.pending[key] = ([], [])

    def flush_all(self) -> None:
        for key in self.stores:
            self.flush(key)


def store_fields(base: dict[str, Any], t: int | None, taps: tuple[str, ...], pool: str) -> dict[str, Any]:
    """The fields that key one store: the group's ``base`` fields plus the layer and timestep."""
    return {**base, "t": t, "taps": list(taps), "pool": pool}


def group_descriptors(
    *,
    dataset: Dataset,
    items: list[ImageItem],
    request: ExtractionRequest,
    base_fields: dict[str, Any],
    cache: FeatureCache,
    world: World,
    load_backbone: Callable[[], Any],
    progress: Callable[[str, int], Any],
    workers: int,
    strict: bool,
) -> GroupDescriptors:
    """Steps 1-4 of the module docstring for one group; only the main process gets descriptors."""
    with progress("hashing images", len(items)) as advance:
        digests, unreadable = digest_items(dataset, items, workers, advance)
    if unreadable and strict:
        row, reason = unreadable[0]
        raise unreadable_image_error(items[row], reason)
    stores = {
        (t, plan.name): cache.store(store_fields(base_fields, t, plan.taps, plan.pool), plan.dim)
        for t in request.timesteps
        for plan in request.layers
    }
    problems = [f"{p.path}: {p.reason}" for store in stores.values() for p in store.problems]
    readable = [i for i, digest in enumerate(digests) if digest is not None]
    hits = {key: sum(digests[i] in store.index for i in readable) for key, store in stores.items()}
    missing = [i for i in readable if any(digests[i] not in store.index for store in stores.values())]
    mine = world.shard(missing)
    started = time.perf_counter()
    failures: list[tuple[int, str]] = []
    if mine:
        writer = StoreWriter(stores, [digests[i] for i in mine])  # type: ignore[misc]
        with progress("extracting", len(mine)) as advance:
            extraction = extract_descriptors(
                load_backbone(),
                dataset,
                [items[i] for i in mine],
                request,
                advance,
                digests=[digests[i] for i in mine],
                on_rows=writer.add,
                workers=workers,
                strict=strict,
            )
        writer.flush_all()
        failures = [(mine[row], reason) for row, reason in extraction.skipped]
    extract_seconds = time.perf_counter() - started
    world.barrier()
    if not world.is_main:
        return GroupDescriptors({}, [], hits, len(mine), extract_seconds, problems)
    return _read_back(
        stores, digests, unreadable + failures, hits, len(mine), extract_seconds, problems, world
    )


def _read_back(
    stores, digests, known_failures, hits, extracted, seconds, problems, world
) -> GroupDescriptors:
    """Every row from the stores; rows still missing are skipped images."""
    descriptors: dict[DescriptorKey, np.ndarray] = {}
    found_everywhere = np.ones(len(digests), dtype=bool)
    keys = [digest or b"" for digest in digests]
    for key, store in stores.items():
        if world.size > 1:
            store.load_index()  # other processes wrote shards
        descriptors[key], found = store.lookup(keys)
        found_everywhere &= found
    reasons = dict(known_failures)
    skipped = [
        (row, reasons.get(row, "not extracted (its process failed)"))
        for row in np.flatnonzero(~found_everywhere).tolist()
    ]
    return GroupDescriptors(descriptors, skipped, hits, extracted, seconds, problems)


def describe_fields(fields: dict[str, Any]) -> str:
    """One line naming a store's configuration (for ``bench cache info``)."""
    shown = {
        k: fields.get(k) for k in ("backbone", "taps", "pool", "t", "noise_samples", "seed", "image_size")
    }
    return json.dumps(shown, default=str)
