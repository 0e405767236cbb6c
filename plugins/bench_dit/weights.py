"""Finding a diffusers SD3 / FLUX folder without waiting on an unreachable hub (no torch imported).

``weights`` is a local diffusers directory (as ``save_pretrained`` or ``hf download`` leave it), a
Hugging Face hub id, or a single-file transformer checkpoint ``FILE[+DIR]`` (see
:mod:`bench_dit.single_file`; the VAE, text encoders and configs come from ``DIR``, a folder or hub
id, or else from the backbone's default weights). A hub id is read from the local Hugging Face cache
(the ``models--org--name/snapshots/<rev>/`` layout) when every needed part is there with its weight
files (what is local for ``bench list``: :func:`bench.weights.local_diffusers_weights`); otherwise
the hub must be reachable (``bench.weights.is_hub_id``, a 3-second connection attempt), and the error says
how to get the files.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench import BenchError
from bench.weights import (
    cached_diffusers_snapshot,
    hf_download_command,
    hub_reachable,
    is_hub_id,
    is_single_file,
    not_cached_error,
    require_parts,
    require_weight_files,
    split_base,
    split_revision,
)
from bench_dit.architecture import FLUX, VARIANTS, DiTVariant
from bench_dit.names import variant_of
from bench_dit.single_file import check_layout

ARCHITECTURE_KEYS = (
    "num_layers",
    "num_single_layers",
    "num_attention_heads",
    "attention_head_dim",
    "guidance_embeds",
)
"""Transformer config entries that fix a backbone's taps and conditioning inputs."""


def _download(weights: str, parts: tuple[str, ...]) -> str:
    """``weights`` for ``from_pretrained``: a plain hub id as it is (diffusers downloads it), a
    pinned one downloaded here (``from_pretrained`` takes no revision inside the id)."""
    repo_id, revision = split_revision(weights)
    if revision is None:
        return weights
    from huggingface_hub import snapshot_download

    patterns = [f"{part}/*" for part in parts] + ["model_index.json"]
    return snapshot_download(repo_id, revision=revision, allow_patterns=patterns)


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
        return require_parts(folder, backbone_id, parts)
    if not is_hub_id(split_revision(weights)[0]):
        raise BenchError(
            f"Weights folder {weights!r} for backbone {backbone_id!r} does not exist.",
            "Pass an existing diffusers folder or a Hugging Face hub id with --weights.",
        )
    cached = cached_diffusers_snapshot(*split_revision(weights), parts)
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


def _architecture(config: dict, family: str) -> dict:
    values = {key: config.get(key) for key in ARCHITECTURE_KEYS}
    if family != FLUX:
        values.pop("num_single_layers")
        values.pop("guidance_embeds")
    return values


def check_architecture(source: str, backbone_id: str) -> None:
    """Refuse a folder whose transformer is not ``backbone_id``'s, naming the backbone it is.

    Raises:
        BenchError: ``transformer/config.json`` is unreadable or holds another architecture.
    """
    variant, _ = variant_of(backbone_id)
    path = Path(source) / "transformer" / "config.json"
    if not path.is_file():
        return  # a hub id still to be downloaded: diffusers checks what it loads
    try:
        found = _architecture(json.loads(path.read_text(encoding="utf-8")), variant.family)
    except (OSError, ValueError) as exc:
        raise BenchError(f"The transformer config {str(path)!r} cannot be read: {exc}.") from exc
    if found == _architecture(variant.transformer, variant.family):
        return
    same = [
        v.id
        for v in VARIANTS.values()
        if v.family == variant.family and _architecture(v.transformer, v.family) == found
    ]
    raise BenchError(
        f"The weights in {source!r} hold a transformer with {found}, not {variant.id}'s.",
        f"Use --backbone {same[0]} with these weights." if same else "Pass the weights of this backbone.",
    )


def locate(weights: str, backbone_id: str) -> tuple[str | None, str]:
    """(the single-file transformer checkpoint or None, the folder or hub id of every other part:
    ``DIR`` of ``FILE+DIR``, else the backbone's default weights), each checked to be
    ``backbone_id``'s architecture, a local folder's parts to hold weight files, before any model loads.

    Raises:
        BenchError: weights missing, incomplete, or of another architecture (naming the backbone
            they fit).
    """
    variant, _ = variant_of(backbone_id)
    file, others = None, weights
    if is_single_file(weights):
        file, base = single_file_parts(weights, backbone_id)
        check_layout(file, variant, backbone_id)
        others = base or variant.weights
    source = locate_weights(
        others, backbone_id, variant.needed_parts, licence=variant.licence, tiny=_tiny_of(variant)
    )
    check_architecture(source, backbone_id)
    read_from_source = tuple(part for part in variant.needed_parts if file is None or part != "transformer")
    require_weight_files(source, read_from_source)
    return file, source


def check_weights(weights: str, backbone_id: str) -> None:
    """Fail fast (before a run starts) when ``weights`` cannot be loaded or are another architecture."""
    if weights != "random":
        locate(weights, backbone_id)


def _tiny_of(variant: DiTVariant) -> str:
    return "flux-tiny" if variant.family == FLUX else "sd3-tiny"
