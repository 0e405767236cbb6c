"""Factories that build a :class:`StableDiffusionFeatures` (the lazy targets of the SD backbones)."""

from __future__ import annotations

import torch

from bench import BackboneInfo, BenchError
from bench_sd.architecture import SD15_SCHEDULE, TINY_TEXT_CONFIG, TINY_UNET_CONFIG, TINY_VAE_CONFIG
from bench_sd.features import StableDiffusionFeatures
from bench_sd.weights import locate_weights

MIN_TOKENIZER_SIZE = 1000


def _quiet_diffusers() -> None:
    """Silence diffusers' per-model notices (e.g. about dtype casts of modules it keeps in fp32)."""
    from diffusers.utils import logging

    logging.set_verbosity_error()


def build_tiny(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> StableDiffusionFeatures:
    """The ``sd-tiny`` model: SD's architecture in miniature, with weights drawn from ``seed 0``.

    ``weights`` must be ``"random"``; the random weights are identical on every machine and run
    (built inside a forked RNG, so the caller's random state is untouched).
    """
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from bench_sd.tokenizer import clip_tokenizer

    _quiet_diffusers()
    if weights != "random":
        raise BenchError(
            f"Backbone {info.id!r} only has random weights (got {weights!r}).", "Drop --weights."
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        vae = AutoencoderKL(**TINY_VAE_CONFIG)
        unet = UNet2DConditionModel(**TINY_UNET_CONFIG)
        text_encoder = CLIPTextModel(CLIPTextConfig(**TINY_TEXT_CONFIG))
    vae.decoder = None  # a feature extractor only encodes
    return StableDiffusionFeatures(
        vae=vae,
        unet=unet,
        text_encoder=text_encoder,
        tokenizer=clip_tokenizer(),
        alphas_cumprod=DDPMScheduler(**SD15_SCHEDULE).alphas_cumprod,
        image_size=image_size,
        weights="random (seed 0)",
        device=device,
        dtype=dtype,
    )


def build_pretrained(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> StableDiffusionFeatures:
    """A pretrained SD model from a hub id or a local diffusers directory.

    Only the VAE (its decoder is dropped), UNet, text encoder, tokenizer and scheduler config are
    loaded; no safety checker.
    """
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    _quiet_diffusers()
    source = locate_weights(weights, info.id)
    try:
        vae = AutoencoderKL.from_pretrained(source, subfolder="vae", torch_dtype=dtype)
        unet = UNet2DConditionModel.from_pretrained(source, subfolder="unet", torch_dtype=dtype)
        text_encoder = CLIPTextModel.from_pretrained(source, subfolder="text_encoder", torch_dtype=dtype)
        tokenizer = CLIPTokenizer.from_pretrained(source, subfolder="tokenizer")
        scheduler = DDPMScheduler.from_pretrained(source, subfolder="scheduler")
    except (OSError, ValueError) as exc:
        raise BenchError(
            f"Could not load the weights {weights!r} of backbone {info.id!r}: {exc}",
            f"Check that {source} holds a complete diffusers Stable Diffusion model "
            f"(unet, vae, text_encoder, tokenizer, scheduler).",
        ) from exc
    if len(tokenizer) <= MIN_TOKENIZER_SIZE:  # offline from_pretrained can return a 2-token stub
        raise BenchError(
            f"The tokenizer of {weights!r} loaded with only {len(tokenizer)} tokens (files missing).",
            "Download the tokenizer/ folder of the model as well.",
        )
    vae.decoder = None
    return StableDiffusionFeatures(
        vae=vae,
        unet=unet,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        alphas_cumprod=scheduler.alphas_cumprod,
        image_size=image_size,
        weights=weights,
        device=device,
        dtype=dtype,
    )
