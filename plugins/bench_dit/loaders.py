"""Factories that build a :class:`DiffusionTransformerFeatures` (the lazy targets of the backbones)."""

from __future__ import annotations

import torch

from bench import BackboneInfo, BenchError
from bench.weights import check_random, from_pretrained_part, part_variant
from bench_dit.architecture import FLUX, TINY_VAE_CONFIG, DiTVariant
from bench_dit.conditioning import FluxConditioner, SD3Conditioner
from bench_dit.features import DiffusionTransformerFeatures
from bench_dit.names import variant_of
from bench_dit.single_file import load_transformer
from bench_dit.weights import locate


def transformer_class(variant: DiTVariant) -> type:
    """``FluxTransformer2DModel`` or ``SD3Transformer2DModel``."""
    from diffusers import FluxTransformer2DModel, SD3Transformer2DModel

    return FluxTransformer2DModel if variant.family == FLUX else SD3Transformer2DModel


def tiny_text_encoders(variant: DiTVariant) -> tuple[list, list[torch.nn.Module]]:
    """Random CLIP and T5 encoders from ``variant.text_configs`` with byte-level tokenizers
    (``ByT5Tokenizer`` needs no vocabulary file): SD3 CLIP-L, CLIP-G (with projections) and T5;
    FLUX CLIP-L (pooled output) and T5. Same classes as the real encoders."""
    from transformers import (
        ByT5Tokenizer,
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        T5Config,
        T5EncoderModel,
    )

    *clips, t5 = variant.text_configs
    clip_class = CLIPTextModel if variant.family == FLUX else CLIPTextModelWithProjection
    encoders = [clip_class(CLIPTextConfig(**config)) for config in clips] + [T5EncoderModel(T5Config(**t5))]
    return [ByT5Tokenizer()] * len(encoders), encoders


def conditioner(variant: DiTVariant, tokenizers: list, encoders: list[torch.nn.Module]):
    """The family's conditioner over the given tokenizers and encoders."""
    kind = FluxConditioner if variant.family == FLUX else SD3Conditioner
    return kind(tokenizers, encoders, variant.t5_tokens)


def random_model(
    variant: DiTVariant,
    *,
    image_size: int,
    device: torch.device,
    dtype: torch.dtype,
    seed: int = 0,
    massive=None,
) -> DiffusionTransformerFeatures:
    """``variant``'s transformer, a tiny 16-channel VAE and tiny text encoders, seeded random weights.

    Identical on every machine: drawn inside a forked RNG, so the caller's random state is untouched.
    """
    from diffusers import AutoencoderKL

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        vae = AutoencoderKL(**TINY_VAE_CONFIG, **variant.vae)
        transformer = transformer_class(variant)(**variant.transformer)
        tokenizers, encoders = tiny_text_encoders(variant)
    vae.decoder = None  # a feature extractor only encodes
    return DiffusionTransformerFeatures(
        variant=variant,
        vae=vae,
        transformer=transformer,
        conditioner=conditioner(variant, tokenizers, encoders),
        image_size=image_size,
        weights=f"random (seed {seed})",
        device=device,
        dtype=dtype,
        massive=massive,
    )


def build_tiny(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> DiffusionTransformerFeatures:
    """A tiny twin (``sd3-tiny``, ``flux-tiny``; ``weights`` must be ``"random"``)."""
    check_random(weights, info.id)
    variant, massive = variant_of(info.id)
    return random_model(variant, image_size=image_size, device=device, dtype=dtype, massive=massive)


def load_part(model_class: type, source: str, part: str, dtype: torch.dtype) -> torch.nn.Module:
    """``source/part`` (a folder or hub id) as ``model_class``, in the variant its files carry.

    Raises:
        BenchError: its files leave out tensors of the model, or hold others (named).
    """
    variant = part_variant(source, part)
    return from_pretrained_part(model_class, source, part, source, torch_dtype=dtype, variant=variant)


def _load_text(variant: DiTVariant, source: str, dtype: torch.dtype):
    from transformers import AutoTokenizer, CLIPTextModel, CLIPTextModelWithProjection, T5EncoderModel

    if variant.family == FLUX:
        kinds = (CLIPTextModel, T5EncoderModel)
        encoder_parts, tokenizer_parts = ("text_encoder", "text_encoder_2"), ("tokenizer", "tokenizer_2")
    else:
        kinds = (CLIPTextModelWithProjection, CLIPTextModelWithProjection, T5EncoderModel)
        encoder_parts = ("text_encoder", "text_encoder_2", "text_encoder_3")
        tokenizer_parts = ("tokenizer", "tokenizer_2", "tokenizer_3")
    encoders = [load_part(kind, source, part, dtype) for kind, part in zip(kinds, encoder_parts, strict=True)]
    tokenizers = [AutoTokenizer.from_pretrained(source, subfolder=part) for part in tokenizer_parts]
    return conditioner(variant, tokenizers, encoders)


def build_pretrained(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> DiffusionTransformerFeatures:
    """A pretrained SD3 / FLUX model from a hub id, a local diffusers folder, or a single-file
    transformer checkpoint with the other parts from a folder (``FILE+DIR``).

    Reads the VAE (its decoder is dropped), the transformer, the text encoders and tokenizers; the
    empty prompt's conditioning is computed on first use and kept for the model's lifetime.
    """
    from diffusers import AutoencoderKL

    variant, massive = variant_of(info.id)
    file, source = locate(weights, info.id)
    try:
        vae = load_part(AutoencoderKL, source, "vae", dtype)
        if file is None:
            transformer = load_part(transformer_class(variant), source, "transformer", dtype)
        else:
            transformer = load_transformer(file, source, variant, transformer_class(variant), info.id)
        text = _load_text(variant, source, dtype)
    except (OSError, ValueError) as exc:
        raise BenchError(
            f"Could not load the weights {weights!r} of backbone {info.id!r}: {exc}",
            f"Check that {source} holds a complete diffusers model ({', '.join(variant.needed_parts)}).",
        ) from exc
    vae.decoder = None
    return DiffusionTransformerFeatures(
        variant=variant,
        vae=vae,
        transformer=transformer,
        conditioner=text,
        image_size=image_size,
        weights=weights,
        device=device,
        dtype=dtype,
        massive=massive,
    )
