"""Reading a ``--weights`` value: a hub id or a path, a pinned revision, a base (no torch, no network).

A value is a Hugging Face hub id exactly when :func:`is_hub_id` says so; everything else is read as
a path on disk (:func:`is_path_like` is its negation, not a second rule). Two forms compose:
``ORG/NAME@REVISION`` pins a hub snapshot (:func:`split_revision`) and ``A+B`` names weights read
with or onto others (:func:`split_base`: a single-file checkpoint and its configs, a CleanDIFT UNet
and its base pipeline). An existing path is never split: a folder named ``org/x@2`` or ``a+b`` on
disk is that folder.
"""

from __future__ import annotations

import re
from pathlib import Path

RANDOM = "random"  # the weights of the tiny test models
RANDOM_NOTE = "random weights (architecture check, not a model)"
NO_WEIGHTS = "none"  # the default weights of an architecture its library publishes none for
CHECKPOINT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
"""File suffixes that make ``org/name.SUFFIX`` a checkpoint path, not a hub id."""
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
"""Suffixes of single-file checkpoints (one file for a whole model, as model sites distribute them)."""
BASE_SEPARATOR = "+"
REVISION_SEPARATOR = "@"

_HUB_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
"""One side of ``org/name``: the characters the hub allows in an owner or repository name, not
starting with ``.`` or ``-`` (so ``./x``, ``../x`` and ``~/x`` are paths)."""


def is_hub_id(weights: str) -> bool:
    """Whether ``weights`` reads as a Hugging Face hub id ``org/name`` (no revision).

    Both sides are non-empty and use only the hub's name characters (letters, digits, ``_``,
    ``.``, ``-``; not starting with ``.`` or ``-``), there is exactly one ``/``, and the name does
    not end in a checkpoint suffix. So ``/models/x``, ``./x``, ``~/x``, ``a/b/c``, ``org/``,
    ``C:/x``, ``dir\\x/y`` and ``dir/model.safetensors`` are paths.
    """
    org, sep, name = weights.partition("/")
    return (
        bool(sep)
        and _HUB_PART.fullmatch(org) is not None
        and _HUB_PART.fullmatch(name) is not None
        and Path(name).suffix not in CHECKPOINT_SUFFIXES
    )


def is_path_like(weights: str) -> bool:
    """Whether ``weights`` is read as a file-system path: exactly when it is no hub id
    (:func:`is_hub_id`; ``random`` and other bare words count as paths that do not exist)."""
    return not is_hub_id(weights)


def split_revision(weights: str) -> tuple[str, str | None]:
    """``"org/name@rev"`` -> ``("org/name", "rev")`` when ``org/name`` is a hub id
    (:func:`is_hub_id`) and ``rev`` is not empty (a commit, branch or tag; it may hold ``/`` or
    ``@``). Anything else, and an existing path, -> ``(weights, None)``."""
    repo, sep, revision = weights.partition(REVISION_SEPARATOR)
    if sep and revision and is_hub_id(repo) and not Path(weights).expanduser().exists():
        return repo, revision
    return weights, None


def split_base(weights: str) -> tuple[str, str | None]:
    """``"A+B"`` -> ``("A", "B")``: A's weights read with B's configs, or onto B's pipeline. An
    existing path holding ``+``, and a value without one, -> ``(weights, None)``."""
    if BASE_SEPARATOR not in weights or Path(weights).expanduser().exists():
        return weights, None
    primary, _, base = weights.rpartition(BASE_SEPARATOR)
    return (primary, base) if primary and base else (weights, None)


def is_single_file(weights: str) -> bool:
    """Whether ``weights`` (``FILE`` or ``FILE+BASE``) names a checkpoint file by its suffix,
    existing or not."""
    return Path(split_base(weights)[0]).suffix in SINGLE_FILE_SUFFIXES
