"""The transformers vision encoders the ``hf:`` family reads, as data (no torch, no transformers).

A repository's ``config.json`` names its ``model_type``; each supported type maps to the
transformers class that loads its image tower, whether its tokens start with a class token, and
where its final embedding is. Register tokens are counted from the config
(``num_register_tokens``).
"""

from __future__ import annotations

from dataclasses import dataclass

CONFIG_FILE = "config.json"
PREPROCESSOR_FILE = "preprocessor_config.json"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


@dataclass(frozen=True)
class EncoderKind:
    """How to load and read one ``model_type``.

    Attributes:
        model_class: the transformers class (``transformers.<name>``) loading the image tower.
        class_token: whether the tokens start with a class token.
        embed_output: the attribute of the model's output that is ``embed``.
        embed_what: what ``embed`` is, in words.
        vision_config: whether the image tower's settings sit under ``vision_config`` in the
            repository's config (a full CLIP or SigLIP model) rather than at its top level.
        interpolates: whether the forward pass needs ``interpolate_pos_encoding=True`` to run at
            other sizes than the config's (learned absolute position embeddings).
        mean, std: the model family's pixel statistics, used when a repository has no
            preprocessor configuration.
    """

    model_class: str
    class_token: bool
    embed_output: str
    embed_what: str
    vision_config: bool = False
    interpolates: bool = False
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)


_NORMED_CLS = "final normed class token (pooler_output)"
_CLIP_STATS = {"mean": (0.48145466, 0.4578275, 0.40821073), "std": (0.26862954, 0.26130258, 0.27577711)}
_HALF = {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
_SIGLIP = EncoderKind(
    "SiglipVisionModel",
    False,
    "pooler_output",
    "attention-pooled (MAP head) embedding (pooler_output)",
    interpolates=True,
    **_HALF,
)

KINDS: dict[str, EncoderKind] = {
    "dinov2": EncoderKind("Dinov2Model", True, "pooler_output", _NORMED_CLS),
    "dinov2_with_registers": EncoderKind("Dinov2WithRegistersModel", True, "pooler_output", _NORMED_CLS),
    "dinov3_vit": EncoderKind("DINOv3ViTModel", True, "pooler_output", _NORMED_CLS),
    "siglip": EncoderKind(**{**_SIGLIP.__dict__, "vision_config": True}),
    "siglip_vision_model": _SIGLIP,
    "clip": EncoderKind(
        "CLIPVisionModelWithProjection",
        True,
        "image_embeds",
        "projected image embedding (image_embeds)",
        vision_config=True,
        interpolates=True,
        **_CLIP_STATS,
    ),
    "clip_vision_model": EncoderKind(
        "CLIPVisionModel",
        True,
        "pooler_output",
        "final normed class token (pooler_output)",
        interpolates=True,
        **_CLIP_STATS,
    ),
}


@dataclass(frozen=True)
class HFEncoder:
    """What ``hf:<repo id or folder>`` is: read from its config and preprocessor configuration.

    Attributes:
        id: the backbone id (``hf:`` and the name).
        source: the repository id or local folder (the default weights).
        kind: its :class:`EncoderKind`.
        model_type: the config's ``model_type``.
        depth, width, patch: blocks, token channels, patch size in pixels.
        registers: register tokens between the class token and the patches.
        embed_dim: channels of ``embed``.
        image_size: the input resolution its preprocessing uses.
        mean, std, interpolation: its pixel normalisation and resize filter.
    """

    id: str
    source: str
    kind: EncoderKind
    model_type: str
    depth: int
    width: int
    patch: int
    registers: int
    embed_dim: int
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str
