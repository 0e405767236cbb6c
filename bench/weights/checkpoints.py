"""Weights that are one checkpoint file: find it here, check it can be had, fetch it (no torch).

Public through :mod:`bench.weights`; the timm, open_clip and ``hf:`` plugins use it. ``weights``
is ``random`` (seeded random weights: no file), a local checkpoint file, a folder holding one of
the library's checkpoint file names, or a Hugging Face hub id (``org/name``, or
``org/name@revision`` pinned). A hub id is used from the local Hugging Face cache when it is there;
otherwise the hub must be reachable, which a 3-second connection attempt decides (instead of the
libraries' minutes of retries).
"""

from __future__ import annotations

from pathlib import Path

from bench.api.errors import BenchError
from bench.api.tensor_names import strict_load_gaps
from bench.api.torch_files import load_failure
from bench.weights.hub import cached_file, hf_download_command, hub_reachable, not_cached_error
from bench.weights.names import NO_WEIGHTS, RANDOM, is_hub_id, split_revision


def check_random(weights: str, backbone_id: str) -> None:
    """A tiny test model only has its seeded random weights.

    Raises:
        BenchError: ``weights`` is anything but ``"random"``.
    """
    if weights != RANDOM:
        raise BenchError(
            f"Backbone {backbone_id!r} only has random weights (got {weights!r}).", "Drop --weights."
        )


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
    if not is_hub_id(split_revision(weights)[0]):
        raise BenchError(
            f"Weights file {weights!r} for backbone {backbone_id!r} does not exist.",
            "Pass an existing checkpoint file or a Hugging Face hub id with --weights.",
        )
    return None


def _here(weights: str, backbone_id: str, filenames: tuple[str, ...]) -> str | None:
    """The local file or the cached hub file of ``weights``, or None (reads only the local disk)."""
    return _local_file(weights, backbone_id, filenames) or cached_file(*_pinned(weights, filenames))


def _pinned(weights: str, filenames: tuple[str, ...]) -> tuple[str, tuple[str, ...], str | None]:
    repo, revision = split_revision(weights)
    return repo, filenames, revision


def _unavailable(weights: str, backbone_id: str, filenames: tuple[str, ...]) -> BenchError:
    repo, revision = split_revision(weights)
    alternatives = f" (or {' or '.join(filenames[1:])}, whichever it has)" if len(filenames) > 1 else ""
    return not_cached_error(
        f"Weights {weights!r} for backbone {backbone_id!r}",
        hf_download_command(repo, revision, files=filenames[:1]),
        f"or pass the file with --weights {backbone_id}=FILE.",
        after_command=alternatives,
    )


def local_checkpoint(weights: str, filenames: tuple[str, ...]) -> str | None:
    """The checkpoint file ``weights`` names on this machine (a file, a folder holding one of
    ``filenames``, or a hub id in the local Hugging Face cache), or None (also for ``random`` and
    ``none``: no file). Reads only the local disk."""
    if weights in (RANDOM, NO_WEIGHTS):
        return None
    try:
        return _here(weights, "", filenames)
    except BenchError:  # a missing path or an empty folder: nothing here
        return None


def check_checkpoint(weights: str, backbone_id: str, filenames: tuple[str, ...]) -> None:
    """Fail fast, before a run starts, when ``weights`` can neither be found here nor downloadable;
    ``random`` (seeded random weights) always passes.

    Args:
        weights: ``random``, a checkpoint file, a folder, or a hub id (``org/name[@revision]``).
        backbone_id: named in the error.
        filenames: the library's checkpoint file names, in order of preference.

    Raises:
        BenchError: naming the weights and how to make them available.
    """
    if weights == RANDOM or _here(weights, backbone_id, filenames):
        return
    if not hub_reachable():
        raise _unavailable(weights, backbone_id, filenames)


def checkpoint_file(weights: str, backbone_id: str, filenames: tuple[str, ...]) -> str:
    """The local path of the checkpoint ``weights`` names, downloading it when the hub is reachable.

    Raises:
        BenchError: as :func:`check_checkpoint`, or when the repository has none of ``filenames``.
    """
    found = _here(weights, backbone_id, filenames)
    if found:
        return found
    if not hub_reachable():
        raise _unavailable(weights, backbone_id, filenames)
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    repo, revision = split_revision(weights)
    for filename in filenames:
        try:
            return hf_hub_download(repo, filename, revision=revision)
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
