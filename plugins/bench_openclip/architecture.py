"""The open_clip backbones as data: architectures, pretrained tags and hub ids (no torch, no open_clip).

The numbers copy open_clip's model configurations (``open_clip.get_model_config``) and pretrained
configurations (``open_clip.get_pretrained_cfg``) so that registering and listing backbones never
imports open_clip; ``tests/test_openclip.py`` checks them against the installed open_clip. Mean,
std, resize filter and QuickGELU are read from open_clip when a model loads.
"""

from __future__ import annotations

from dataclasses import dataclass

CHECKPOINT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")  # open_clip's hub files


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

# CLIP's architecture in miniature for tests: 64 px input, 8 x 8 patches of 8 px, 2 blocks of width
# 64, a 32-d joint embedding; the text tower (unused: only the image tower is kept) is a 1-block
# transformer over CLIP's real vocabulary. A model config as open_clip's JSON files hold them.
TINY_CLIP_CONFIG: dict = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
