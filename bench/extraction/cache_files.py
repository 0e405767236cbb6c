"""Which files and folders the feature cache writes, and deleting those (``bench cache clear``) and
nothing else: never a file the cache did not write, never through a link.

Under ``<cache dir>/v1`` the cache writes only store folders, each holding :data:`META_NAME`,
:data:`LOCK_NAME`, shard files (``<hash>.keys.npy``, ``<hash>.values.npy``), quarantined shard files
(``.bad-<tag>-<hash>.*.npy``) and temporary files (``.<name>.<random>.tmp``).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from bench.api.errors import BenchError
from bench.api.files import TEMPORARY_SUFFIX

META_NAME = "meta.json"
LOCK_NAME = ".lock"
SHARD_HASH_CHARS = 24  # hex characters of a shard's content hash (BLAKE2b-96)
QUARANTINE_PREFIX = ".bad-"
QUARANTINE_TAG_CHARS = 8  # hex characters of the tag that pairs a quarantined shard's two files
_SHARD = rf"[0-9a-f]{{{SHARD_HASH_CHARS}}}\.(keys|values)\.npy"
SHARD_FILE = re.compile(rf"({re.escape(QUARANTINE_PREFIX)}[0-9a-f]{{{QUARANTINE_TAG_CHARS}}}-)?{_SHARD}")
TEMPORARY_FILE = re.compile(rf"\.({re.escape(META_NAME)}|{_SHARD})\..+{re.escape(TEMPORARY_SUFFIX)}")


def written_by_cache(name: str) -> bool:
    """Whether a file called ``name`` in a store folder is one the cache writes."""
    return (
        name in (META_NAME, LOCK_NAME)
        or SHARD_FILE.fullmatch(name) is not None
        or TEMPORARY_FILE.fullmatch(name) is not None
    )


def _is_folder(path: Path) -> bool:
    """A real folder (a link to one is not)."""
    return stat.S_ISDIR(path.lstat().st_mode)


def _is_file(path: Path) -> bool:
    """A regular file (a link to one is not)."""
    return stat.S_ISREG(path.lstat().st_mode)


@dataclass
class CacheFolders:
    """The entries of a cache's ``v1`` folder.

    Attributes:
        stores: store folders: real folders holding at least one file the cache writes, or none at all.
        foreign: everything else (files, links, folders of other files): never touched.
    """

    stores: list[Path] = field(default_factory=list)
    foreign: list[Path] = field(default_factory=list)


def cache_folders(base: Path) -> CacheFolders:
    """The store folders and foreign entries directly under ``base`` (empty if it does not exist)."""
    found = CacheFolders()
    if not base.is_dir():
        return found
    for entry in sorted(base.iterdir()):
        try:
            names = [path.name for path in entry.iterdir()] if _is_folder(entry) else None
        except OSError:  # gone meanwhile, or not ours to read
            names = None
        is_store = names is not None and (not names or any(map(written_by_cache, names)))
        (found.stores if is_store else found.foreign).append(entry)
    return found


@dataclass
class ClearReport:
    """What :func:`clear_cache` did.

    Attributes:
        freed: bytes of the files deleted.
        failures: ``"path: why"`` for files and folders of the cache that could not be deleted.
        left: entries the cache did not write, left in place.
    """

    freed: int = 0
    failures: list[str] = field(default_factory=list)
    left: list[Path] = field(default_factory=list)


def _refuse(base: Path, why: str) -> BenchError:
    return BenchError(
        f"{str(base)!r} is not a feature cache: {why}. Nothing was deleted.",
        "Pass --cache-dir the folder that holds the cache's v1 folder (see `bench cache info`); "
        "delete other folders yourself.",
    )


def clear_cache(base: Path) -> ClearReport:
    """Delete the files the cache wrote under ``base`` (``<cache dir>/v1``), then the folders they
    leave empty. Links are never followed (nor deleted), entries the cache did not write are left.

    Raises:
        BenchError: ``base`` is a link or not a folder, or holds entries but no store folder (it is
            not a cache); nothing is deleted then.
    """
    report = ClearReport()
    if not os.path.lexists(base):
        return report
    if not _is_folder(base):
        kind = f"a link to {os.readlink(base)!r}" if base.is_symlink() else "not a folder"
        raise _refuse(base, f"it is {kind}, and the cache writes only folders there")
    folders = cache_folders(base)
    if folders.foreign and not folders.stores:
        names = ", ".join(entry.name for entry in folders.foreign[:3])
        raise _refuse(base, f"it holds {len(folders.foreign)} entries the cache did not write ({names}) "
                      "and no store")  # fmt: skip
    report.left.extend(folders.foreign)
    for store in folders.stores:
        for path in sorted(store.iterdir()):
            if not (written_by_cache(path.name) and _is_file(path)):
                report.left.append(path)
                continue
            _delete(path, report)
        if not any(path.parent == store for path in report.left):
            _delete(store, report)
    if not report.left:
        _delete(base, report)
    return report


def _delete(path: Path, report: ClearReport) -> None:
    """Delete a file or an empty folder, counting freed bytes and failures in ``report``."""
    try:
        if _is_folder(path):
            path.rmdir()
        else:
            size = path.lstat().st_size
            path.unlink()
            report.freed += size
    except FileNotFoundError:
        pass  # removed meanwhile (a run quarantining or cleaning up)
    except OSError as exc:
        report.failures.append(f"{path}: {exc.strerror}")
