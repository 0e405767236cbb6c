"""Built-in plugin: CLIP-style image towers through open_clip (OpenAI, LAION-2B, SigLIP 2, PE-Core,
MetaCLIP 2, EVA-CLIP 02), and any open_clip ViT by name (``open_clip:<arch>/<pretrained tag>``).

Registers lazily: nothing here imports torch or open_clip. A CLIP image embedding does not depend
on text, so these backbones take no text prompt (``accepts_text=False``).
"""

from __future__ import annotations

from bench import EMBED, BackboneFamily, BackboneInfo, hookimpl
from bench.weights import RANDOM, RANDOM_NOTE
from bench_openclip.architecture import CLIP_VITS, NEW_CLIP_VITS, TINY_CLIP_CONFIG, TINY_CLIP_VITS
from bench_openclip.registration import backbone_info, tower_layers


@hookimpl
def register_backbones(register) -> None:
    for spec in (*CLIP_VITS, *NEW_CLIP_VITS, *TINY_CLIP_VITS):
        register(backbone_info(spec))
    vision = TINY_CLIP_CONFIG["vision_cfg"]
    register(
        BackboneInfo(
            id="clip-tiny",
            target="bench_openclip.loaders:build_tiny",
            description="CLIP image tower in miniature (2 blocks), seeded random weights (no download)",
            layers=tower_layers(
                vision["layers"], vision["width"], vision["patch_size"], TINY_CLIP_CONFIG["embed_dim"]
            ),
            default_layer=EMBED,
            weights=RANDOM,
            image_size=vision["image_size"],
            learnable_prompts=("visual",),
            note=RANDOM_NOTE,
        )
    )


@hookimpl
def register_backbone_families(register) -> None:
    register(
        BackboneFamily(
            prefix="open_clip",
            resolve="bench_openclip.by_name:resolve",
            usage="open_clip:<arch>/<tag>",
            description="any open_clip ViT image tower (native, or a timm trunk: SigLIP, PE, EVA-CLIP) by "
            "architecture and pretrained tag; weights from the tag's hub repository or --weights FILE",
            example="open_clip:ViT-B-16-SigLIP2/webli",
        )
    )
