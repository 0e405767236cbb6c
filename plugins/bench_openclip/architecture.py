"""The open_clip backbones as data: architectures, pretrained tags and hub ids (no torch, no open_clip).

The numbers copy open_clip's model configurations (``open_clip.get_model_config``) and pretrained
configurations (``open_clip.get_pretrained_cfg``) so that registering and listing backbones never
imports open_clip; ``tests/test_openclip.py`` checks them against the installed open_clip. Mean,
std, resize filter and QuickGELU are read from open_clip when a model loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHECKPOINT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")  # open_clip's hub files
PROJECTED_EMBEDDING = "projected image embedding (encode_image)"  # what a CLIP tower's ``embed`` is


@dataclass(frozen=True)
class ClipViT:
    """A pretrained open_clip ViT image tower.

    Attributes:
        id: the backbone id.
        description: what it is, in words (``bench list`` adds the open_clip name and tag).
        model_name: open_clip architecture name (``ViT-B-32``).
        pretrained: open_clip pretrained tag (``openai``, ``laion2b_s34b_b88k``).
        hub_id: the Hugging Face repository open_clip downloads that tag from.
        depth, width, patch: blocks, token channels, patch size in pixels.
        embed_dim: dimension of the projected image embedding.
        image_size: input resolution in pixels.
        class_token: whether the tower's tokens start with a class token (SigLIP's have none).
        embed_what: what ``embed`` is, in words.
        licence: licence of the default weights.
        config: for a tiny test configuration (``hub_id`` ``"random"``), the open_clip model
            configuration it is built from (``model_name`` and ``pretrained`` then name the model
            it mimics, whose preprocessing it takes).
    """

    id: str
    description: str
    model_name: str
    pretrained: str
    hub_id: str
    depth: int
    width: int
    patch: int
    embed_dim: int
    image_size: int = 224
    class_token: bool = True
    embed_what: str = PROJECTED_EMBEDDING
    licence: str | None = None
    config: dict[str, Any] | None = None


CLIP_VITS = (
    ClipViT(
        id="clip-vit-b32",
        description="CLIP ViT-B/32, OpenAI weights",
        model_name="ViT-B-32",
        pretrained="openai",
        hub_id="timm/vit_base_patch32_clip_224.openai",
        depth=12,
        width=768,
        patch=32,
        embed_dim=512,
    ),
    ClipViT(
        id="clip-vit-b16",
        description="CLIP ViT-B/16, OpenAI weights",
        model_name="ViT-B-16",
        pretrained="openai",
        hub_id="timm/vit_base_patch16_clip_224.openai",
        depth=12,
        width=768,
        patch=16,
        embed_dim=512,
    ),
    ClipViT(
        id="clip-vit-l14",
        description="CLIP ViT-L/14, OpenAI weights",
        model_name="ViT-L-14",
        pretrained="openai",
        hub_id="timm/vit_large_patch14_clip_224.openai",
        depth=24,
        width=1024,
        patch=14,
        embed_dim=768,
    ),
    ClipViT(
        id="clip-vit-b16-laion2b",
        description="OpenCLIP ViT-B/16 trained on LAION-2B",
        model_name="ViT-B-16",
        pretrained="laion2b_s34b_b88k",
        hub_id="laion/CLIP-ViT-B-16-laion2B-s34B-b88K",
        depth=12,
        width=768,
        patch=16,
        embed_dim=512,
    ),
    ClipViT(
        id="clip-vit-h14-laion2b",
        description="OpenCLIP ViT-H/14 trained on LAION-2B",
        model_name="ViT-H-14",
        pretrained="laion2b_s32b_b79k",
        hub_id="laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
        depth=32,
        width=1280,
        patch=14,
        embed_dim=1024,
    ),
)

# The families of 2025 (SigLIP 2, PE-Core, MetaCLIP 2, EVA-CLIP 02). All but MetaCLIP 2 are timm
# towers inside open_clip (``TimmModel``); SigLIP 2's has no class token, and SigLIP 2's and PE's
# embedding is an attention-pooled token (``map``).
_ATTENTION_POOLED = "attention-pooled (MAP head) image embedding (encode_image)"
NEW_CLIP_VITS = (
    ClipViT(
        id="siglip2-vitb16",
        description="SigLIP 2 ViT-B/16, WebLI",
        model_name="ViT-B-16-SigLIP2",
        pretrained="webli",
        hub_id="timm/ViT-B-16-SigLIP2",
        depth=12,
        width=768,
        patch=16,
        embed_dim=768,
        class_token=False,
        embed_what=_ATTENTION_POOLED,
        licence="apache-2.0",
    ),
    ClipViT(
        id="siglip2-so400m14",
        description="SigLIP 2 SO400M/14, WebLI",
        model_name="ViT-SO400M-14-SigLIP2",
        pretrained="webli",
        hub_id="timm/ViT-SO400M-14-SigLIP2",
        depth=27,
        width=1152,
        patch=14,
        embed_dim=1152,
        class_token=False,
        embed_what=_ATTENTION_POOLED,
        licence="apache-2.0",
    ),
    ClipViT(
        id="pe-core-b16",
        description="Perception Encoder PE-Core B/16 (Meta)",
        model_name="PE-Core-B-16",
        pretrained="meta",
        hub_id="timm/PE-Core-B-16",
        depth=12,
        width=768,
        patch=16,
        embed_dim=1024,
        embed_what=_ATTENTION_POOLED,
        licence="apache-2.0",
    ),
    ClipViT(
        id="pe-core-l14",
        description="Perception Encoder PE-Core L/14 at 336 px (Meta)",
        model_name="PE-Core-L-14-336",
        pretrained="meta",
        hub_id="timm/PE-Core-L-14-336",
        depth=24,
        width=1024,
        patch=14,
        embed_dim=1024,
        image_size=336,
        embed_what=_ATTENTION_POOLED,
        licence="apache-2.0",
    ),
    ClipViT(
        id="metaclip2-h14",
        description="MetaCLIP 2 ViT-H/14, worldwide data (the smallest MetaCLIP 2 open_clip ships)",
        model_name="ViT-H-14-worldwide",
        pretrained="metaclip2_worldwide",
        hub_id="timm/vit_huge_patch14_clip_224.metaclip2_worldwide",
        depth=32,
        width=1280,
        patch=14,
        embed_dim=1024,
        licence="cc-by-nc-4.0",
    ),
    ClipViT(
        id="eva02-clip-b16",
        description="EVA-CLIP 02 ViT-B/16, Merged-2B",
        model_name="EVA02-B-16",
        pretrained="merged2b_s8b_b131k",
        hub_id="timm/eva02_base_patch16_clip_224.merged2b_s8b_b131k",
        depth=12,
        width=768,
        patch=16,
        embed_dim=512,
        licence="mit",
    ),
    ClipViT(
        id="eva02-clip-l14",
        description="EVA-CLIP 02 ViT-L/14, Merged-2B",
        model_name="EVA02-L-14",
        pretrained="merged2b_s4b_b131k",
        hub_id="timm/eva02_large_patch14_clip_224.merged2b_s4b_b131k",
        depth=24,
        width=1024,
        patch=14,
        embed_dim=768,
        licence="mit",
    ),
)

# Tiny timm trunks for the tiny open_clip towers (open_clip's TimmModel passes no size arguments to
# timm, so each is registered with timm under its own name by ``bench_openclip.tiny``): name ->
# (the timm architecture it shrinks, the sizes it overrides). LayerScale 1 where the model has it.
_TINY_SIZES = {"embed_dim": 64, "depth": 2, "num_heads": 2, "img_size": 64}
TINY_TIMM_TRUNKS: dict[str, tuple[str, dict[str, Any]]] = {
    "sbir_bench_tiny_siglip2": ("vit_base_patch16_siglip_224", _TINY_SIZES),
    "sbir_bench_tiny_pe_core": ("vit_pe_core_base_patch16_224", {**_TINY_SIZES, "init_values": 1.0}),
    "sbir_bench_tiny_eva02_clip": ("eva02_base_patch16_clip_224", _TINY_SIZES),
}
_TINY_TEXT = {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}


def _tiny_timm_tower(family: str, mimics: str, tag: str, trunk: str, pool: str, class_token: bool) -> ClipViT:
    config = {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 64, "timm_model_name": trunk, "timm_pool": pool, "timm_proj": None},
        "text_cfg": _TINY_TEXT,
    }
    return ClipViT(
        id=f"tiny-{family}",
        description=f"{mimics}-shaped open_clip timm tower in miniature (2 blocks), seeded random weights",
        model_name=mimics,
        pretrained=tag,
        hub_id="random",
        depth=2,
        width=64,
        patch=16,
        embed_dim=32,
        image_size=64,
        class_token=class_token,
        config=config,
    )


TINY_CLIP_VITS = (
    _tiny_timm_tower("siglip2", "ViT-B-16-SigLIP2", "webli", "sbir_bench_tiny_siglip2", "map", False),
    _tiny_timm_tower("pe-core", "PE-Core-B-16", "meta", "sbir_bench_tiny_pe_core", "map", True),
    _tiny_timm_tower(
        "eva02-clip", "EVA02-B-16", "merged2b_s8b_b131k", "sbir_bench_tiny_eva02_clip", "token", True
    ),
    ClipViT(
        id="tiny-metaclip2",
        description="MetaCLIP 2-shaped open_clip ViT (QuickGELU) in miniature (2 blocks), seeded random "
        "weights",
        model_name="ViT-H-14-worldwide",
        pretrained="metaclip2_worldwide",
        hub_id="random",
        depth=2,
        width=64,
        patch=8,
        embed_dim=32,
        image_size=64,
        config={
            "embed_dim": 32,
            "quick_gelu": True,
            "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
            "text_cfg": _TINY_TEXT,
        },
    ),
)

# CLIP's architecture in miniature for tests: 64 px input, 8 x 8 patches of 8 px, 2 blocks of width
# 64, a 32-d joint embedding; the text tower (unused: only the image tower is kept) is a 1-block
# transformer over CLIP's real vocabulary. A model config as open_clip's JSON files hold them.
TINY_CLIP_CONFIG: dict = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
