"""Deterministic results-file names (a readable slug of a configuration plus a hash of all of it),
and the natural order names are listed in. Every name is made of ``A-Za-z0-9._+-`` only: no
spaces, commas, colons or slashes, whatever the backbone id or an ensemble's joined settings hold."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import PurePath
from typing import Any

LEARNED_PREFIX = "learned:"
PROBE_FILE_PREFIX = "linear:"


def slug(value: object, limit: int = 40) -> str:
    """``value`` as a file-name part: runs of other characters than ``A-Za-z0-9.+-`` become ``-``,
    cut to ``limit`` characters (``"x"`` when nothing is left)."""
    text = re.sub(r"[^A-Za-z0-9.+-]+", "-", str(value)).strip("-")
    return text[:limit] or "x"


def backbone_slug(backbone: str) -> str:
    """The backbone's part of a name: its id as a slug; a backbone named by a local folder
    (``hf:/models/dinov3-vits16``, ``timm:./ckpt/vit``) by its family and the folder's own name
    (``hf-dinov3-vits16``): the rest of the path is about this machine, not the model."""
    family, sep, rest = backbone.partition(":")
    if sep and rest.startswith(("/", "./", "../", "~")):
        return slug(f"{family}-{PurePath(rest).name}")
    return slug(backbone)


def prompt_slug(prompt: str) -> str:
    """The prompt's part of a name: a learned prompt by its file's stem (``learned-coarse-t50-visual-s0``
    for ``learned:prompts/coarse-t50_visual_s0.safetensors``: the stem says the scheme, the
    folders do not), any other by itself."""
    if prompt.startswith(LEARNED_PREFIX):
        return "learned-" + slug(PurePath(prompt[len(LEARNED_PREFIX) :]).stem, limit=32)
    return slug(prompt)


def probe_slug(probe: str) -> str:
    """The probe's part of a name: ``p-linear`` for a probe the run trains, ``p-linear-<stem>`` for
    ``linear:FILE``."""
    if probe.startswith(PROBE_FILE_PREFIX):
        return "p-linear-" + slug(PurePath(probe[len(PROBE_FILE_PREFIX) :]).stem, limit=32)
    return "p-" + slug(probe)


def run_name(config: dict[str, Any]) -> str:
    """``<backbone>_<layer>_t<t>_<prompt>_n<noise>_s<seed>_<dtype>-<hash8>`` for a run configuration,
    with ``_q-<query text source>`` after the prompt for sketch+text queries and ``_p-<probe>``
    after that for a linear probe (:func:`probe_slug`); ``n`` and ``s`` only
    where the configuration has noise draws and a seed; ``_limit<N>`` before the hash for a
    ``--limit`` subset.

    The hash covers the whole configuration (canonical JSON), so two configurations that differ in
    anything (dataset options, weights, image size) never share a file.
    """
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:8]
    t = "none" if config.get("t") is None else config["t"]
    parts = [
        backbone_slug(str(config["backbone"])),
        slug(config["layer"]),
        f"t{slug(t)}",
        prompt_slug(str(config["prompt"])),
        *([f"q-{slug(config['query_text'])}"] if config.get("query_text") else []),
        *([probe_slug(str(config["probe"]))] if config.get("probe") else []),
        *([f"n{slug(config['noise_samples'])}"] if config.get("noise_samples") is not None else []),
        *([f"s{slug(config['seed'])}"] if config.get("seed") is not None else []),
        slug(config.get("dtype", "fp32")),
        *([f"limit{config['limit']}"] if config.get("limit") is not None else []),
    ]
    return "_".join(parts) + f"-{digest}"


def natural_key(name: str) -> list[tuple[int, int | str]]:
    """Sort key comparing runs of decimal digits as numbers (``up2`` before ``up10``, ``x@5``
    before ``x@10``); any other character, a superscript digit too, compares as text."""
    parts = re.split(r"(\d+)", name)  # odd positions hold the digit runs (any script's decimals)
    return [(0, int(part)) if index % 2 else (1, part) for index, part in enumerate(parts)]
