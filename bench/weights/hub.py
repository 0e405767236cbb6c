"""The Hugging Face Hub without waiting on it: the local cache first, a 3-second reachability check,
and one message for weights that are neither cached nor downloadable (huggingface_hub imported only
inside functions)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from bench.api.errors import BenchError

HUB_HOST = ("huggingface.co", 443)
CONNECT_TIMEOUT_S = 3
OFFLINE_REASON = "the hub cannot be reached (offline, or HF_HUB_OFFLINE=1)"
CACHE_FOLDER = "~/.cache/huggingface/hub"


def hub_reachable() -> bool:
    """Whether the Hugging Face Hub can be reached now: False under ``HF_HUB_OFFLINE`` (checked
    without importing huggingface_hub) or when a connection does not open within
    :data:`CONNECT_TIMEOUT_S` seconds, so missing weights are reported in seconds, not after
    minutes of retries."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    try:
        socket.create_connection(HUB_HOST, timeout=CONNECT_TIMEOUT_S).close()
    except OSError:
        return False
    return True


def cached_file(repo_id: str, filenames: tuple[str, ...], revision: str | None = None) -> str | None:
    """The path in the local Hugging Face cache of the first of ``filenames`` that ``repo_id`` (at
    ``revision``, default its main branch) has there, or None. Reads only the local disk."""
    from huggingface_hub import try_to_load_from_cache

    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, revision=revision)
        if isinstance(found, str):
            return found
    return None


def cached_snapshot(repo_id: str, revision: str | None, parts: tuple[str, ...]) -> Path | None:
    """The folder of ``repo_id``'s snapshot (at ``revision``: a commit, branch or tag) in the local
    Hugging Face cache when it holds a subfolder for each of ``parts``, else None (also for an id
    the hub would refuse). Reads only the local disk."""
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(repo_id, revision=revision, local_files_only=True))
    except Exception:  # not cached (LocalEntryNotFoundError), or a malformed id
        return None
    return path if all((path / part).is_dir() for part in parts) else None


def hf_download_command(
    repo_id: str, revision: str | None = None, files: tuple[str, ...] = (), include: tuple[str, ...] = ()
) -> str:
    """``hf download REPO [FILE...] [--revision REV] [--include 'PATTERN'...]``: the command that
    puts what is missing into the cache on a connected machine."""
    words = [repo_id, *files]
    if revision:
        words += ["--revision", revision]
    if include:
        words += ["--include", *(f"'{pattern}'" for pattern in include)]
    return "hf download " + " ".join(words)


def not_cached_error(
    subject: str, command: str, otherwise: str, *, plural: bool = True, after_command: str = ""
) -> BenchError:
    """The error for weights that are neither in the local cache nor downloadable now.

    Args:
        subject: what is missing, e.g. ``"Weights 'org/x' for backbone 'b'"``.
        command: the :func:`hf_download_command` that fetches it on a connected machine.
        otherwise: the local alternative, e.g. ``"or pass the file with --weights b=FILE."``.
        plural: ``subject`` takes "are"/"they" (else "is"/"it").
        after_command: said right after the command, e.g. ``" (or model.bin, whichever it has)"``.
    """
    verb, pronoun = ("are", "they are") if plural else ("is", "it is")
    return BenchError(
        f"{subject} {verb} not available: {pronoun} not in the local Hugging Face cache and "
        f"{OFFLINE_REASON}.",
        f"On a connected machine run `{command}`{after_command} and copy the cache ({CACHE_FOLDER}), "
        f"{otherwise}",
    )
