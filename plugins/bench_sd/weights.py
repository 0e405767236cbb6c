"""Finding Stable Diffusion weights without waiting on an unreachable hub (no torch imported).

``weights`` is a local diffusers directory or a Hugging Face hub id. A hub id is used from the local
Hugging Face cache when it is there; otherwise the hub must be reachable, which is checked with a
3-second connection attempt instead of the libraries' minutes of retries.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from bench import BenchError
from bench_sd.architecture import shipped_folder

HUB_HOST = ("huggingface.co", 443)


def _is_path_like(weights: str) -> bool:
    return (
        weights.startswith(("/", ".", "~"))
        or os.sep in weights.strip("/").split("/", 1)[-1]
        or (weights.count("/") != 1)
    )


def _check_local_dir(path: Path, backbone_id: str, parts: tuple[str, ...]) -> str:
    missing = [part for part in parts if not (path / part).is_dir()]
    if missing:
        raise BenchError(
            f"{str(path)!r} is not a diffusers Stable Diffusion directory: "
            f"it lacks the subfolders {', '.join(missing)}.",
            f"Point --weights {backbone_id}=DIR at a directory holding {', '.join(parts)} "
            "(as saved by the diffusers pipeline's save_pretrained or downloaded from the hub).",
        )
    return str(path)


def _cached_snapshot(repo_id: str, parts: tuple[str, ...]) -> str | None:
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(repo_id, local_files_only=True)
    except Exception:  # not cached (LocalEntryNotFoundError), or a malformed id
        return None
    return path if all((Path(path) / part).is_dir() for part in parts) else None


def _hub_reachable() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    try:
        socket.create_connection(HUB_HOST, timeout=3).close()
    except OSError:
        return False
    return True


def local_weights(weights: str, parts: tuple[str, ...]) -> str | None:
    """The directory holding ``weights`` on this machine (a complete local diffusers directory or a
    cached hub snapshot), or None. Reads only the local disk."""
    shipped = shipped_folder(weights)
    if shipped is not None:
        return str(shipped) if shipped.is_dir() else None
    path = Path(weights).expanduser()
    if path.exists():
        return str(path) if all((path / part).is_dir() for part in parts) else None
    return None if _is_path_like(weights) else _cached_snapshot(weights, parts)


def locate_weights(weights: str, backbone_id: str, parts: tuple[str, ...]) -> str:
    """A local directory or a hub id that ``from_pretrained`` can load without hanging.

    ``parts`` are the subfolders the model needs (unet, vae, text_encoder, ...).

    Raises:
        BenchError: the directory does not exist or is incomplete, or the hub id is neither cached
            nor downloadable; the message names the weights and how to make them available.
    """
    shipped = shipped_folder(weights)
    if shipped is not None:  # the model this project ships (sd-mini)
        return _check_local_dir(shipped, backbone_id, parts)
    path = Path(weights).expanduser()
    if path.exists():
        return _check_local_dir(path, backbone_id, parts)
    if _is_path_like(weights):
        raise BenchError(
            f"Weights directory {weights!r} for backbone {backbone_id!r} does not exist.",
            "Pass an existing diffusers directory or a Hugging Face hub id with --weights.",
        )
    cached = _cached_snapshot(weights, parts)
    if cached:
        return cached
    if _hub_reachable():
        return weights
    patterns = " ".join(f"'{part}/*'" for part in parts)
    raise BenchError(
        f"Weights {weights!r} for backbone {backbone_id!r} are not available: they are not in the local "
        "Hugging Face cache and the hub cannot be reached (offline, or HF_HUB_OFFLINE=1).",
        f"On a connected machine run `hf download {weights} --include {patterns}` and copy the cache "
        f"(~/.cache/huggingface/hub), or save the pipeline to a directory and pass "
        f"--weights {backbone_id}=DIR. To try the toolkit without weights use --backbone sd-tiny.",
    )


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


def check_architecture(source: str, backbone_id: str) -> None:
    """Refuse a diffusers folder whose UNet is not ``backbone_id``'s architecture, naming the
    registered backbone whose architecture it is (an SD 1.5 folder passed as ``--weights sd21=``).

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
    expected = _architecture(VARIANTS[backbone_id].unet)
    if found == expected:
        return
    same = [variant.id for variant in VARIANTS.values() if _architecture(variant.unet) == found]
    what = f"the architecture of {', '.join(same)}" if same else "an architecture no SD backbone here has"
    raise BenchError(
        f"The weights in {source!r} hold a UNet with {_described(found)}: {what}, not {backbone_id}'s "
        f"({_described(expected)}).",
        f"Use --backbone {same[0]} with these weights." if same else "Pass the weights of this backbone.",
    )


def check_weights(weights: str, backbone_id: str, parts: tuple[str, ...]) -> None:
    """Fail fast (before a run starts) when ``weights`` cannot be loaded, or are another
    architecture than the backbone's."""
    if weights != "random":
        check_architecture(locate_weights(weights, backbone_id, parts), backbone_id)
