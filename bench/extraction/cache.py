"""Content-addressed descriptor cache: nothing is extracted twice, nothing is lost on a crash.

Layout under the cache directory (``--cache-dir``, ``$SBIR_BENCH_CACHE``, or the user cache dir)::

    v1/<store key>/meta.json                      what determines these descriptors (see StoreFields)
    v1/<store key>/<shard>.values.npy             (n, dim) descriptors, fp16 or fp32
    v1/<store key>/<shard>.keys.npy               (n, 16) uint8 image keys, written LAST
    v1/<store key>/.bad-<tag>-<shard>.*.npy       a quarantined shard: both files, one tag (kept for
                                                  inspection until `bench cache clear`)

A store holds the descriptors of one configuration (backbone, weights, layer, pooling, t, noise
draws, seed, prompt, image size, dtype, extractor version); a row is addressed by the image's
content (:class:`~bench.extraction.digests.ImageIdentity`). Shards are written to temporary names
and renamed into place, values before keys, so a shard is visible only once complete: a run killed
at any point leaves only whole shards (and temporary files the next reader removes), and concurrent
writers never clobber each other (each writes its own shard names). A shard's name is the hash of
its contents, which every read re-checks (see :class:`DescriptorStore`). Which files the cache
writes, and clearing them, is :mod:`bench.extraction.cache_files`'s.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.api.errors import BenchError
from bench.api.files import TEMPORARY_SUFFIX, atomic_file, write_text_atomic
from bench.config.cache_location import CACHE_ENV
from bench.extraction.cache_files import (
    META_NAME,
    QUARANTINE_PREFIX,
    QUARANTINE_TAG_CHARS,
    SHARD_HASH_CHARS,
    ClearReport,
    cache_folders,
    clear_cache,
)

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
    hasher = hashlib.blake2b(digest_size=SHARD_HASH_CHARS // 2)
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


def _load_array(path: Path) -> np.ndarray:
    """The array a ``.npy`` file holds. ``np.load`` raises EOFError on a zero-byte file, and opens a
    file whose bytes are a zip archive as an ``NpzFile`` (or fails with BadZipFile): ValueError then."""
    try:
        loaded = np.load(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"it is not a .npy file (a damaged zip archive: {exc})") from exc
    if not isinstance(loaded, np.ndarray):
        loaded.close()
        raise ValueError("it is a .npz archive, not a .npy file")
    return loaded


def _read_shard(keys_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(keys, values) of a shard, read whole."""
    return _load_array(keys_path), _load_array(_values_path(keys_path))


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
        """Move a bad shard aside (it will be recomputed) and remember why: both files get one tag
        (``.bad-<tag>-<name>``), keys first, so the shard is no longer read from the first rename. A
        shard another process moved first, or one this process may not rename, is only reported."""
        moved = True
        tag = uuid.uuid4().hex[:QUARANTINE_TAG_CHARS]
        for path in (keys_path, _values_path(keys_path)):
            try:
                path.rename(path.with_name(f"{QUARANTINE_PREFIX}{tag}-{path.name}"))
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

    def store(self, fields: dict[str, Any], dim: int, *, create: bool = True) -> DescriptorStore:
        """The store for ``fields`` (created if new), with its index loaded. A missing or damaged
        ``meta.json`` is (re)written; runs never read it, only ``bench cache info`` and ``verify``.
        With ``create`` False, a store that does not exist is returned empty and nothing is written."""
        meta = {**fields, "dim": dim, "storage": self.storage, "extractor_version": EXTRACTOR_VERSION}
        text = json.dumps(meta, indent=2, sort_keys=True, default=str)
        key = hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()[:24]
        directory = self.base / key
        meta_path = directory / META_NAME
        if not create and not directory.is_dir():
            return DescriptorStore(directory, dim, self.storage)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if not meta_path.exists():
                write_text_atomic(meta_path, text)
        except OSError as exc:
            raise BenchError(
                f"Cannot write the feature cache at {str(self.root)!r}: {exc}",
                f"Pass --cache-dir DIR (or set {CACHE_ENV}) to a writable directory.",
            ) from exc
        _repair_meta(meta_path, text)
        store = DescriptorStore(directory, dim, self.storage)
        store.load_index()
        return store

    def stores(self) -> list[tuple[dict[str, Any], DescriptorStore]]:
        """Every store on disk whose ``meta.json`` is usable, with that metadata (see
        :meth:`damaged_stores` for the others); links are not followed."""
        found = []
        for directory in cache_folders(self.base).stores:
            try:
                meta = read_meta(directory / META_NAME)
            except (OSError, ValueError):
                continue
            found.append((meta, DescriptorStore(directory, meta["dim"], meta["storage"])))
        return found

    def damaged_stores(self) -> list[tuple[Path, str]]:
        """(folder, what is wrong) of every store whose ``meta.json`` is missing or unusable: its
        shards cannot be checked without it (the next run of its configuration rewrites it)."""
        damaged = []
        for directory in cache_folders(self.base).stores:
            try:
                read_meta(directory / META_NAME)
            except FileNotFoundError:
                if any(directory.iterdir()):  # an empty folder is a store being created, or cleared
                    damaged.append((directory, f"{META_NAME} is missing"))
            except (OSError, ValueError) as exc:
                damaged.append((directory, f"{META_NAME} is unusable: {exc}"))
        return damaged

    def clear(self) -> ClearReport:
        """Delete the files the cache wrote and the folders they leave empty, nothing else (see
        :func:`~bench.extraction.cache_files.clear_cache`, which raises when this is not a cache)."""
        return clear_cache(self.base)


def read_meta(path: Path) -> dict[str, Any]:
    """A store's metadata, checked: a JSON object with a positive integer ``dim`` and a known
    ``storage``.

    Raises:
        OSError: it cannot be read (FileNotFoundError: there is none).
        ValueError: it is not such an object (the message says what it is).
    """
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ValueError("it nests too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"it is not JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise ValueError(f"it is a JSON {type(meta).__name__}, not an object")
    dim = meta.get("dim")
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise ValueError(f"its 'dim' is {dim!r}, not a positive integer")
    if meta.get("storage") not in STORAGE_DTYPES:
        raise ValueError(f"its 'storage' is {meta.get('storage')!r}, not one of {', '.join(STORAGE_DTYPES)}")
    return meta


def _repair_meta(path: Path, text: str) -> None:
    """Rewrite ``path`` with ``text`` when it holds anything else (damaged); a cache this user may
    only read is left as it is (runs do not need it)."""
    try:
        if json.loads(path.read_text(encoding="utf-8")) == json.loads(text):
            return
    except (OSError, ValueError, RecursionError):
        pass
    try:
        write_text_atomic(path, text)
    except OSError:
        pass


STALE_SECONDS = 600  # a temporary or half-written file older than this belongs to no live writer


def remove_stale_files(directory: Path) -> None:
    """Delete temporary files (``.*.tmp``) and values files without their keys file (a run killed
    between the two writes) older than :data:`STALE_SECONDS`; files of live writers are younger.

    A quarantined shard's files are kept together: a values file whose keys file was quarantined
    (a run killed between the two renames) joins it, and quarantined files are never deleted here.
    """
    now = time.time()
    candidates = [*directory.glob(f".*{TEMPORARY_SUFFIX}"), *directory.glob("[!.]*.values.npy")]
    for path in candidates:
        keys_name = path.name.replace(".values.npy", ".keys.npy")
        if path.name.endswith(".values.npy") and (directory / keys_name).exists():
            continue
        try:
            if now - path.stat().st_mtime <= STALE_SECONDS:
                continue
            quarantined = sorted(directory.glob(f"{QUARANTINE_PREFIX}*-{keys_name}"))
            if path.name.endswith(".values.npy") and quarantined:
                path.rename(quarantined[0].with_name(quarantined[0].name.replace(".keys.npy", ".values.npy")))
            else:
                path.unlink()
        except OSError:
            continue  # gone meanwhile, or not ours to delete
