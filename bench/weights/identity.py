"""The identity of a backbone's weights: what they are, not what they are called.

A hub id is identified by the snapshot the local Hugging Face cache resolves it to (the commit of
``refs/main``, or of the one snapshot there), so a new snapshot under the same id never reuses the
old one's cached descriptors; a local file or folder by a hash of its files' contents, symbolic
links followed to what they point to (memoised per file by path, size and change time, so a large
checkpoint is read once, not on every run);
``random`` and other descriptions by themselves. No torch, no network.

Two forms compose: ``ORG/NAME@REVISION`` pins a hub snapshot (a commit, branch or tag; identified
by the commit the cache resolves it to), and ``A+B`` names weights read with or onto others (a
single-file checkpoint and its configs, a CleanDIFT UNet and its base pipeline; identified part by
part).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from bench.api.files import write_text_atomic
from bench.config.cache_location import default_cache_dir
from bench.weights.names import BASE_SEPARATOR, is_hub_id, split_revision

MEMO_NAME = "weights-hashes.json"
NOT_CACHED = "not in the local cache"
COMMIT_LENGTH = 40


def hub_snapshot(repo_id: str, revision: str | None = None) -> str | None:
    """The commit the local Hugging Face cache holds for ``repo_id`` at ``revision`` (a branch or
    tag through ``refs/<revision>``, a commit when its snapshot is there; no revision: ``refs/main``,
    else the only snapshot), or None when it holds none."""
    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
    ref = folder / "refs" / (revision or "main")
    if ref.is_file():
        return ref.read_text(encoding="utf-8").strip() or None
    if revision is not None:
        return revision if (folder / "snapshots" / revision).is_dir() else None
    snapshots = sorted(p.name for p in (folder / "snapshots").glob("*") if p.is_dir())
    return snapshots[0] if len(snapshots) == 1 else None


def _is_commit(revision: str) -> bool:
    return len(revision) == COMMIT_LENGTH and all(c in "0123456789abcdef" for c in revision)


def _hub_identity(repo: str, revision: str | None) -> str:
    commit = hub_snapshot(repo, revision)
    if commit:
        return f"{repo}@{commit}"
    if revision is None:
        return f"{repo}@{NOT_CACHED}"
    return f"{repo}@{revision}" if _is_commit(revision) else f"{repo}@{revision} ({NOT_CACHED})"


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


def files_under(root: Path) -> list[Path]:
    """Every file under the folder ``root``, sorted, following symbolic links to folders (a
    ``unet -> elsewhere/unet`` part is loaded from where it points, so it is part of the weights)
    except a link back to a folder above it (a cycle)."""
    found = []
    for folder, subfolders, names in os.walk(root, followlinks=True):
        here = Path(folder)
        relative = here.relative_to(root)
        above = {os.path.realpath(root / part) for part in (relative, *relative.parents)}
        subfolders[:] = [name for name in subfolders if os.path.realpath(here / name) not in above]
        found.extend(here / name for name in names if (here / name).is_file())
    return sorted(found)


def content_hash(root: Path, memo_path: Path | None = None) -> str:
    """SHA-256 over the relative names and content hashes of every file under ``root`` (or of
    ``root`` itself when it is a file), 16 hex digits. Symbolic links are followed: the content is
    what a loader reads."""
    memo_path = memo_path or default_cache_dir() / MEMO_NAME
    memo = _read_memo(memo_path)
    before = len(memo)
    files = [root] if root.is_file() else files_under(root)
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
    folder, ``ORG/NAME@<commit>`` for a hub id (pinned with ``@REVISION`` or not) the local cache
    resolves (a pinned commit is its own identity; ``@not in the local cache`` otherwise), each
    part of ``A+B`` so, joined by ``+``, and ``weights`` itself for anything else (``random``)."""
    path = Path(weights).expanduser()
    if path.exists():
        return f"{path.resolve()}#{content_hash(path, memo_path)}"
    if BASE_SEPARATOR in weights:
        return BASE_SEPARATOR.join(
            weights_identity(part, memo_path) if part else part for part in weights.split(BASE_SEPARATOR)
        )
    repo, revision = split_revision(weights)
    if is_hub_id(repo):
        return _hub_identity(repo, revision)
    return weights
