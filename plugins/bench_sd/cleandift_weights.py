"""Finding CleanDIFT weights: the UNet checkpoint and the base pipeline it loads onto (no torch).

``--weights`` for a CleanDIFT backbone is ``UNET`` or ``UNET+BASE``:

* ``UNET``: the hub repository (``CompVis/cleandift``, or ``CompVis/cleandift@revision``; the
  backbone's file in it), a UNet-only checkpoint file (a ``.safetensors`` state dict of the UNet,
  diffusers key names; CleanDIFT's "full" checkpoints load too), a diffusers ``unet/`` folder
  (``config.json`` and ``diffusion_pytorch_model[.fp16].safetensors``), or a whole diffusers
  pipeline directory whose ``unet/`` is CleanDIFT's (which is then its own base);
* ``BASE``: the SD pipeline that gives the VAE, text encoder, tokenizer and scheduler, in any form
  the SD backbones accept (hub id with revision, diffusers directory); default: the SD variant's
  default weights (``random`` for ``cleandift-tiny``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench import BenchError
from bench.weights import (
    RANDOM,
    cached_file,
    has_plain_weights,
    hf_download_command,
    hub_reachable,
    is_hub_id,
    not_cached_error,
    split_base,
    split_revision,
    variants_in,
)
from bench_sd.cleandift import CLEANDIFT, HUB_REPO, CleanDiftVariant
from bench_sd.weights import check_weights, local_weights


@dataclass(frozen=True)
class UnetSource:
    """Where the CleanDIFT UNet weights are.

    Attributes:
        kind: ``"random"`` (keep the base's UNet), ``"file"`` (a state dict), ``"folder"`` (a
            diffusers ``unet/`` folder) or ``"hub"`` (``filename`` in ``repo`` at ``revision``,
            to download).
        path: the file or folder (kinds file and folder).
    """

    kind: str
    path: str = ""
    repo: str = ""
    revision: str | None = None
    filename: str = ""


def _unet_folder(path: Path) -> Path | None:
    for folder in (path, path / "unet"):
        if (folder / "config.json").is_file() and (has_plain_weights(folder) or variants_in(folder)):
            return folder
    return None


def locate_unet(unet: str, spec: CleanDiftVariant, *, download: bool = False) -> UnetSource:
    """The UNet source ``unet`` names for ``spec``.

    Args:
        download: return a ``hub`` source when the file is not cached and the hub is reachable
            (else that is an error only when the hub is unreachable).

    Raises:
        BenchError: the file or folder does not exist or holds no UNet, or the hub file is neither
            cached nor downloadable; the message names the repository, the file and how to get it.
    """
    if unet == RANDOM:
        if spec.unet_file is not None:
            raise BenchError(
                f"Backbone {spec.id!r} has no random weights.",
                f"Drop --weights to use {spec.default_weights}, or pass a CleanDIFT UNet checkpoint.",
            )
        return UnetSource("random")
    path = Path(unet).expanduser()
    if path.is_file():
        return UnetSource("file", str(path))
    if path.is_dir():
        folder = _unet_folder(path)
        if folder is None:
            raise BenchError(
                f"{unet!r} holds no UNet for backbone {spec.id!r}: no config.json with "
                "diffusion_pytorch_model[.fp16].safetensors in it or in its unet/ subfolder.",
                "Pass a UNet checkpoint file or a diffusers unet/ folder with "
                f"--weights {spec.id}=UNET[+BASE].",
            )
        return UnetSource("folder", str(folder))
    repo, revision = split_revision(unet)
    if not is_hub_id(repo):
        raise BenchError(
            f"UNet weights {unet!r} for backbone {spec.id!r} do not exist.",
            f"Pass an existing checkpoint file, a unet/ folder or the hub id {HUB_REPO} with --weights.",
        )
    if spec.unet_file is None:
        raise BenchError(
            f"Backbone {spec.id!r} has no hub weights (it is a test model).",
            f"Pass a UNet checkpoint of sd-tiny's architecture with --weights {spec.id}=FILE.",
        )
    cached = cached_file(repo, (spec.unet_file,), revision)
    if cached:
        return UnetSource("file", cached)
    if hub_reachable():
        return UnetSource("hub", repo=repo, revision=revision, filename=spec.unet_file)
    raise not_cached_error(
        f"The CleanDIFT UNet {spec.unet_file} of {repo!r} for backbone {spec.id!r}",
        hf_download_command(repo, revision, files=(spec.unet_file,)),
        f"or pass the file with --weights {spec.id}=FILE[+BASE].",
        plural=False,
    )


def split_weights(weights: str, spec: CleanDiftVariant) -> tuple[str, str]:
    """``(unet, base)`` of ``weights``: a pipeline directory holding a CleanDIFT unet/ is its own
    base; otherwise the base defaults to the variant's."""
    unet, base = split_base(weights)
    if base is None:
        path = Path(unet).expanduser()
        own = path.is_dir() and all((path / part).is_dir() for part in spec.sd.needed_parts)
        base = str(path) if own else spec.base_weights
    return unet, base


def check_cleandift_weights(weights: str, backbone_id: str) -> None:
    """Fail fast, before a run, when the UNet or the base pipeline cannot be loaded."""
    spec = CLEANDIFT[backbone_id]
    unet, base = split_weights(weights, spec)
    locate_unet(unet, spec)
    check_weights(base, backbone_id, spec.sd.needed_parts, spec.sd.weights, spec.sd.unet)


def cleandift_location(weights: str, backbone_id: str) -> str | None:
    """The UNet checkpoint on this machine when it and the base pipeline are both here, else None
    (reads the local disk and cache only)."""
    spec = CLEANDIFT[backbone_id]
    unet, base = split_weights(weights, spec)
    path = Path(unet).expanduser()
    if path.exists():
        found: str | None = str(path)
    elif spec.unet_file is not None:
        repo, revision = split_revision(unet)
        found = cached_file(repo, (spec.unet_file,), revision) if is_hub_id(repo) else None
    else:
        found = None
    if found is None or (base != RANDOM and local_weights(base, spec.sd.needed_parts) is None):
        return None
    return found
