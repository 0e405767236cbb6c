"""Descriptors of one extraction group through the cache: look up, extract only what is missing.

1. Identify every image by its content (:class:`~bench.extraction.digests.ImageIdentity`: the
   pixels the dataset returns, and its file's bytes, which seed its noise).
2. Open one cache store per (timestep, layer) of the group (two when some items are conditioned
   on a text of their own: sketch+text queries) and look the items up.
3. Extract the images missing from any store (this process's share of them when several processes
   run), writing rows to the stores as batches finish, so a killed run keeps its work.
4. Wait for every process; the main one reads all descriptors back from the stores.

Descriptors are always read back in the cache's precision, so a first run and a cached rerun give
identical numbers.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.api.datasets import Dataset, ImageItem
from bench.extraction.cache import DIGEST_BYTES, DescriptorStore, FeatureCache
from bench.extraction.cache_files import LOCK_NAME
from bench.extraction.digests import identify_items, unreadable_image_error
from bench.extraction.distributed import World
from bench.extraction.features import DescriptorKey
from bench.extraction.loop import ExtractionRequest, extract_descriptors

FLUSH_ROWS_ENV = "SBIR_BENCH_FLUSH_ROWS"
DEFAULT_FLUSH_ROWS = 256  # rows buffered per store before a shard is written: work lost on a kill
QUERY_TEXT_FIELD = "query_text"  # in the fields of the stores of text-conditioned rows, and only there
TEXT_ROW_KEYS = "per-item text: rows keyed by image digest + text"


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


@dataclass
class RowStores:
    """Where the descriptors of a group's items live: every item's row, in one of the group's sets
    of stores, under its key.

    Attributes:
        sets: sets of stores, each ``{(t, layer): store}``: the group's plain stores first, then (when
            some items have a text) the stores of text-conditioned rows.
        kinds: per item, the index of its set in ``sets``.
        keys: per item, its row key (see :func:`row_key`); None for an unreadable image.
    """

    sets: list[dict[DescriptorKey, DescriptorStore]]
    kinds: list[int]
    keys: list[bytes | None]

    def has(self, row: int, key: DescriptorKey) -> bool:
        """Whether item ``row``'s descriptor for ``key`` is in the cache."""
        return self.keys[row] in self.sets[self.kinds[row]][key].index


def row_key(image_key: bytes | None, text: str | None) -> bytes | None:
    """An item's key in its store: its image key (:attr:`ImageIdentity.key`), or, for an image
    conditioned on its own text, BLAKE2b-128 of that key and the text (keys have a fixed length, so
    the pair is unambiguous)."""
    if image_key is None or text is None:
        return image_key
    return hashlib.blake2b(image_key + text.encode(), digest_size=DIGEST_BYTES, person=b"sbir-text").digest()


class StoreWriter:
    """Buffers new descriptor rows and writes them to their stores as shards of ``flush_rows`` rows
    (``$SBIR_BENCH_FLUSH_ROWS``, default 256: smaller shards lose less work to a kill).

    Args:
        stores: where the group's rows live.
        rows: the group rows of the items being extracted (:meth:`add` gets positions in this list).
    """

    def __init__(self, stores: RowStores, rows: list[int]) -> None:
        self.stores = stores
        self.rows = rows
        self.flush_rows = int(os.environ.get(FLUSH_ROWS_ENV, DEFAULT_FLUSH_ROWS))
        self.pending: dict[tuple[int, DescriptorKey], tuple[list[int], list[np.ndarray]]] = {}

    def add(self, indices: list[int], rows: dict[DescriptorKey, np.ndarray]) -> None:
        kinds = [self.stores.kinds[self.rows[i]] for i in indices]
        for key, values in rows.items():
            for kind in dict.fromkeys(kinds):
                chosen = [position for position, other in enumerate(kinds) if other == kind]
                pending_rows, pending_values = self.pending.setdefault((kind, key), ([], []))
                pending_rows.extend(self.rows[indices[position]] for position in chosen)
                pending_values.append(values[chosen])
                if len(pending_rows) >= self.flush_rows:
                    self.flush((kind, key))

    def flush(self, target: tuple[int, DescriptorKey]) -> None:
        rows, values = self.pending.pop(target, ([], []))
        if rows:
            kind, key = target
            self.stores.sets[kind][key].put([self.stores.keys[row] for row in rows], np.concatenate(values))

    def flush_all(self) -> None:
        for target in list(self.pending):
            self.flush(target)


@contextlib.contextmanager
def store_locks(stores: Sequence[DescriptorStore]) -> Iterator[None]:
    """Hold an exclusive lock on each store (``<store>/.lock``, taken in path order so two runs never
    deadlock), waiting for a process that holds one."""
    with contextlib.ExitStack() as stack:
        for store in sorted(stores, key=lambda s: str(s.directory)):
            try:
                handle = stack.enter_context(open(store.directory / LOCK_NAME, "a+b"))
            except OSError:  # a store this user may only read: nothing will be written to it
                continue
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def store_fields(base: dict[str, Any], t: int | None, taps: tuple[str, ...], pool: str) -> dict[str, Any]:
    """The fields that key one store: the group's ``base`` fields plus the layer and timestep."""
    return {**base, "t": t, "taps": list(taps), "pool": pool}


@dataclass(frozen=True)
class GroupItems:
    """The items of one extraction group.

    Attributes:
        dataset: the opened dataset they come from.
        items: the items, in row order.
        texts: per item, a text that conditions it in place of the prompt's (the query sketches of
            sketch+text retrieval, see :func:`~bench.extraction.loop.extract_descriptors`), or None
            (every item None: the prompt alone).
    """

    dataset: Dataset
    items: list[ImageItem]
    texts: Sequence[str | None] | None = None

    @property
    def row_texts(self) -> list[str | None]:
        """Per item, its text or None."""
        return list(self.texts or [None] * len(self.items))


def group_descriptors(
    group: GroupItems,
    request: ExtractionRequest,
    base_fields: dict[str, Any],
    *,
    cache: FeatureCache,
    world: World,
    load_backbone: Callable[[], Any],
    progress: Callable[[str, int], Any],
) -> GroupDescriptors:
    """Steps 1-4 of the module docstring for one group; only the main process gets descriptors.

    Items with a text (``group.texts``: the query sketches of sketch+text retrieval) are cached in
    one more set of stores, whose fields add ``query_text`` and whose rows are keyed by image and
    text (:func:`row_key`); items without one share the plain stores with every run of the same
    configuration. Images are read by ``request.settings.workers`` threads; an unreadable one is
    an error with ``request.settings.strict``, else skipped.
    """
    with progress("hashing images", len(group.items)) as advance:
        identities, unreadable = identify_items(group.dataset, group.items, request.settings.workers, advance)
    if unreadable and request.settings.strict:
        row, reason = unreadable[0]
        raise unreadable_image_error(group.items[row], reason)
    stores = _row_stores(cache, base_fields, request, identities, group.row_texts)
    every_store = [store for store_set in stores.sets for store in store_set.values()]
    # One process at a time extracts into these stores (torchrun ranks share the work instead): an
    # identical run started meanwhile waits here, then finds the rows written and extracts nothing.
    # The stores were opened before the lock: a run that finished in between (without making this
    # one wait) wrote shards their indexes do not hold yet.
    with store_locks(every_store if world.size == 1 else []):
        for store in every_store:
            store.refresh()
        readable = [i for i, identity in enumerate(identities) if identity is not None]
        hits = {key: sum(stores.has(i, key) for i in readable) for key in stores.sets[0]}
        missing = [i for i in readable if not all(stores.has(i, key) for key in stores.sets[0])]
        mine = world.shard(missing)
        started = time.perf_counter()
        failures = _extract_rows(group, mine, identities, stores, request, load_backbone, progress)
    problems = [
        f"shard {p.path} {p.reason}; " + ("moved aside, " if p.moved else "") + "its rows are recomputed"
        for store in every_store
        for p in store.problems
    ]
    extract_seconds = time.perf_counter() - started
    world.barrier()
    if not world.is_main:
        return GroupDescriptors({}, [], hits, len(mine), extract_seconds, problems)
    return _read_back(stores, unreadable + failures, hits, len(mine), extract_seconds, problems, world)


def _extract_rows(
    group: GroupItems,
    rows: list[int],
    identities: Sequence[Any],
    stores: RowStores,
    request: ExtractionRequest,
    load_backbone: Callable[[], Any],
    progress: Callable[[str, int], Any],
) -> list[tuple[int, str]]:
    """Extract the items of ``rows`` (readable ones, missing from the cache) into ``stores`` as batches
    finish; returns (row, reason) of the images that could not be read after all."""
    if not rows:
        return []
    writer = StoreWriter(stores, rows)
    texts = group.row_texts
    try:
        with progress("extracting", len(rows)) as advance:
            extraction = extract_descriptors(
                load_backbone(),
                group.dataset,
                [group.items[i] for i in rows],
                request,
                advance,
                digests=[identities[i].content for i in rows],
                texts=[texts[i] for i in rows],
                on_rows=writer.add,
            )
    finally:  # an interrupted run (Ctrl-C, SIGTERM) keeps every row it extracted
        writer.flush_all()
    return [(rows[row], reason) for row, reason in extraction.skipped]


def _row_stores(
    cache: FeatureCache,
    base_fields: dict[str, Any],
    request: ExtractionRequest,
    identities: Sequence[Any],
    texts: Sequence[str | None],
    create: bool = True,
) -> RowStores:
    """The stores of a group's rows (a second set for items with a text of their own), opened
    (``create`` False: stores that do not exist are empty and not created)."""
    conditioned = any(text is not None for text in texts)
    field_sets = [base_fields, *([{**base_fields, QUERY_TEXT_FIELD: TEXT_ROW_KEYS}] if conditioned else [])]
    return RowStores(
        sets=[
            {
                (t, plan.name): cache.store(
                    store_fields(fields, t, plan.taps, plan.pool), plan.dim, create=create
                )
                for t in request.timesteps
                for plan in request.layers
            }
            for fields in field_sets
        ],
        kinds=[int(text is not None) for text in texts],
        keys=[
            row_key(identity.key if identity else None, text)
            for identity, text in zip(identities, texts, strict=True)
        ],
    )


NOT_CACHED = "not in the feature cache"


def cached_descriptors(
    group: GroupItems,
    request: ExtractionRequest,
    base_fields: dict[str, Any],
    *,
    cache: FeatureCache,
    progress: Callable[[str, int], Any],
) -> GroupDescriptors:
    """Steps 1, 2 and 4 of the module docstring: the group's descriptors as the cache holds them,
    extracting nothing and creating no store. ``hits`` counts the rows found; the readable items
    the cache lacks are skipped with the reason :data:`NOT_CACHED`."""
    with progress("hashing images", len(group.items)) as advance:
        identities, unreadable = identify_items(group.dataset, group.items, request.settings.workers, advance)
    stores = _row_stores(cache, base_fields, request, identities, group.row_texts, False)
    readable = [i for i, identity in enumerate(identities) if identity is not None]
    hits = {key: sum(stores.has(i, key) for i in readable) for key in stores.sets[0]}
    every_store = [store for store_set in stores.sets for store in store_set.values()]
    problems = [f"shard {p.path} {p.reason}" for store in every_store for p in store.problems]
    return _read_back(stores, unreadable, hits, 0, 0.0, problems, World(), NOT_CACHED)


def _read_back(
    stores: RowStores,
    known_failures,
    hits,
    extracted,
    seconds,
    problems,
    world,
    missing_reason: str = "not extracted (its process failed)",
) -> GroupDescriptors:
    """Every row from the stores; rows still missing are skipped images (``missing_reason``)."""
    descriptors: dict[DescriptorKey, np.ndarray] = {}
    found_everywhere = np.ones(len(stores.keys), dtype=bool)
    keys = [key or b"" for key in stores.keys]
    kinds = np.array(stores.kinds, dtype=int)
    for key, first in stores.sets[0].items():
        values = np.zeros((len(keys), first.dim), dtype=np.float32)
        found = np.zeros(len(keys), dtype=bool)
        for kind, store_set in enumerate(stores.sets):
            rows = np.flatnonzero(kinds == kind)
            if world.size > 1:
                store_set[key].load_index()  # other processes wrote shards
            values[rows], found[rows] = store_set[key].lookup([keys[row] for row in rows])
        descriptors[key] = values
        found_everywhere &= found
    reasons = dict(known_failures)
    skipped = [(row, reasons.get(row, missing_reason)) for row in np.flatnonzero(~found_everywhere).tolist()]
    return GroupDescriptors(descriptors, skipped, hits, extracted, seconds, problems)


def describe_fields(fields: dict[str, Any]) -> str:
    """One line naming a store's configuration (for ``bench cache info``)."""
    shown = {
        k: fields.get(k) for k in ("backbone", "taps", "pool", "t", "noise_samples", "seed", "image_size")
    }
    if QUERY_TEXT_FIELD in fields:
        shown[QUERY_TEXT_FIELD] = fields[QUERY_TEXT_FIELD]
    return json.dumps(shown, default=str)
