"""Finding a pretrained checkpoint file without waiting on an unreachable hub (no torch imported).

Public (``bench.check_checkpoint`` and the rest); the timm and open_clip plugins use it.
``weights`` is either a local checkpoint file, a folder holding one of the library's checkpoint
file names, or a Hugging Face hub repository id. A hub id is used from the local Hugging Face
cache when it is there; otherwise the hub must be reachable, which a 3-second connection attempt
decides (instead of the libraries' minutes of retries).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from bench.api.errors import BenchError
from bench.api.tensor_names import strict_load_gaps
from bench.api.torch_files import load_failure

RANDOM = "random"  # the weights of the tiny test models
RANDOM_NOTE = "random weights (architecture check, not a model)"
HUB_HOST = ("huggingface.co", 443)
CONNECT_TIMEOUT_S = 3
CHECKPOINT_SUFFIXES = {".safetensors", ".bin", ".pt", ".pth", ".ckpt"}


def check_random(weights: str, backbone_id: str) -> None:
    """A tiny test model only has its seeded random weights.

    Raises:
        BenchError: ``weights`` is anything but ``"random"``.
    """
    if weights != RANDOM:
        raise BenchError(
            f"Backbone {backbone_id!r} only has random weights (got {weights!r}).", "Drop --weights."
        )


def is_hub_id(weights: str) -> bool:
    """``org/name`` with no path markers (``/models/x``, ``./x``, ``~/x``, ``a/b/c`` and
    ``dir/model.safetensors`` are paths)."""
    org, sep, name = weights.partition("/")
    return (
        bool(sep and org and name)
        and "/" not in name
        and not weights.startswith((".", "~"))
        and Path(name).suffix not in CHECKPOINT_SUFFIXES
    )


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


def _cached_file(repo_id: str, filenames: tuple[str, ...]) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename)
        if isinstance(found, str):
            return found
    return None


def _local_file(weights: str, backbone_id: str, filenames: tuple[str, ...]) -> str | None:
    """The checkpoint file ``weights`` names on disk, or None when ``weights`` is a hub id."""
    path = Path(weights).expanduser()
    if path.is_file():
        return str(path)
    if path.is_dir():
        found = next((path / name for name in filenames if (path / name).is_file()), None)
        if found is None:
            raise BenchError(
                f"Folder {weights!r} for backbone {backbone_id!r} holds no checkpoint: "
                f"none of {', '.join(filenames)}.",
                f"Pass the checkpoint file itself with --weights {backbone_id}=FILE.",
            )
        return str(found)
    if not is_hub_id(weights):
        raise BenchError(
            f"Weights file {weights!r} for backbone {backbone_id!r} does not exist.",
            "Pass an existing checkpoint file or a Hugging Face hub id with --weights.",
        )
    return None


def _unavailable(weights: str, backbone_id: str, filenames: tuple[str, ...]) -> BenchError:
    alternatives = f" (or {' or '.join(filenames[1:])}, whichever it has)" if len(filenames) > 1 else ""
    return BenchError(
        f"Weights {weights!r} for backbone {backbone_id!r} are not available: they are not in the local "
        "Hugging Face cache and the hub cannot be reached (offline, or HF_HUB_OFFLINE=1).",
        f"On a connected machine run `hf download {weights} {filenames[0]}`{alternatives} and copy the "
        f"cache (~/.cache/huggingface/hub), or pass the file with --weights {backbone_id}=FILE.",
    )


def local_checkpoint(weights: str, filenames: tuple[str, ...]) -> str | None:
    """The checkpoint file ``weights`` names on this machine (a file, a folder holding one of
    ``filenames``, or a hub id in the local Hugging Face cache), or None. Reads only the local disk."""
    try:
        return _local_file(weights, "", filenames) or _cached_file(weights, filenames)
    except BenchError:  # a missing path or an empty folder: nothing here
        return None


def check_checkpoint(weights: str, backbone_id: str, filenames: tuple[str, ...]) -> None:
    """Fail fast, before a run starts, when ``weights`` can neither be found here nor downloaded.

    Args:
        weights: a checkpoint file, a folder, or a hub id.
        backbone_id: named in the error.
        filenames: the library's checkpoint file names, in order of preference.

    Raises:
        BenchError: naming the weights and how to make them available.
    """
    if _local_file(weights, backbone_id, filenames) or _cached_file(weights, filenames):
        return
    if not hub_reachable():
        raise _unavailable(weights, backbone_id, filenames)


def checkpoint_file(weights: str, backbone_id: str, filenames: tuple[str, ...]) -> str:
    """The local path of the checkpoint ``weights`` names, downloading it when the hub is reachable.

    Raises:
        BenchError: as :func:`check_checkpoint`, or when the repository has none of ``filenames``.
    """
    found = _local_file(weights, backbone_id, filenames) or _cached_file(weights, filenames)
    if found:
        return found
    if not hub_reachable():
        raise _unavailable(weights, backbone_id, filenames)
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    for filename in filenames:
        try:
            return hf_hub_download(weights, filename)
        except EntryNotFoundError:
            continue
        except OSError as exc:  # HTTP and connection errors, a missing repository
            raise BenchError(
                f"Could not download {filename} of {weights!r} for backbone {backbone_id!r}: {exc}",
                f"Check the hub id, or pass a local file with --weights {backbone_id}=FILE.",
            ) from exc
    raise BenchError(
        f"Hub repository {weights!r} has no checkpoint for backbone {backbone_id!r}: "
        f"none of {', '.join(filenames)}.",
        f"Pass a checkpoint file with --weights {backbone_id}=FILE.",
    )


def unreadable_checkpoint(
    weights: str, backbone_id: str, path: str, expected: str, exc: Exception
) -> BenchError:
    """The error for a checkpoint file the library could not load (corrupt, incomplete, another
    model's, or holding Python objects besides tensors).

    Args:
        expected: what the file should be, e.g. ``"a timm checkpoint of vit_small_patch14_dinov2"``.
        exc: the library's exception: the tensors a strict load found missing or unexpected are
            named, else its first line is quoted.
    """
    gaps = strict_load_gaps(exc)
    reason = f"it does not match the model: {gaps.describe()}" if gaps else load_failure(exc)
    return BenchError(
        f"Could not load the weights {weights!r} of backbone {backbone_id!r} from {path}: {reason}",
        f"Check that the file is {expected}, or drop --weights to use the default weights.",
    )
