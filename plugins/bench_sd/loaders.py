"""Factories that build a :class:`StableDiffusionFeatures` (the lazy targets of the SD backbones)."""

from __future__ import annotations

import torch

from bench import BackboneInfo, BenchError
from bench_sd.architecture import SD_SCHEDULE, TINY_TEXT_CONFIG, TINY_VAE_CONFIG, VARIANTS, SDVariant
from bench_sd.conditioning import ClipConditioner, DualClipConditioner
from bench_sd.features import StableDiffusionFeatures
from bench_sd.weights import locate_weights

MIN_TOKENIZER_SIZE = 1000


def _quiet_diffusers() -> None:
    """Silence diffusers' per-model notices (e.g. about dtype casts of modules it keeps in fp32)."""
    from diffusers.utils import logging

    logging.set_verbosity_error()


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

    _quiet_diffusers()
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
    """The ``sd-tiny`` model (``weights`` must be ``"random"``)."""
    if weights != "random":
        raise BenchError(
            f"Backbone {info.id!r} only has random weights (got {weights!r}).", "Drop --weights."
        )
    return random_model(VARIANTS["sd-tiny"], image_size=image_size, device=device, dtype=dtype)


def _checked_tokenizer(source: str, subfolder: str, weights: str):
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(source, subfolder=subfolder)
    if len(tokenizer) <= MIN_TOKENIZER_SIZE:  # offline from_pretrained can return a 2-token stub
        raise BenchError(
            f"The {subfolder} of {weights!r} loaded with only {len(tokenizer)} tokens (files missing).",
            f"Download the {subfolder}/ folder of the model as well.",
        )
    return tokenizer


def _load_conditioner(variant: SDVariant, source: str, weights: str, dtype: torch.dtype, image_size: int):
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    first = CLIPTextModel.from_pretrained(source, subfolder="text_encoder", torch_dtype=dtype)
    tokenizer = _checked_tokenizer(source, "tokenizer", weights)
    if not variant.dual_text:
        return ClipConditioner(tokenizer, first)
    second = CLIPTextModelWithProjection.from_pretrained(
        source, subfolder="text_encoder_2", torch_dtype=dtype
    )
    tokenizers = (tokenizer, _checked_tokenizer(source, "tokenizer_2", weights))
    return DualClipConditioner(tokenizers, (first, second), image_size)


def build_pretrained(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> StableDiffusionFeatures:
    """A pretrained SD model from a hub id or a local diffusers directory.

    Only the VAE (its decoder is dropped after loading), the UNet, the text encoder(s), the
    tokenizer(s) and the scheduler config are read; no safety checker, no feature extractor.
    """
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel

    _quiet_diffusers()
    variant = VARIANTS[info.id]
    source = locate_weights(weights, info.id, variant.needed_parts)
    try:
        vae = AutoencoderKL.from_pretrained(source, subfolder="vae", torch_dtype=dtype)
        unet = UNet2DConditionModel.from_pretrained(source, subfolder="unet", torch_dtype=dtype)
        conditioner = _load_conditioner(variant, source, weights, dtype, image_size)
        scheduler = DDPMScheduler.from_pretrained(source, subfolder="scheduler")
    except (OSError, ValueError) as exc:
        raise BenchError(
            f"Could not load the weights {weights!r} of backbone {info.id!r}: {exc}",
            f"Check that {source} holds a complete diffusers model ({', '.join(variant.needed_parts)}).",
        ) from exc
    vae.decoder = None
    return StableDiffusionFeatures(
        vae=vae,
        unet=unet,
        conditioner=conditioner,
        alphas_cumprod=scheduler.alphas_cumprod,
        image_size=image_size,
        weights=weights,
        device=device,
        dtype=dtype,
    )
