"""open_clip image towers as feature extractors, read with open_clip's ``forward_intermediates``.

Two kinds of tower answer it: open_clip's own ``VisionTransformer`` (always a class token) and
``TimmModel`` (a timm trunk: SigLIP has no class token, PE and EVA-02 have one). Extra (prefix)
tokens are asked for only when the tower has some: a timm ``Eva`` trunk without them fails on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from bench import PixelNormalization, Tokens, VisionTransformerEncoder


def normalization_of(preprocess: Mapping[str, Any]) -> PixelNormalization:
    """The mean, std and resize filter of an open_clip preprocessing configuration."""
    return PixelNormalization(
        tuple(preprocess["mean"]), tuple(preprocess["std"]), preprocess["interpolation"]
    )


def tower_blocks(visual: torch.nn.Module) -> Any:
    """The transformer blocks of an open_clip image tower, or None when it is no ViT (a ResNet)."""
    if hasattr(visual, "trunk"):
        return getattr(visual.trunk, "blocks", None)
    transformer = getattr(visual, "transformer", None)
    return getattr(transformer, "resblocks", None)


def tower_prefix_tokens(visual: torch.nn.Module) -> int:
    """How many class and register tokens precede the patch tokens."""
    return visual.trunk.num_prefix_tokens if hasattr(visual, "trunk") else 1


def tower_has_class_token(visual: torch.nn.Module) -> bool:
    if hasattr(visual, "trunk"):
        return getattr(visual.trunk, "cls_token", None) is not None
    return True  # open_clip's VisionTransformer always prepends class_embedding


class OpenClipViTFeatures(VisionTransformerEncoder):
    """An open_clip image tower (a CLIP model's ``visual``); ``embed`` is the projected (or
    attention-pooled) image embedding, ``CLIP.encode_image`` before its optional L2 normalisation.
    Patch maps drop every prefix token; ``block<k>.cls`` is the first one when it is a class token."""

    def forward_tokens(self, pixels: torch.Tensor, blocks: list[int], embed: bool) -> Tokens:
        prefixed = tower_prefix_tokens(self.model) > 0
        out = self.model.forward_intermediates(
            pixels,
            indices=blocks,
            stop_early=True,
            intermediates_only=not embed,
            output_fmt="NCHW",
            output_extra_tokens=prefixed,
        )
        has_cls = prefixed and tower_has_class_token(self.model)
        cls = [prefix[:, 0] for prefix in out["image_intermediates_prefix"]] if has_cls else []
        return Tokens(out["image_intermediates"], cls, out.get("image_features"))
