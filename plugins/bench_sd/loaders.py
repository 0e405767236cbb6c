"""Factories that build a :class:`StableDiffusionFeatures` (the lazy targets of the SD backbones)."""

from __future__ import annotations

import torch

from bench import BackboneInfo, BenchError
from bench.weights import is_single_file, require_weight_files
from bench_sd.architecture import SD_SCHEDULE, TINY_TEXT_CONFIG, TINY_VAE_CONFIG, VARIANTS, SDVariant
from bench_sd.conditioning import ClipConditioner, DualClipConditioner
from bench_sd.features import StableDiffusionFeatures
from bench_sd.pipeline_parts import PipelineParts, load_folder, load_single_file
from bench_sd.weights import locate_single_file, locate_weights


def random_model(
    variant: SDVariant,
    *,
    image_size: int,
    device: torch.device,
    dtype: torch.dtype,
    seed: int = 0,
    vae_config: dict = TINY_VAE_CONFIG,
) -> StableDiffusionFeatures:
    """``variant``'s UNet with seeded random weights, a VAE built from ``vae_config`` (small by
    default) and small CLIP text encoders.

    The weights are identical on every machine and run: they are drawn inside a forked RNG, so the
    caller's random state is untouched. Used for ``sd-tiny`` and for shrunken real architectures
    in tests (see ``architecture.miniature``).
    """
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from bench_sd.tokenizer import clip_tokenizer

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        vae = AutoencoderKL(**{**vae_config, "scaling_factor": variant.vae_scaling})
        unet = UNet2DConditionModel(**variant.unet)
        configs = [
            CLIPTextConfig(**{**TINY_TEXT_CONFIG, "hidden_size": dim, "projection_dim": dim})
            for dim in variant.text_dims
        ]
        if variant.dual_text:
            encoders = (CLIPTextModel(configs[0]), CLIPTextModelWithProjection(configs[1]))
            conditioner = DualClipConditioner((clip_tokenizer(),) * 2, encoders, image_size)
        else:
            conditioner = ClipConditioner(clip_tokenizer(), CLIPTextModel(configs[0]))
    vae.decoder = None  # a feature extractor only encodes
    return StableDiffusionFeatures(
        vae=vae,
        unet=unet,
        conditioner=conditioner,
        alphas_cumprod=DDPMScheduler(**SD_SCHEDULE).alphas_cumprod,
        image_size=image_size,
        weights=f"random (seed {seed})",
        device=device,
        dtype=dtype,
    )


def build_tiny(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> StableDiffusionFeatures:
    """The ``sd-tiny`` model: its seeded random weights (``"random"``), or weights of its
    architecture from a diffusers directory or a single-file checkpoint."""
    if weights == "random":
        return random_model(VARIANTS["sd-tiny"], image_size=image_size, device=device, dtype=dtype)
    return build_pretrained(info, weights=weights, device=device, dtype=dtype, image_size=image_size)


def _conditioner(variant: SDVariant, parts: PipelineParts, image_size: int):
    if variant.dual_text:
        return DualClipConditioner(parts.tokenizers, parts.text_encoders, image_size)
    return ClipConditioner(parts.tokenizers[0], parts.text_encoders[0])


def load_parts(variant: SDVariant, weights: str, backbone_id: str, dtype: torch.dtype) -> PipelineParts:
    """The pipeline parts ``weights`` name for ``variant`` (see :mod:`bench_sd.weights` for the forms).

    Raises:
        BenchError: the weights are missing, incomplete or unreadable (the message names them).
    """
    if is_single_file(weights):
        source = locate_single_file(weights, backbone_id, variant.weights, variant.needed_parts)
        return load_single_file(source, variant, backbone_id, weights, dtype)
    source = locate_weights(weights, backbone_id, variant.needed_parts)
    require_weight_files(source, variant.needed_parts)
    try:
        return load_folder(source, variant, weights, dtype)
    except (OSError, ValueError) as exc:
        raise BenchError(
            f"Could not load the weights {weights!r} of backbone {backbone_id!r}: {exc}",
            f"Check that {source} holds a complete diffusers model ({', '.join(variant.needed_parts)}).",
        ) from exc


def load_model(
    variant: SDVariant,
    backbone_id: str,
    *,
    weights: str,
    device: torch.device,
    dtype: torch.dtype,
    image_size: int,
) -> StableDiffusionFeatures:
    """A pretrained SD model of ``variant``'s architecture from ``weights``."""
    parts = load_parts(variant, weights, backbone_id, dtype)
    parts.vae.decoder = None  # a feature extractor only encodes
    return StableDiffusionFeatures(
        vae=parts.vae,
        unet=parts.unet,
        conditioner=_conditioner(variant, parts, image_size),
        alphas_cumprod=parts.alphas_cumprod,
        image_size=image_size,
        weights=weights,
        device=device,
        dtype=dtype,
    )


def build_pretrained(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> StableDiffusionFeatures:
    """A pretrained SD model from a hub id (``org/name@revision`` pins one), a local diffusers
    directory (plain or variant files) or a single-file checkpoint."""
    return load_model(
        VARIANTS[info.id], info.id, weights=weights, device=device, dtype=dtype, image_size=image_size
    )
