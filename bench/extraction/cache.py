"""Content-addressed descriptor cache: nothing is extracted twice, nothing is lost on a crash.

Layout under the cache directory (``--cache-dir``, ``$SBIR_BENCH_CACHE``, or the user cache dir)::

    v1/<store key>/meta.json                      what determines these descriptors (see StoreFields)
    v1/<store key>/<shard>.values.npy             (n, dim) descriptors, fp16 or fp32, memory-mappable
    v1/<store key>/<shard>.keys.npy               (n, 16) uint8 image content digests, written LAST

A store holds the descriptors of one configuration (backbone, weights, layer, pooling, t, noise
draws, seed, prompt, image size, dtype, extractor version); a row is addressed by the image's
content digest. Shards are written to temporary names and renamed into place, values before keys,
so a shard is visible only once complete: a run killed at any point leaves only whole shards
(and ignorable temporary files), and concurrent writers never clobber each other (each writes its
own shard names; duplicate rows are identical and the first one read wins). A shard's name is the
hash of its contents, which ``verify`` re-checks.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.api.errors import BenchError
from bench.api.files import atomic_file, write_text_atomic
from bench.extraction.cache_location import CACHE_ENV

LAYOUT_VERSION = "v1"
EXTRACTOR_VERSION = 1  # bump when extraction changes numbers, to invalidate every store
DIGEST_BYTES = 16
STORAGE_DTYPES = {"fp16": np.float16, "fp32": np.float32}


def _atomic_save(path: Path, array: np.ndarray) -> None:
    with atomic_file(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, array)


def _shard_name(keys: np.ndarray, values: np.ndarray) -> str:
    hasher = hashlib.blake2b(digest_size=12)
    hasher.update(keys.tobytes())
    hasher.update(values.tobytes())
    return hasher.hexdigest()


@dataclass
class ShardProblem:
    """A shard that could not be used (truncated, mismatched, or with a wrong content hash)."""

    path: Path
    reason: str


@dataclass
class DescriptorStore:
    """The descriptors of one configuration, keyed by image content digest.

    Args:
        directory: the store's directory.
        dim: descriptor length.
        storage: ``"fp16"`` or ``"fp32"``.
    """

    directory: Path
    dim: int
    storage: str
    index: dict[bytes, tuple[Path, int]] = field(default_factory=dict)
    problems: list[ShardProblem] = field(default_factory=list)
    _values: dict[Path, np.ndarray] = field(default_factory=dict)

    def shards(self) -> Iterator[Path]:
        """Completed shards (their keys file exists), in name order; temporary and quarantined files
        (names starting with ".") are not shards."""
        yield from sorted(p for p in self.directory.glob("*.keys.npy") if not p.name.startswith("."))

    def load_index(self) -> None:
        """Read every shard's keys; unusable shards are moved aside and listed in :attr:`problems`."""
        self.index.clear()
        self._values.clear()
        for keys_path in self.shards():
            values_path = keys_path.with_name(keys_path.name.replace(".keys.npy", ".values.npy"))
            try:
                keys = np.load(keys_path)
                values = np.load(values_path, mmap_mode="r")
                self._check_shapes(keys, values)
            except (OSError, ValueError) as exc:
                self._quarantine(keys_path, values_path, f"unreadable: {exc}")
                continue
            self._values[values_path] = values
            for row, key in enumerate(keys):
                self.index.setdefault(key.tobytes(), (values_path, row))

    def _check_shapes(self, keys: np.ndarray, values: np.ndarray) -> None:
        if keys.ndim != 2 or keys.shape[1] != DIGEST_BYTES or keys.dtype != np.uint8:
            raise ValueError(f"keys have shape {keys.shape} and dtype {keys.dtype}")
        expected = (keys.shape[0], self.dim)
        if values.shape != expected or values.dtype != STORAGE_DTYPES[self.storage]:
            raise ValueError(
                f"values have shape {values.shape} {values.dtype}, expected {expected} {self.storage}"
            )

    def _quarantine(self, keys_path: Path, values_path: Path, reason: str) -> None:
        """Move a bad shard out of the index (it will be recomputed) and remember why."""
        self.problems.append(ShardProblem(keys_path, reason))
        for path in (keys_path, values_path):
            if path.exists():
                path.rename(path.with_name(f".bad-{uuid.uuid4().hex[:8]}-{path.name}"))

    def lookup(self, digests: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """(values (n, dim) float32 with zeros where missing, found (n,) bool)."""
        out = np.zeros((len(digests), self.dim), dtype=np.float32)
        found = np.zeros(len(digests), dtype=bool)
        for row, digest in enumerate(digests):
            hit = self.index.get(digest)
            if hit is not None:
                values_path, shard_row = hit
                out[row] = self._values[values_path][shard_row]
                found[row] = True
        return out, found

    def put(self, digests: list[bytes], values: np.ndarray) -> None:
        """Write one shard (atomically: values, then keys)."""
        if not digests:
            return
        keys = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), DIGEST_BYTES)
        stored = np.ascontiguousarray(values, dtype=STORAGE_DTYPES[self.storage])
        name = _shard_name(keys, stored)
        values_path = self.directory / f"{name}.values.npy"
        _atomic_save(values_path, stored)
        _atomic_save(self.directory / f"{name}.keys.npy", keys)
        self._values[values_path] = stored
        for row, digest in enumerate(digests):
            self.index.setdefault(digest, (values_path, row))

    def verify(self) -> list[ShardProblem]:
        """Re-check every shard: shapes, dtypes, a values file for each keys file, the content hash."""
        problems = []
        for keys_path in self.shards():
            values_path = keys_path.with_name(keys_path.name.replace(".keys.npy", ".values.npy"))
            try:
                keys, values = np.load(keys_path), np.load(values_path)
                self._check_shapes(keys, values)
            except (OSError, ValueError) as exc:
                problems.append(ShardProblem(keys_path, f"unreadable: {exc}"))
                continue
            if _shard_name(keys, values) != keys_path.name.removesuffix(".keys.npy"):
                problems.append(ShardProblem(keys_path, "content does not match its hash"))
            elif not np.isfinite(values.astype(np.float32)).all():
                problems.append(ShardProblem(keys_path, "non-finite descriptors"))
        return problems

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.glob("*.npy"))


class FeatureCache:
    """The cache directory: opens one :class:`DescriptorStore` per configuration.

    Args:
        root: cache directory.
        storage: ``"fp16"`` (default, half the disk) or ``"fp32"``.
    """

    def __init__(self, root: Path, storage: str = "fp16") -> None:
        if storage not in STORAGE_DTYPES:
            raise BenchError(
                f"Unknown cache precision {storage!r}.", f"Use one of {', '.join(STORAGE_DTYPES)}."
            )
        self.root = Path(root)
        self.storage = storage

    @property
    def base(self) -> Path:
        return self.root / LAYOUT_VERSION

    def store(self, fields: dict[str, Any], dim: int) -> DescriptorStore:
        """The store for ``fields`` (created if new), with its index loaded."""
        meta = {**fields, "dim": dim, "storage": self.storage, "extractor_version": EXTRACTOR_VERSION}
        key = hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()[:24]
        directory = self.base / key
        try:
            directory.mkdir(parents=True, exist_ok=True)
            meta_path = directory / "meta.json"
            if not meta_path.exists():
                write_text_atomic(meta_path, json.dumps(meta, indent=2, sort_keys=True, default=str))
        except OSError as exc:
            raise BenchError(
                f"Cannot write the feature cache at {str(self.root)!r}: {exc}",
                f"Pass --cache-dir DIR (or set {CACHE_ENV}) to a writable directory.",
            ) from exc
        store = DescriptorStore(directory, dim, self.storage)
        store.load_index()
        return store

    def stores(self) -> list[tuple[dict[str, Any], DescriptorStore]]:
        """Every store on disk with its metadata (unreadable metadata is reported as such)."""
        found = []
        for meta_path in sorted(self.base.glob("*/meta.json")):
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                store = DescriptorStore(meta_path.parent, int(meta["dim"]), str(meta["storage"]))
            except (OSError, ValueError, KeyError) as exc:
                meta = {"error": f"unreadable meta.json: {exc}"}
                store = DescriptorStore(meta_path.parent, 0, self.storage)
            found.append((meta, store))
        return found

    def clear(self) -> int:
        """Delete every store; returns the number of bytes freed."""
        freed = (
            sum(p.stat().st_size for p in self.base.rglob("*") if p.is_file()) if self.base.exists() else 0
        )
        shutil.rmtree(self.base, ignore_errors=True)
        return freed
