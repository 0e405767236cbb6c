"""Locating a diffusers folder's needed parts on this machine, and refusing an incomplete one (no torch).

A diffusion backbone reads some parts of a diffusers folder (``unet`` or ``transformer``, ``vae``,
text encoders, tokenizers, ...), given by ``--weights`` as a local folder, a hub id (used from the
local Hugging Face cache when the cache holds every part with its weight files) or a single-file
checkpoint ``FILE[+BASE]``. A part is complete when its subfolder exists and, for a model part,
holds a weight file, plain or a variant (:func:`~bench.weights.missing_weight_files`).
"""

from __future__ import annotations

from pathlib import Path

from bench.api.errors import BenchError
from bench.weights.diffusers_files import missing_weight_files
from bench.weights.hub import cached_snapshot
from bench.weights.names import is_path_like, split_base, split_revision


def absent_parts(folder: Path, parts: tuple[str, ...]) -> list[str]:
    """The parts among ``parts`` that have no subfolder in ``folder``."""
    return [part for part in parts if not (Path(folder) / part).is_dir()]


def has_diffusers_parts(folder: Path, parts: tuple[str, ...]) -> bool:
    """Whether ``folder`` holds a subfolder for each of ``parts``, every model part with a weight file."""
    return not absent_parts(folder, parts) and not missing_weight_files(folder, parts)


def cached_diffusers_snapshot(repo_id: str, revision: str | None, parts: tuple[str, ...]) -> str | None:
    """The cached snapshot of ``repo_id`` (at ``revision``) holding each of ``parts`` with its
    weight files, or None. Reads only the local disk."""
    path = cached_snapshot(repo_id, revision, parts)
    return None if path is None or missing_weight_files(path, parts) else str(path)


def local_diffusers_weights(weights: str, parts: tuple[str, ...]) -> str | None:
    """Where ``weights`` are on this machine, or None (what ``bench list`` shows as local).

    The file of a single-file checkpoint (``FILE`` or ``FILE+BASE``; its base is checked when a run
    is planned); a local folder holding every one of ``parts`` (model parts with their weight files);
    or the cached snapshot of a hub id (``org/name[@revision]``) holding them. Reads only the local disk.
    """
    primary, _ = split_base(weights)
    path = Path(primary).expanduser()
    if path.is_file():
        return str(path)
    if path.is_dir():
        return str(path) if has_diffusers_parts(path, parts) else None
    repo, revision = split_revision(primary)
    return None if is_path_like(repo) else cached_diffusers_snapshot(repo, revision, parts)


def require_parts(folder: Path, backbone_id: str, parts: tuple[str, ...]) -> str:
    """``folder`` as a string when it has a subfolder for each of ``parts``.

    Raises:
        BenchError: naming the subfolders it lacks and what ``--weights`` takes instead.
    """
    missing = absent_parts(folder, parts)
    if missing:
        raise BenchError(
            f"{str(folder)!r} is not a complete diffusers folder for backbone {backbone_id!r}: it lacks "
            f"the subfolders {', '.join(missing)}.",
            f"Point --weights {backbone_id}=DIR at a folder holding {', '.join(parts)} (as the pipeline's "
            "save_pretrained or `hf download` leave it), or pass a single-file checkpoint with "
            f"--weights {backbone_id}=FILE.safetensors.",
        )
    return str(folder)


def require_weight_files(source: str, parts: tuple[str, ...]) -> None:
    """Refuse a local diffusers folder whose model parts among ``parts`` hold no weight file (plain
    or variant); a hub id still to be downloaded passes.

    Raises:
        BenchError: naming the empty parts and the file names looked for.
    """
    path = Path(source)
    empty = missing_weight_files(path, parts) if path.is_dir() else []
    if empty:
        raise BenchError(
            f"{source!r} holds no weights in {', '.join(f'{part}/' for part in empty)} (neither "
            "diffusion_pytorch_model.safetensors / model.safetensors nor a variant such as "
            "diffusion_pytorch_model.fp16.safetensors).",
            "Copy the weight files of those parts as well (`hf download` with --include 'PART/*').",
        )
