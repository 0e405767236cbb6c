"""Stable Diffusion architectures as data: tiny configs and the layer table of a UNet (no torch)."""

from __future__ import annotations

from bench import LayerInfo

# A Stable-Diffusion-shaped model small enough for tests and the default run: a 4-level VAE
# (8x downsampling, like SD), a 3-level UNet (so stopping after up_blocks[1] skips real work) and a
# 2-layer CLIP text encoder over the real CLIP vocabulary.
TINY_VAE_CONFIG: dict = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "block_out_channels": (32, 32, 64, 64),
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "layers_per_block": 1,
    "norm_num_groups": 32,
    "scaling_factor": 0.18215,
}
TINY_UNET_CONFIG: dict = {
    "sample_size": 16,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": (32, 64, 64),
    "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "layers_per_block": 1,
    "cross_attention_dim": 32,
    "attention_head_dim": 8,
    "norm_num_groups": 32,
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
# SD v1.x training noise schedule (DDPM, 1000 steps).
SD15_SCHEDULE: dict = {
    "num_train_timesteps": 1000,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "beta_end": 0.012,
}

SD15_UNET_CHANNELS = (320, 640, 1280, 1280)


def unet_layers(block_out_channels: tuple[int, ...], vae_downsampling: int = 8) -> tuple[LayerInfo, ...]:
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
        layers.append(LayerInfo(f"down{i}", channels, stride, f"output of unet.down_blocks[{i}]"))
    layers.append(LayerInfo("mid", block_out_channels[-1], deepest, "output of unet.mid_block"))
    for i, channels in enumerate(reversed(block_out_channels)):
        stride = vae_downsampling * 2 ** max(levels - 2 - i, 0)
        level = f" (paper level {i + 1})"
        layers.append(LayerInfo(f"up{i}", channels, stride, f"output of unet.up_blocks[{i}]{level}"))
    return tuple(layers)
