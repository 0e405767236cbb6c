"""Finding a diffusers SD3 / FLUX folder without waiting on an unreachable hub (no torch imported).

``weights`` is a local diffusers directory (as ``save_pretrained`` or ``hf download`` leave it), a
Hugging Face hub id, or a single-file transformer checkpoint ``FILE[+DIR]`` (see
:mod:`bench_dit.single_file`; the VAE, text encoders and configs come from ``DIR``, a folder or hub
id, or else from the backbone's default weights). A hub id is read from the local Hugging Face cache
(the ``models--org--name/snapshots/<rev>/`` layout) when every needed subfolder is there; otherwise
the hub must be reachable (``bench.weights.is_hub_id``, a 3-second connection attempt), and the error says
how to get the files.
"""

from __future__ import annotations

from pathlib import Path

from bench import BenchError
from bench.weights import (
    cached_snapshot,
    hf_download_command,
    hub_reachable,
    is_hub_id,
    is_single_file,
    not_cached_error,
    split_base,
    split_revision,
)


def _missing_parts(folder: Path, parts: tuple[str, ...]) -> list[str]:
    return [part for part in parts if not (folder / part).is_dir()]


def _cached_snapshot(weights: str, parts: tuple[str, ...]) -> str | None:
    """The cached snapshot of ``weights`` (``org/name``, or ``org/name@revision`` for a commit,
    branch or tag) holding every one of ``parts``, or None."""
    path = cached_snapshot(*split_revision(weights), parts)
    return None if path is None else str(path)


def _download(weights: str, parts: tuple[str, ...]) -> str:
    """``weights`` for ``from_pretrained``: a plain hub id as it is (diffusers downloads it), a
    pinned one downloaded here (``from_pretrained`` takes no revision inside the id)."""
    repo_id, revision = split_revision(weights)
    if revision is None:
        return weights
    from huggingface_hub import snapshot_download

    patterns = [f"{part}/*" for part in parts] + ["model_index.json"]
    return snapshot_download(repo_id, revision=revision, allow_patterns=patterns)


def local_weights(weights: str, parts: tuple[str, ...]) -> str | None:
    """Where ``weights`` are on this machine (a complete folder, a cached snapshot, or the file of
    a single-file checkpoint), or None. Reads only the local disk."""
    if is_single_file(weights):
        file = Path(split_base(weights)[0]).expanduser()
        return str(file) if file.is_file() else None
    folder = Path(weights).expanduser()
    if folder.is_dir():
        return str(folder) if not _missing_parts(folder, parts) else None
    return _cached_snapshot(weights, parts) if is_hub_id(split_revision(weights)[0]) else None


def locate_weights(
    weights: str, backbone_id: str, parts: tuple[str, ...], *, licence: str | None, tiny: str
) -> str:
    """A local directory, or a hub id ``from_pretrained`` can download without hanging.

    Args:
        weights: a diffusers folder or a hub id.
        backbone_id: named in errors.
        parts: the subfolders extraction reads (transformer, vae, text encoders, tokenizers).
        licence: the default weights' licence (a gated repository needs its terms accepted).
        tiny: the tiny twin to suggest (runs without weights).

    Raises:
        BenchError: the folder is incomplete or absent, or the hub id is neither cached nor
            downloadable; the message names the weights and how to make them available.
    """
    folder = Path(weights).expanduser()
    if folder.is_dir():
        missing = _missing_parts(folder, parts)
        if missing:
            raise BenchError(
                f"{weights!r} is not a complete diffusers folder for backbone {backbone_id!r}: it lacks "
                f"the subfolders {', '.join(missing)}.",
                f"Point --weights {backbone_id}=DIR at a folder holding {', '.join(parts)} "
                "(as the pipeline's save_pretrained or `hf download` leave it).",
            )
        return str(folder)
    if not is_hub_id(split_revision(weights)[0]):
        raise BenchError(
            f"Weights folder {weights!r} for backbone {backbone_id!r} does not exist.",
            "Pass an existing diffusers folder or a Hugging Face hub id with --weights.",
        )
    cached = _cached_snapshot(weights, parts)
    if cached:
        return cached
    if hub_reachable():
        return _download(weights, parts)
    repo_id, revision = split_revision(weights)
    gated = (
        f" Accept the licence ({licence}) on huggingface.co/{repo_id} and log in first." if licence else ""
    )
    include = (*(f"{part}/*" for part in parts), "model_index.json")
    raise not_cached_error(
        f"Weights {weights!r} for backbone {backbone_id!r}",
        hf_download_command(repo_id, revision, include=include),
        f"or pass the downloaded folder with --weights {backbone_id}=DIR.{gated} To try the toolkit "
        f"without weights use --backbone {tiny}.",
    )


def single_file_parts(weights: str, backbone_id: str) -> tuple[str, str | None]:
    """(the checkpoint file, the folder or hub id of the other parts, None when not named) of
    ``weights`` = ``FILE`` or ``FILE+DIR``.

    Raises:
        BenchError: the file does not exist.
    """
    file, base = split_base(weights)
    path = Path(file).expanduser()
    if not path.is_file():
        raise BenchError(
            f"Checkpoint file {file!r} for backbone {backbone_id!r} does not exist.",
            "Pass an existing .safetensors or .ckpt transformer file (or a diffusers folder) with --weights.",
        )
    return str(path), base
