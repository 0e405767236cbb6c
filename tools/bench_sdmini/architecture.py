"""The three networks of sd-mini as diffusers / transformers configs, and the noise schedule.

Block structure is Stable Diffusion 1.5's: a 4-level ``AutoencoderKL`` (8x downsampling, 4 latent
channels), a ``UNet2DConditionModel`` with down blocks CrossAttnDownBlock2D x 3 + DownBlock2D and up
blocks UpBlock2D + CrossAttnUpBlock2D x 3, and a causal ``CLIPTextModel`` over CLIP's 49,408-token
vocabulary whose last hidden state (77 tokens) is the cross-attention context. Only widths and
depths are small (:class:`~bench_sdmini.recipe.ModelSizes`).
"""

from __future__ import annotations

import torch
from bench_sd.tokenizer import CLIP_VOCAB_SIZE, CONTEXT_LENGTH
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from bench_sdmini.recipe import ModelSizes

LATENT_CHANNELS = 4
VAE_DOWNSAMPLING = 8
_BOS, _EOS = CLIP_VOCAB_SIZE - 2, CLIP_VOCAB_SIZE - 1

# SD's training schedule (1000 DDPM steps, scaled-linear betas) and its sampling conventions
# (no clipping of the predicted latent; "leading" timesteps offset by one).
SCHEDULE: dict = {
    "num_train_timesteps": 1000,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "prediction_type": "epsilon",
    "clip_sample": False,
    "steps_offset": 1,
}


def vae_config(sizes: ModelSizes, scaling_factor: float = 1.0) -> dict:
    """``AutoencoderKL`` config: RGB in [-1, 1] of S x S px <-> (4, S/8, S/8) latents."""
    return {
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": LATENT_CHANNELS,
        "block_out_channels": sizes.vae_channels,
        "down_block_types": ("DownEncoderBlock2D",) * 4,
        "up_block_types": ("UpDecoderBlock2D",) * 4,
        "layers_per_block": 1,
        "norm_num_groups": sizes.vae_groups,
        "scaling_factor": scaling_factor,
    }


def unet_config(sizes: ModelSizes, latent_size: int) -> dict:
    """``UNet2DConditionModel`` config for (4, latent_size, latent_size) latents."""
    return {
        "sample_size": latent_size,
        "in_channels": LATENT_CHANNELS,
        "out_channels": LATENT_CHANNELS,
        "block_out_channels": sizes.unet_channels,
        "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        "layers_per_block": 1,
        "cross_attention_dim": sizes.text_width,
        "attention_head_dim": sizes.unet_heads,  # diffusers' name for the number of heads (as SD 1.5's 8)
        "norm_num_groups": sizes.unet_groups,
    }


def text_config(sizes: ModelSizes) -> CLIPTextConfig:
    """CLIP text encoder config: real vocabulary and 77-token context, padding with end-of-text."""
    return CLIPTextConfig(
        vocab_size=CLIP_VOCAB_SIZE,
        hidden_size=sizes.text_width,
        intermediate_size=4 * sizes.text_width,
        num_hidden_layers=sizes.text_layers,
        num_attention_heads=sizes.text_heads,
        max_position_embeddings=CONTEXT_LENGTH,
        projection_dim=sizes.text_width,
        bos_token_id=_BOS,
        eos_token_id=_EOS,
        pad_token_id=_EOS,
    )


def build_vae(sizes: ModelSizes, seed: int) -> AutoencoderKL:
    """A freshly initialised autoencoder (weights drawn from ``seed`` in a forked RNG)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AutoencoderKL(**vae_config(sizes))


def build_denoiser(
    sizes: ModelSizes, latent_size: int, seed: int
) -> tuple[UNet2DConditionModel, CLIPTextModel]:
    """A freshly initialised UNet and text encoder (weights drawn from ``seed`` in a forked RNG)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return UNet2DConditionModel(**unet_config(sizes, latent_size)), CLIPTextModel(text_config(sizes))


def noise_schedule() -> DDPMScheduler:
    """SD's DDPM schedule (:data:`SCHEDULE`)."""
    return DDPMScheduler(**SCHEDULE)


def parameter_count(module: torch.nn.Module) -> int:
    """Number of scalar parameters of ``module``."""
    return sum(parameter.numel() for parameter in module.parameters())
