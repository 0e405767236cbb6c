"""The identity of a backbone's weights: what they are, not what they are called.

A hub id is identified by the snapshot the local Hugging Face cache resolves it to (the commit of
``refs/main``, or of the one snapshot there), so a new snapshot under the same id never reuses the
old one's cached descriptors; a local file or folder by a hash of its files' contents (memoised
per file by path, size and change time, so a large checkpoint is read once, not on every run);
``random`` and other descriptions by themselves. No torch, no network.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from bench.api.checkpoints import is_hub_id
from bench.api.files import write_text_atomic
from bench.config.cache_location import default_cache_dir

MEMO_NAME = "weights-hashes.json"
NOT_CACHED = "not in the local cache"


def hub_snapshot(repo_id: str) -> str | None:
    """The commit the local Hugging Face cache holds for ``repo_id`` (``refs/main``, else the only
    snapshot), or None when it holds none."""
    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
    ref = folder / "refs" / "main"
    if ref.is_file():
        return ref.read_text(encoding="utf-8").strip() or None
    snapshots = sorted(p.name for p in (folder / "snapshots").glob("*") if p.is_dir())
    return snapshots[0] if len(snapshots) == 1 else None


def _file_hash(path: Path, memo: dict[str, str]) -> str:
    stat = path.stat()
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}"
    if key not in memo:
        hasher = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                hasher.update(block)
        memo[key] = hasher.hexdigest()
    return memo[key]


def _read_memo(path: Path) -> dict[str, str]:
    try:
        memo = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return memo if isinstance(memo, dict) else {}


def content_hash(root: Path, memo_path: Path | None = None) -> str:
    """SHA-256 over the relative names and content hashes of every file under ``root`` (or of
    ``root`` itself when it is a file), 16 hex digits."""
    memo_path = memo_path or default_cache_dir() / MEMO_NAME
    memo = _read_memo(memo_path)
    before = len(memo)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    hasher = hashlib.sha256()
    for file in files:
        name = file.name if file == root else str(file.relative_to(root))
        hasher.update(f"{name}:{_file_hash(file, memo)}\n".encode())
    if len(memo) != before:
        try:
            write_text_atomic(memo_path, json.dumps(memo, indent=0, sort_keys=True))
        except OSError:
            pass  # a read-only cache: the hash is recomputed next time
    return hasher.hexdigest()[:16]


def weights_identity(weights: str, memo_path: Path | None = None) -> str:
    """``weights`` with what identifies its content: ``PATH#<content hash>`` for a local file or
    folder, ``ORG/NAME@<commit>`` for a hub id in the local cache (``@not in the local cache``
    otherwise), ``weights`` itself for anything else (``random``)."""
    path = Path(weights).expanduser()
    if path.exists():
        return f"{path.resolve()}#{content_hash(path, memo_path)}"
    if is_hub_id(weights) and not os.path.isabs(weights):
        return f"{weights}@{hub_snapshot(weights) or NOT_CACHED}"
    return weights
