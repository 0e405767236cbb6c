"""CleanDIFT as an image encoder: an SD pipeline whose UNet reads clean latents (torch side)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from PIL import Image

from bench import BackboneInfo, BenchError, DenoiserInputs
from bench.weights import load_complete, part_variant, read_state_dict
from bench_sd.cleandift import CLEAN_TIMESTEP, CLEANDIFT, FULL_CHECKPOINT_PREFIX, CleanDiftVariant
from bench_sd.cleandift_weights import UnetSource, locate_unet, split_weights
from bench_sd.features import StableDiffusionFeatures
from bench_sd.loaders import load_model, random_model


class CleanDiftFeatures:
    """Noise-free UNet features of an SD model (``bench.ImageEncoder``).

    Args:
        sd: the SD model whose UNet holds the CleanDIFT weights.
        timestep: the value fed to the UNet's timestep embedding (no noise is added at any step).
        weights: what was loaded, recorded in results.
    """

    def __init__(self, sd: StableDiffusionFeatures, timestep: float, weights: str) -> None:
        self.sd = sd
        self.timestep = timestep
        self.weights = weights
        self.image_size = sd.image_size
        self.device = sd.device  # the extraction loop pins batches bound for a GPU

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """RGB images -> (B, 3, S, S) float32 in [-1, 1], as SD reads them."""
        return self.sd.preprocess(images)

    def features(self, pixels: torch.Tensor, taps: Sequence[str]) -> Mapping[str, torch.Tensor]:
        """``{tap: (B, C, h, w)}`` from one UNet pass over the clean latents (B, 4, S/8, S/8),
        conditioned on the empty prompt, stopping after the deepest tap."""
        latents = self.sd.encode_image(pixels)
        images = latents.shape[0]
        clean = DenoiserInputs(latents, self.timestep, self.sd.encode_text("").batched(images, 1))
        return {tap: draws[:, 0] for tap, draws in self.sd.read_taps(clean, list(taps), images).items()}

    def compile(self) -> None:
        """``torch.compile`` the VAE encoder and the UNet blocks (see ``StableDiffusionFeatures``)."""
        self.sd.compile()

    def enable_activation_checkpointing(self) -> None:
        """Recompute activations in the backward pass (visual prompt training)."""
        self.sd.enable_activation_checkpointing()


def _folder_weights(folder: Path) -> Path:
    variant = part_variant(folder.parent, folder.name)
    infix = f".{variant}" if variant else ""
    for name in (f"diffusion_pytorch_model{infix}.safetensors", f"diffusion_pytorch_model{infix}.bin"):
        if (folder / name).is_file():
            return folder / name
    raise BenchError(
        f"The unet/ folder {str(folder)!r} holds its weights in shards or another layout this loader "
        "does not read.",
        "Pass the UNet as one .safetensors state dict (CleanDIFT's release format).",
    )


def unet_state(source: UnetSource) -> tuple[dict[str, torch.Tensor], float | None]:
    """The UNet state dict (diffusers key names) of ``source`` and the learned timestep a "full"
    CleanDIFT checkpoint stores (None when it stores none)."""
    if source.kind == "hub":
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(source.repo, source.filename, revision=source.revision))
    elif source.kind == "folder":
        path = _folder_weights(Path(source.path))
    else:
        path = Path(source.path)
    state = read_state_dict(
        path,
        "The CleanDIFT UNet checkpoint",
        "Pass a CleanDIFT UNet as a .safetensors state dict (its release format) or a torch file of tensors.",
    )
    timestep = state.pop("timestep", None)
    if any(key.startswith(FULL_CHECKPOINT_PREFIX) for key in state):
        state = {
            k[len(FULL_CHECKPOINT_PREFIX) :]: v
            for k, v in state.items()
            if k.startswith(FULL_CHECKPOINT_PREFIX)
        }
    return state, (float(timestep) if timestep is not None else None)


def _load_unet_weights(
    unet: torch.nn.Module, state: dict[str, torch.Tensor], spec: CleanDiftVariant, what: str
) -> None:
    load_complete(
        unet,
        state,
        f"The UNet weights {what!r} for backbone {spec.id!r} ({spec.sd.id}'s UNet)",
        f"Pass a CleanDIFT UNet of {spec.sd.id} (a state dict with diffusers key names), or the "
        "backbone of its architecture.",
    )


def build_cleandift(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> CleanDiftFeatures:
    """A CleanDIFT backbone: the base SD pipeline with the CleanDIFT UNet weights loaded onto it."""
    spec = CLEANDIFT[info.id]
    unet, base = split_weights(weights, spec)
    source = locate_unet(unet, spec, download=True)
    if base == "random":
        sd = random_model(spec.sd, image_size=image_size, device=device, dtype=dtype)
    else:
        sd = load_model(spec.sd, info.id, weights=base, device=device, dtype=dtype, image_size=image_size)
    timestep: float | None = None
    if source.kind != "random" and not (source.kind == "folder" and Path(source.path).parent == Path(base)):
        state, timestep = unet_state(source)
        _load_unet_weights(sd.unet, state, spec, unet)  # copied into the UNet's device and dtype
    return CleanDiftFeatures(sd, CLEAN_TIMESTEP if timestep is None else timestep, weights)
