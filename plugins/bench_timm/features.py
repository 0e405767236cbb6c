"""timm Vision Transformers as feature extractors, read with timm's ``forward_intermediates``."""

from __future__ import annotations

import torch

from bench import PixelNormalization, Tokens, VisionTransformerEncoder


def normalization_of(model: torch.nn.Module) -> PixelNormalization:
    """The mean, std and resize filter of a timm model's pretrained configuration."""
    config = model.pretrained_cfg
    return PixelNormalization(tuple(config["mean"]), tuple(config["std"]), config["interpolation"])


class TimmViTFeatures(VisionTransformerEncoder):
    """A timm ``VisionTransformer``; ``embed`` is its pooled, normed final feature before the head
    (``forward_head(forward_features(x), pre_logits=True)``: the normed class token for DINO and
    DINOv2)."""

    def forward_tokens(self, pixels: torch.Tensor, blocks: list[int], embed: bool) -> Tokens:
        out = self.model.forward_intermediates(
            pixels,
            indices=blocks,
            return_prefix_tokens=True,
            stop_early=True,
            output_fmt="NCHW",
            intermediates_only=not embed,
            output_dict=True,
        )
        final = self.model.forward_head(out["image_features"], pre_logits=True) if embed else None
        cls = [prefix[:, 0] for prefix in out["image_intermediates_prefix"]]
        return Tokens(out["image_intermediates"], cls, final)
