"""Training checkpoints: one file per stage, replaced atomically, refused under another recipe.

A checkpoint is a ``torch.save`` dict with the stage's ``state`` (model, optimizer and EMA state
dicts), its ``progress`` (:class:`~bench_sdmini.loop.StageProgress` as a dict) and the recipe
``identity`` it was trained under.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from bench import BenchError
from bench.weights import read_torch_file
from bench_sdmini import SdMiniError
from bench_sdmini.loop import StageProgress

CHECKPOINT_KEYS = frozenset({"state", "progress", "identity"})


def checkpoint_path(output: Path, stage: str) -> Path:
    """``OUTPUT/checkpoints/<stage>.pt``."""
    return output / "checkpoints" / f"{stage}.pt"


def save_checkpoint(path: Path, state: dict, progress: dict, identity: dict) -> None:
    """Write the checkpoint to a temporary file and rename it over ``path`` (a kill leaves the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save({"state": state, "progress": progress, "identity": identity}, partial)
    os.replace(partial, path)


def load_checkpoint(path: Path, identity: dict) -> tuple[dict, dict]:
    """The ``(state, progress)`` of the checkpoint at ``path``, read as tensors and plain values
    only (a planted file cannot run code).

    Raises:
        SdMiniError: it cannot be read, is not a training checkpoint, or was trained under a recipe
            that differs from ``identity``.
    """
    hint = "Delete it to train this stage afresh, or choose a new --output."
    try:
        checkpoint = read_torch_file(path, "The checkpoint", hint)
    except BenchError as error:
        raise SdMiniError(str(error)) from error
    if not isinstance(checkpoint, dict) or set(checkpoint) != CHECKPOINT_KEYS:
        raise SdMiniError(
            f"{path} is not a training checkpoint of this command (one holds "
            f"{', '.join(sorted(CHECKPOINT_KEYS))}). {hint}"
        )
    if checkpoint["identity"] != identity:
        raise SdMiniError(
            f"{path} was trained with different settings than this command's, so it cannot be resumed "
            f"(checkpoint: {checkpoint['identity']}; now: {identity}). "
            "Use the same options, or a new --output."
        )
    return checkpoint["state"], checkpoint["progress"]


def open_stage(output: Path, stage: str, identity: dict, resume: bool) -> tuple[dict | None, StageProgress]:
    """The state to resume ``stage`` from (None: start afresh) and its progress so far.

    Raises:
        SdMiniError: a checkpoint exists but ``resume`` is off (it would be overwritten), or it was
            trained under another recipe.
    """
    path = checkpoint_path(output, stage)
    if not path.is_file():
        return None, StageProgress()
    if not resume:
        raise SdMiniError(
            f"{output} already holds a {stage} checkpoint ({path}). "
            "Pass --resume to continue it, or choose a new --output."
        )
    state, progress = load_checkpoint(path, identity)
    return state, StageProgress(**progress)
