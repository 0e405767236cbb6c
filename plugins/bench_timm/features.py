"""timm models as feature extractors, read with timm's ``forward_intermediates``.

Only the arguments every timm implementation shares are passed (``VisionTransformer`` takes
``output_dict``, ``Eva`` (DINOv3, EVA-02, PE) does not; prefix tokens are asked for only when the
model has some, since ``Eva`` fails on ``return_prefix_tokens`` without them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from bench import EMBED, BackboneInfo, ImageEncoderBase, PixelNormalization, Tokens, VisionTransformerEncoder
from bench_timm.stages import stage_index


def normalization_of(model: torch.nn.Module) -> PixelNormalization:
    """The mean, std and resize filter of a timm model's pretrained configuration."""
    config = model.pretrained_cfg
    return PixelNormalization(tuple(config["mean"]), tuple(config["std"]), config["interpolation"])


def has_class_token(model: torch.nn.Module) -> bool:
    """Whether a timm ViT's tokens start with a class token (SigLIP towers have none)."""
    return getattr(model, "cls_token", None) is not None


class TimmViTFeatures(VisionTransformerEncoder):
    """A timm ``VisionTransformer`` or ``Eva``, the same features whichever name built it.

    ``embed`` (B, C) is the final normed class token: the last block's class token after the model's
    final norm (timm's ``norm``, or ``fc_norm`` for a model that norms after pooling); a model
    without a class token (SigLIP) has its pooled head feature there. ``pooled`` (B, D) is the
    model's own pooled head feature, ``forward_head(forward_features(x), pre_logits=True)`` with its
    ``global_pool`` (DINOv3: the mean of the normed patch tokens; SigLIP, PE: attention pooling).

    Patch maps drop every prefix token (class and register tokens); ``block<k>.cls`` is the first
    prefix token when the model has a class token."""

    def forward_tokens(self, pixels: torch.Tensor, blocks: list[int], embed: bool) -> Tokens:
        prefixed = self.model.num_prefix_tokens > 0
        out = self.model.forward_intermediates(
            pixels,
            indices=blocks,
            stop_early=True,
            output_fmt="NCHW",
            intermediates_only=not embed,
            **({"return_prefix_tokens": True} if prefixed else {}),
        )
        final, intermediates = out if embed else (None, out)
        patches = [item[0] for item in intermediates] if prefixed else list(intermediates)
        class_token = has_class_token(self.model)
        cls = [item[1][:, 0] for item in intermediates] if class_token else []
        if not embed:
            return Tokens(patches, cls, None)
        pooled = self.model.forward_head(final, pre_logits=True)
        return Tokens(patches, cls, self.model.fc_norm(final[:, 0]) if class_token else pooled, pooled)


class TimmStageFeatures(ImageEncoderBase):
    """A timm CNN (any family with ``feature_info`` and ``forward_intermediates``: ResNet, VGG,
    EfficientNet, RegNet, ConvNeXt, ...) as an ``ImageEncoder``: ``stage<k>`` is feature level k's
    map (B, C_k, S / r_k, S / r_k), as ``features_only=True`` returns it; ``embed`` timm's pre-logits
    feature (B, D), ``forward_head(forward_features(x), pre_logits=True)``. One pass per batch,
    stopping after the deepest requested level unless ``embed`` is asked for.

    Args:
        info, weights, device, dtype, image_size: as for ``ImageEncoderBase``.
        model: the timm network (moved to ``device`` and ``dtype``, set to eval mode, frozen).
        stages: its number of feature levels.
        normalization: its input normalisation.
    """

    def __init__(
        self,
        info: BackboneInfo,
        *,
        model: Any,
        stages: int,
        normalization: PixelNormalization,
        weights: str,
        device: Any,
        dtype: Any,
        image_size: int,
    ) -> None:
        super().__init__(info, weights=weights, device=device, dtype=dtype, image_size=image_size)
        self.model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
        self.stages = stages
        self.normalization = normalization

    def features(self, pixels: torch.Tensor, taps: Sequence[str]) -> dict[str, torch.Tensor]:
        """``{tap: (B, C, h, w) map or (B, D) vector}`` for (B, 3, S, S) ``pixels``."""
        positions = {tap: stage_index(tap, self.stages) for tap in taps}
        embed = EMBED in positions
        order = sorted(
            {k for k in positions.values() if k is not None} | ({self.stages - 1} if embed else set())
        )
        out = self.model.forward_intermediates(
            pixels.to(device=self.device, dtype=self.dtype),
            indices=order,
            stop_early=not embed,  # embed needs the whole pass (and MobileNetV3 refuses both)
            output_fmt="NCHW",
            intermediates_only=not embed,
        )
        final, maps = out if embed else (None, out)
        pooled = self.model.forward_head(final, pre_logits=True) if embed else None
        return {tap: pooled if k is None else maps[order.index(k)] for tap, k in positions.items()}
