"""Factories that build a :class:`DiffusionTransformerFeatures` (the lazy targets of the backbones)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from bench import BackboneInfo, BenchError
from bench.weights import (
    check_random,
    from_pretrained_part,
    is_single_file,
    missing_weight_files,
    part_variant,
)
from bench_dit.architecture import FLUX, TINY_VAE_CONFIG, VARIANTS, DiTVariant
from bench_dit.conditioning import FluxConditioner, SD3Conditioner
from bench_dit.features import DiffusionTransformerFeatures
from bench_dit.names import variant_of
from bench_dit.single_file import check_layout, load_transformer
from bench_dit.weights import locate_weights, single_file_parts

ARCHITECTURE_KEYS = (
    "num_layers",
    "num_single_layers",
    "num_attention_heads",
    "attention_head_dim",
    "guidance_embeds",
)
"""Transformer config entries that fix a backbone's taps and conditioning inputs."""


def _quiet() -> None:
    """Silence diffusers' and transformers' per-model notices."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()


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

    _quiet()
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
    ``backbone_id``'s architecture before any model loads.

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
    return file, source


def check_weights(weights: str, backbone_id: str) -> None:
    """Fail fast (before a run starts) when ``weights`` cannot be loaded or are another architecture."""
    if weights != "random":
        locate(weights, backbone_id)


def _tiny_of(variant: DiTVariant) -> str:
    return "flux-tiny" if variant.family == FLUX else "sd3-tiny"


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

    _quiet()
    variant, massive = variant_of(info.id)
    file, source = locate(weights, info.id)
    read_from_source = tuple(part for part in variant.needed_parts if file is None or part != "transformer")
    empty = missing_weight_files(Path(source), read_from_source)
    if empty:
        raise BenchError(
            f"The weights {weights!r} of backbone {info.id!r} hold no weight file in {', '.join(empty)} "
            "(neither plain nor a variant such as .fp16.safetensors).",
            "Download the complete model (`hf download ...`, or variant='fp16' files) into that folder.",
        )
    try:
        vae = load_part(AutoencoderKL, source, "vae", dtype)
        if file is None:
            transformer = load_part(transformer_class(variant), source, "transformer", dtype)
        else:
            transformer = load_transformer(file, source, variant, transformer_class(variant), dtype, info.id)
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
