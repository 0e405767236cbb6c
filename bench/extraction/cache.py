"""Content-addressed descriptor cache: nothing is extracted twice, nothing is lost on a crash.

Layout under the cache directory (``--cache-dir``, ``$SBIR_BENCH_CACHE``, or the user cache dir)::

    v1/<store key>/meta.json                      what determines these descriptors (see StoreFields)
    v1/<store key>/<shard>.values.npy             (n, dim) descriptors, fp16 or fp32
    v1/<store key>/<shard>.keys.npy               (n, 16) uint8 image content digests, written LAST

A store holds the descriptors of one configuration (backbone, weights, layer, pooling, t, noise
draws, seed, prompt, image size, dtype, extractor version); a row is addressed by the image's
content digest. Shards are written to temporary names and renamed into place, values before keys,
so a shard is visible only once complete: a run killed at any point leaves only whole shards
(and temporary files the next reader removes), and concurrent writers never clobber each other
(each writes its own shard names). A shard's name is the hash of its contents, which every read
re-checks (see :class:`DescriptorStore`).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.api.errors import BenchError
from bench.api.files import TEMPORARY_SUFFIX, atomic_file, write_text_atomic
from bench.config.cache_location import CACHE_ENV

LAYOUT_VERSION = "v1"
# Bump when extraction changes numbers or how rows are keyed, to invalidate every store. 2: rows are
# keyed by the pixels the dataset returns as well as the file (ImageIdentity.key), not the file alone.
EXTRACTOR_VERSION = 2
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
    """A shard that could not be used (truncated, mismatched, with a wrong content hash, non-finite,
    conflicting with another shard, or unreadable by this user).

    Attributes:
        path: its keys file.
        reason: what is wrong, in words.
        moved: whether it was moved aside (quarantined) for its rows to be recomputed; a shard this
            user cannot read is left in place.
    """

    path: Path
    reason: str
    moved: bool = True


def _values_path(keys_path: Path) -> Path:
    return keys_path.with_name(keys_path.name.replace(".keys.npy", ".values.npy"))


def _read_shard(keys_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(keys, values) of a shard, read whole (``np.load`` raises EOFError on a zero-byte file)."""
    return np.load(keys_path), np.load(_values_path(keys_path))


@dataclass
class DescriptorStore:
    """The descriptors of one configuration, keyed by image content digest.

    Every shard is checked when it is read: shapes and dtypes, its content against the hash in its
    name, finite values, and no image whose descriptor another shard gives differently. A shard that
    fails is moved aside (renamed ``.bad-*``) and its rows are recomputed; of two shards that
    disagree, the first in name order is kept, so every process decides alike.

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
    _scanned: tuple[str, ...] = ()

    def shards(self) -> Iterator[Path]:
        """Completed shards (their keys file exists), in name order; temporary and quarantined files
        (names starting with ".") are not shards."""
        yield from sorted(p for p in self.directory.glob("*.keys.npy") if not p.name.startswith("."))

    def load_index(self) -> None:
        """Read and check every shard (see the class docstring): unusable shards are moved aside and
        listed in :attr:`problems`. Temporary files and half-written shards left by killed runs are
        removed."""
        remove_stale_files(self.directory)
        self._scan(repair=True)

    def refresh(self) -> None:
        """Read the index again if the shards on disk are not the ones last read (another process
        wrote, cleared or quarantined some since)."""
        if tuple(path.name for path in self.shards()) != self._scanned:
            self.load_index()

    def verify(self) -> list[ShardProblem]:
        """Re-check every shard as reading does (see the class docstring), moving nothing; returns
        the problems found."""
        checker = DescriptorStore(self.directory, self.dim, self.storage)
        checker._scan(repair=False)
        return checker.problems

    def _scan(self, repair: bool) -> None:
        """Index every usable shard; a shard that fails a check is listed in :attr:`problems`, and
        with ``repair`` moved aside (quarantined) so its rows are recomputed."""
        self.index.clear()
        self._values.clear()
        shards = list(self.shards())
        self._scanned = tuple(path.name for path in shards)
        for keys_path in shards:
            try:
                keys, values = _read_shard(keys_path)
            except FileNotFoundError:  # removed meanwhile by another process (clear, quarantine)
                continue
            except PermissionError as exc:
                reason = f"not readable by this user ({exc.strerror}); left in place"
                self._report(ShardProblem(keys_path, reason, moved=False))
                continue
            except (OSError, ValueError, EOFError) as exc:
                reason = f"unreadable: {exc}"
            else:
                reason = self._content_problem(keys_path, keys, values)
            if reason:
                if repair:
                    self._quarantine(keys_path, reason)
                else:
                    self._report(ShardProblem(keys_path, reason, moved=False))
                continue
            self._values[_values_path(keys_path)] = values
            for row, key in enumerate(keys):
                self.index.setdefault(key.tobytes(), (_values_path(keys_path), row))

    def _report(self, problem: ShardProblem) -> None:
        """List a problem once, however often its shard is read again."""
        if problem not in self.problems:
            self.problems.append(problem)

    def _content_problem(self, keys_path: Path, keys: np.ndarray, values: np.ndarray) -> str | None:
        """Why a readable shard cannot be used, or None."""
        try:
            self._check_shapes(keys, values)
        except ValueError as exc:
            return f"unreadable: {exc}"
        if _shard_name(keys, values) != keys_path.name.removesuffix(".keys.npy"):
            return "content does not match its hash"
        if not np.isfinite(values.astype(np.float32)).all():
            return "non-finite descriptors"
        for row, key in enumerate(keys):
            hit = self.index.get(key.tobytes())
            if hit is not None and not np.allclose(
                self._values[hit[0]][hit[1]].astype(np.float32), values[row].astype(np.float32), atol=1e-3
            ):
                first = hit[0].name.removesuffix(".values.npy")
                return f"gives other descriptors than shard {first} for the same images"
        return None

    def _check_shapes(self, keys: np.ndarray, values: np.ndarray) -> None:
        if keys.ndim != 2 or keys.shape[1] != DIGEST_BYTES or keys.dtype != np.uint8:
            raise ValueError(f"keys have shape {keys.shape} and dtype {keys.dtype}")
        expected = (keys.shape[0], self.dim)
        if values.shape != expected or values.dtype != STORAGE_DTYPES[self.storage]:
            raise ValueError(
                f"values have shape {values.shape} {values.dtype}, expected {expected} {self.storage}"
            )

    def _quarantine(self, keys_path: Path, reason: str) -> None:
        """Move a bad shard aside (it will be recomputed) and remember why. A shard another process
        moved first, or one this process may not rename, is only reported."""
        moved = True
        for path in (keys_path, _values_path(keys_path)):
            try:
                path.rename(path.with_name(f".bad-{uuid.uuid4().hex[:8]}-{path.name}"))
            except FileNotFoundError:
                pass
            except OSError as exc:
                moved = False
                reason += f" (could not move it aside: {exc.strerror})"
        self._report(ShardProblem(keys_path, reason, moved))

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
        try:
            _atomic_save(values_path, stored)
            _atomic_save(self.directory / f"{name}.keys.npy", keys)
        except OSError as exc:
            raise BenchError(
                f"Cannot write to the feature cache in {str(self.directory.parents[1])!r}: {exc.strerror}.",
                f"Free space there or pass --cache-dir DIR (or set {CACHE_ENV}) to a writable directory; "
                "descriptors written so far are kept, so a rerun extracts only the rest.",
            ) from exc
        self._values[values_path] = stored
        for row, digest in enumerate(digests):
            self.index.setdefault(digest, (values_path, row))

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

    def clear(self) -> tuple[int, list[str]]:
        """Delete every store. Returns (bytes freed, the files and folders that could not be
        deleted, with why)."""
        if not self.base.exists():
            return 0, []
        freed, failures = 0, []
        for path in sorted(self.base.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            try:
                if path.is_dir():
                    path.rmdir()
                else:
                    size = path.stat().st_size
                    path.unlink()
                    freed += size
            except FileNotFoundError:
                continue
            except OSError as exc:
                failures.append(f"{path}: {exc.strerror}")
        try:
            self.base.rmdir()
        except FileNotFoundError:
            pass
        except OSError as exc:
            failures.append(f"{self.base}: {exc.strerror}")
        return freed, failures


STALE_SECONDS = 600  # a temporary or half-written file older than this belongs to no live writer


def remove_stale_files(directory: Path) -> None:
    """Delete temporary files (``.*.tmp``) and values files without their keys file (a run killed
    between the two writes) older than :data:`STALE_SECONDS`; files of live writers are younger."""
    now = time.time()
    candidates = [*directory.glob(f".*{TEMPORARY_SUFFIX}"), *directory.glob("*.values.npy")]
    for path in candidates:
        if path.name.endswith(".values.npy") and not path.name.startswith("."):
            if path.with_name(path.name.replace(".values.npy", ".keys.npy")).exists():
                continue
        try:
            if now - path.stat().st_mtime > STALE_SECONDS:
                path.unlink()
        except OSError:
            continue  # gone meanwhile, or not ours to delete
