"""open_clip image towers as feature extractors, read with open_clip's ``forward_intermediates``."""

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


class OpenClipViTFeatures(VisionTransformerEncoder):
    """An open_clip ``VisionTransformer`` (a CLIP model's ``visual`` tower); ``embed`` is the projected
    image embedding, ``CLIP.encode_image`` before its optional L2 normalisation."""

    def forward_tokens(self, pixels: torch.Tensor, blocks: list[int], embed: bool) -> Tokens:
        out = self.model.forward_intermediates(
            pixels,
            indices=blocks,
            stop_early=True,
            intermediates_only=not embed,
            output_fmt="NCHW",
            output_extra_tokens=True,
        )
        cls = [prefix[:, 0] for prefix in out["image_intermediates_prefix"]]
        return Tokens(out["image_intermediates"], cls, out.get("image_features"))
