"""Built-in plugin: CLIP image towers through open_clip (OpenAI and LAION-2B weights).

Registers lazily: nothing here imports torch or open_clip. A CLIP image embedding does not depend
on text, so these backbones take no text prompt (``accepts_text=False``).
"""

from __future__ import annotations

from functools import partial

from bench import (
    EMBED,
    RANDOM,
    RANDOM_NOTE,
    BackboneInfo,
    LayerInfo,
    check_checkpoint,
    hookimpl,
    local_checkpoint,
    vit_layers,
)
from bench_openclip.architecture import CHECKPOINT_FILES, CLIP_VITS, TINY_CLIP_CONFIG


def _layers(depth: int, width: int, patch: int, embed_dim: int) -> tuple[LayerInfo, ...]:
    embed = LayerInfo(EMBED, embed_dim, 0, "projected image embedding (encode_image)")
    return vit_layers(depth, width, patch, embed)


@hookimpl
def register_backbones(register) -> None:
    for spec in CLIP_VITS:
        register(
            BackboneInfo(
                id=spec.id,
                target="bench_openclip.loaders:build_pretrained",
                description=f"{spec.description} (open_clip {spec.model_name} {spec.pretrained})",
                layers=_layers(spec.depth, spec.width, spec.patch, spec.embed_dim),
                default_layer=EMBED,
                weights=spec.hub_id,
                image_size=spec.image_size,
                learnable_prompts=("visual",),
                weights_check=partial(check_checkpoint, backbone_id=spec.id, filenames=CHECKPOINT_FILES),
                weights_location=partial(local_checkpoint, filenames=CHECKPOINT_FILES),
            )
        )
    vision = TINY_CLIP_CONFIG["vision_cfg"]
    register(
        BackboneInfo(
            id="clip-tiny",
            target="bench_openclip.loaders:build_tiny",
            description="CLIP image tower in miniature (2 blocks), seeded random weights (no download)",
            layers=_layers(
                vision["layers"], vision["width"], vision["patch_size"], TINY_CLIP_CONFIG["embed_dim"]
            ),
            default_layer=EMBED,
            weights=RANDOM,
            image_size=vision["image_size"],
            learnable_prompts=("visual",),
            note=RANDOM_NOTE,
        )
    )
