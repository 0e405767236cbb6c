"""Diffusion transformers as data (no torch): SD3 / SD3.5 and FLUX.1 configs, their tiny twins.

Each :class:`DiTVariant` holds the diffusers transformer config of a released model (the values of
its ``transformer/config.json``), which fixes its layer table without loading weights, plus what the
VAE and the text encoders need. Tests build these configs on torch's meta device to check every
tap's shape, and build the tiny configs (same classes, small widths) to run real forward passes.

Taps are block outputs, the image tokens laid out as a map (C, S/16, S/16) for an S-pixel input:
the VAE downsamples 8x and the transformer patchifies 2 x 2 latents into one token (SD3's
``patch_size`` 2, FLUX's packed latents), so every tap has stride 16.

* ``jb<i>``: image tokens after ``transformer.transformer_blocks[i]`` (SD3's joint MMDiT blocks;
  FLUX's double-stream blocks, which are joint blocks too).
* ``sb<i>`` (FLUX only): image tokens after ``transformer.single_transformer_blocks[i]`` (the text
  tokens of the single stream are split off).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import TapInfo

SD3 = "sd3"
FLUX = "flux"
VAE_DOWNSAMPLING = 8
TOKEN_LATENTS = 2  # latent cells per token side: SD3's patch_size 2, FLUX's 2 x 2 packing
STRIDE = VAE_DOWNSAMPLING * TOKEN_LATENTS
NUM_TIMESTEPS = 1000  # --t in 0..999; sigma = t / 1000 (bench.RectifiedFlowSchedule)
FLUX_DEV_GUIDANCE = 3.5  # FluxPipeline's default guidance_scale, fed to FLUX.1-dev's guidance embedding
CLIP_TOKENS = 77
JOINT_PREFIX = "jb"
SINGLE_PREFIX = "sb"

SD3_LICENCE = "Stability AI Community License (gated)"
SD35_LICENCE = "Stability AI Community License (gated)"
FLUX_DEV_LICENCE = "FLUX.1-dev Non-Commercial License (gated)"
FLUX_SCHNELL_LICENCE = "apache-2.0 (gated)"

# The real models' 16-channel VAEs (vae/config.json): latents = (mean - shift) * scaling.
_SD3_VAE = {"scaling_factor": 1.5305, "shift_factor": 0.0609}
_FLUX_VAE = {"scaling_factor": 0.3611, "shift_factor": 0.1159}

# The text encoders (text_encoder*/config.json), for the shape tests of the conditioning path.
CLIP_L_CONFIG: dict = {
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "projection_dim": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "bos_token_id": 0,
    "eos_token_id": 2,
}
CLIP_G_CONFIG: dict = {
    "vocab_size": 49408,
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "projection_dim": 1280,
    "num_hidden_layers": 32,
    "num_attention_heads": 20,
    "max_position_embeddings": 77,
    "hidden_act": "gelu",
    "bos_token_id": 0,
    "eos_token_id": 2,
}
T5_XXL_CONFIG: dict = {
    "vocab_size": 32128,
    "d_model": 4096,
    "d_ff": 10240,
    "d_kv": 64,
    "num_heads": 64,
    "num_layers": 24,
    "feed_forward_proj": "gated-gelu",
    "relative_attention_num_buckets": 32,
    "is_encoder_decoder": False,
    "use_cache": False,
}

_SD3_MEDIUM: dict = {
    "sample_size": 128,
    "patch_size": 2,
    "in_channels": 16,
    "num_layers": 24,
    "attention_head_dim": 64,
    "num_attention_heads": 24,
    "joint_attention_dim": 4096,
    "caption_projection_dim": 1536,
    "pooled_projection_dim": 2048,
    "out_channels": 16,
    "pos_embed_max_size": 192,
}
_SD35_MEDIUM: dict = {
    **_SD3_MEDIUM,
    "pos_embed_max_size": 384,
    "dual_attention_layers": tuple(range(13)),
    "qk_norm": "rms_norm",
}
_SD35_LARGE: dict = {
    **_SD3_MEDIUM,
    "num_layers": 38,
    "num_attention_heads": 38,
    "caption_projection_dim": 2432,
    "qk_norm": "rms_norm",
}
_FLUX_DEV: dict = {
    "patch_size": 1,
    "in_channels": 64,
    "num_layers": 19,
    "num_single_layers": 38,
    "attention_head_dim": 128,
    "num_attention_heads": 24,
    "joint_attention_dim": 4096,
    "pooled_projection_dim": 768,
    "guidance_embeds": True,
    "axes_dims_rope": (16, 56, 56),
}
_FLUX_SCHNELL: dict = {**_FLUX_DEV, "guidance_embeds": False}

# The tiny twins: the same classes at widths of 8-32, 8x-downsampling 16-channel VAE, and real
# (small) CLIP and T5 encoders over a byte-level vocabulary (transformers' ByT5Tokenizer: no files).
BYTE_VOCAB = 384  # ByT5Tokenizer: 3 specials + 256 bytes + 125 extra ids
TINY_VAE_CONFIG: dict = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 16,
    "block_out_channels": (8, 16, 16, 16),
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "use_quant_conv": False,
    "use_post_quant_conv": False,
}
_TINY_CLIP: dict = {
    "vocab_size": BYTE_VOCAB,
    "intermediate_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "max_position_embeddings": CLIP_TOKENS,
    "bos_token_id": 0,
    "eos_token_id": 1,  # ByT5's </s>: the pooled token is the first one (CLIP pools at EOS)
    "pad_token_id": 0,
}
TINY_CLIP_L: dict = {**_TINY_CLIP, "hidden_size": 8, "projection_dim": 8}
TINY_CLIP_G: dict = {**_TINY_CLIP, "hidden_size": 16, "projection_dim": 16}
TINY_T5: dict = {
    "vocab_size": BYTE_VOCAB,
    "d_model": 32,
    "d_ff": 64,
    "d_kv": 8,
    "num_heads": 4,
    "num_layers": 2,
    "feed_forward_proj": "gated-gelu",
    "relative_attention_num_buckets": 8,
    "is_encoder_decoder": False,
    "use_cache": False,
}
_TINY_SD3: dict = {  # SD3.5-medium's block structure (dual attention, RMS q/k norm) in miniature
    "sample_size": 8,
    "patch_size": 2,
    "in_channels": 16,
    "num_layers": 4,
    "attention_head_dim": 8,
    "num_attention_heads": 4,
    "joint_attention_dim": TINY_T5["d_model"],
    "caption_projection_dim": 32,
    "pooled_projection_dim": TINY_CLIP_L["projection_dim"] + TINY_CLIP_G["projection_dim"],
    "out_channels": 16,
    "pos_embed_max_size": 16,
    "dual_attention_layers": (0, 1),
    "qk_norm": "rms_norm",
}
_TINY_FLUX: dict = {  # FLUX.1-dev's structure (guidance embedding) in miniature
    "patch_size": 1,
    "in_channels": 64,
    "num_layers": 2,
    "num_single_layers": 2,
    "attention_head_dim": 8,
    "num_attention_heads": 4,
    "joint_attention_dim": TINY_T5["d_model"],
    "pooled_projection_dim": TINY_CLIP_L["hidden_size"],
    "guidance_embeds": True,
    "axes_dims_rope": (2, 2, 4),
}


@dataclass(frozen=True)
class DiTVariant:
    """One diffusion transformer.

    Attributes:
        id: backbone id.
        family: ``"sd3"`` (``SD3Transformer2DModel``) or ``"flux"`` (``FluxTransformer2DModel``).
        weights: default weights (hub id), or ``"random"`` for a tiny twin.
        description: one line for ``bench list``.
        image_size: the resolution it was trained at, in pixels.
        transformer: the diffusers transformer config (real shapes).
        vae: the VAE's ``scaling_factor`` and ``shift_factor``.
        t5_tokens: T5 sequence length of the text context (the pipelines' ``max_sequence_length``).
        licence: licence of the default weights.
        text_configs: for a tiny twin, its text encoders' configs (CLIP-L, [CLIP-G,] T5).
    """

    id: str
    family: str
    weights: str
    description: str
    image_size: int
    transformer: dict = field(repr=False)
    vae: dict = field(repr=False)
    t5_tokens: int
    licence: str | None
    text_configs: tuple[dict, ...] = field(default=(), repr=False)

    @property
    def width(self) -> int:
        """Channels of every tap (the transformer's inner dim: heads x head dim)."""
        return self.transformer["num_attention_heads"] * self.transformer["attention_head_dim"]

    @property
    def joint_blocks(self) -> int:
        return self.transformer["num_layers"]

    @property
    def single_blocks(self) -> int:
        return self.transformer.get("num_single_layers", 0) if self.family == FLUX else 0

    @property
    def guidance(self) -> float | None:
        """The distilled guidance FLUX.1-dev is conditioned on (None: the model has no guidance input)."""
        return FLUX_DEV_GUIDANCE if self.transformer.get("guidance_embeds") else None

    @property
    def context_tokens(self) -> int:
        """Length of the text context: SD3 77 CLIP + T5 tokens; FLUX T5 tokens only."""
        return self.t5_tokens + (CLIP_TOKENS if self.family == SD3 else 0)

    @property
    def needed_parts(self) -> tuple[str, ...]:
        """Subfolders of a diffusers directory that feature extraction reads."""
        if self.family == SD3:
            encoders = ("text_encoder", "text_encoder_2", "text_encoder_3")
            tokenizers = ("tokenizer", "tokenizer_2", "tokenizer_3")
        else:
            encoders, tokenizers = ("text_encoder", "text_encoder_2"), ("tokenizer", "tokenizer_2")
        return ("transformer", "vae", *encoders, *tokenizers)

    @property
    def layers(self) -> tuple[TapInfo, ...]:
        return dit_layers(self.joint_blocks, self.single_blocks, self.width)

    @property
    def default_layer(self) -> str:
        """The middle block of the whole stack (joint then single blocks)."""
        middle = (self.joint_blocks + self.single_blocks) // 2
        return self.layers[middle].name

    @property
    def max_image_size(self) -> int | None:
        """SD3's learned positional embedding covers ``pos_embed_max_size`` tokens a side; FLUX's
        rotary embedding has no limit (None)."""
        size = self.transformer.get("pos_embed_max_size")
        return None if self.family == FLUX or size is None else size * STRIDE


def dit_layers(joint: int, single: int, width: int) -> tuple[TapInfo, ...]:
    """The taps of a diffusion transformer in forward order: ``jb0..`` then ``sb0..``, stride 16.

    >>> [(layer.name, layer.channels, layer.stride) for layer in dit_layers(2, 1, 64)]
    [('jb0', 64, 16), ('jb1', 64, 16), ('sb0', 64, 16)]
    """
    kind = "joint" if not single else "double-stream (joint)"
    joints = tuple(
        TapInfo(f"{JOINT_PREFIX}{i}", width, STRIDE, f"image tokens after transformer_blocks[{i}] ({kind})")
        for i in range(joint)
    )
    singles = tuple(
        TapInfo(
            f"{SINGLE_PREFIX}{i}",
            width,
            STRIDE,
            f"image tokens after single_transformer_blocks[{i}] (single-stream, text tokens split off)",
        )
        for i in range(single)
    )
    return joints + singles


def block_of(tap: str) -> tuple[str, int]:
    """``"jb3"`` -> ``("transformer_blocks", 3)``, ``"sb0"`` -> ``("single_transformer_blocks", 0)``."""
    if tap.startswith(SINGLE_PREFIX):
        return "single_transformer_blocks", int(tap[len(SINGLE_PREFIX) :])
    return "transformer_blocks", int(tap[len(JOINT_PREFIX) :])


VARIANTS: dict[str, DiTVariant] = {
    v.id: v
    for v in (
        DiTVariant(
            "sd3-medium",
            SD3,
            "stabilityai/stable-diffusion-3-medium-diffusers",
            "Stable Diffusion 3 Medium (MMDiT, 24 joint blocks; CLIP-L/G + T5 text)",
            1024,
            _SD3_MEDIUM,
            _SD3_VAE,
            256,
            SD3_LICENCE,
        ),
        DiTVariant(
            "sd35-medium",
            SD3,
            "stabilityai/stable-diffusion-3.5-medium",
            "Stable Diffusion 3.5 Medium (MMDiT-X, 24 joint blocks; CLIP-L/G + T5 text)",
            1024,
            _SD35_MEDIUM,
            _SD3_VAE,
            256,
            SD35_LICENCE,
        ),
        DiTVariant(
            "sd35-large",
            SD3,
            "stabilityai/stable-diffusion-3.5-large",
            "Stable Diffusion 3.5 Large (MMDiT, 38 joint blocks; CLIP-L/G + T5 text)",
            1024,
            _SD35_LARGE,
            _SD3_VAE,
            256,
            SD35_LICENCE,
        ),
        DiTVariant(
            "flux1-dev",
            FLUX,
            "black-forest-labs/FLUX.1-dev",
            "FLUX.1-dev (19 double + 38 single blocks, guidance-distilled; CLIP-L + T5 text)",
            1024,
            _FLUX_DEV,
            _FLUX_VAE,
            512,
            FLUX_DEV_LICENCE,
        ),
        DiTVariant(
            "flux1-schnell",
            FLUX,
            "black-forest-labs/FLUX.1-schnell",
            "FLUX.1-schnell (19 double + 38 single blocks, timestep-distilled; CLIP-L + T5 text)",
            1024,
            _FLUX_SCHNELL,
            _FLUX_VAE,
            256,
            FLUX_SCHNELL_LICENCE,
        ),
        DiTVariant(
            "sd3-tiny",
            SD3,
            "random",
            "SD3.5's MMDiT in miniature (4 joint blocks, tiny CLIP-L/G + T5), seeded random weights",
            64,
            _TINY_SD3,
            _SD3_VAE,
            16,
            None,
            (TINY_CLIP_L, TINY_CLIP_G, TINY_T5),
        ),
        DiTVariant(
            "flux-tiny",
            FLUX,
            "random",
            "FLUX.1-dev in miniature (2 double + 2 single blocks, tiny CLIP-L + T5), seeded random weights",
            64,
            _TINY_FLUX,
            _FLUX_VAE,
            16,
            None,
            (TINY_CLIP_L, TINY_T5),
        ),
    )
}
