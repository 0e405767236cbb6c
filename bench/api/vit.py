"""Vision Transformers as image encoders: the runtime a ViT plugin (timm, open_clip) builds on.

One forward pass per batch reads every requested tap (see :mod:`bench.api.vit_layers`) and stops
after the deepest requested block, unless ``embed`` or ``pooled`` needs the whole network. A library plugin
subclasses :class:`VisionTransformerEncoder` and implements one method,
:meth:`~VisionTransformerEncoder.forward_tokens`, with its library's ``forward_intermediates``.
Importing this module imports no torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.api.encoders import PixelNormalization, normalized_pixels
from bench.api.vit_layers import EMBED, POOLED, TapPosition, tap_position

if TYPE_CHECKING:
    import torch
    from PIL import Image


@dataclass
class Tokens:
    """What one forward pass read.

    Attributes:
        patches: per requested block, in ``blocks`` order, (B, C, h, w) patch tokens.
        cls: per requested block, (B, C) class tokens.
        embed: (B, D) final image embedding, or None when it was not asked for.
        pooled: (B, D') the model's own pooled head output, for an encoder that lists a ``pooled``
            tap; None when it was not asked for or the encoder has none.
    """

    patches: list[torch.Tensor]
    cls: list[torch.Tensor]
    embed: torch.Tensor | None
    pooled: torch.Tensor | None = None


class VisionTransformerEncoder(ABC):
    """A frozen ViT that gives block tokens and its final embedding (an ``ImageEncoder``).

    Args:
        model: the network (moved to ``device`` and ``dtype``, set to eval mode, frozen).
        depth: number of transformer blocks.
        normalization: the model's input normalisation.
        image_size: input resolution in pixels (square).
        weights: what was loaded, recorded in results.
        device, dtype: where and in which precision the model runs.
    """

    def __init__(
        self,
        *,
        model: Any,
        depth: int,
        normalization: PixelNormalization,
        image_size: int,
        weights: str,
        device: Any,
        dtype: Any,
    ) -> None:
        self.model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
        self.depth = depth
        self.normalization = normalization
        self.image_size = image_size
        self.weights = weights
        self.device = device
        self.dtype = dtype

    @abstractmethod
    def forward_tokens(self, pixels: torch.Tensor, blocks: list[int], embed: bool) -> Tokens:
        """One pass over ``pixels`` (B, 3, S, S) that reads the outputs of ``blocks`` (sorted, 0-based,
        non-empty) and, when ``embed`` is true, the final embedding (and the pooled head output, for an
        encoder that lists ``pooled``); it may stop after ``blocks[-1]`` when ``embed`` is false."""

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """RGB images -> (B, 3, S, S) float32, resized to ``image_size`` and normalised."""
        return normalized_pixels(images, self.image_size, self.normalization)

    def features(self, pixels: torch.Tensor, taps: Sequence[str]) -> dict[str, torch.Tensor]:
        """``{tap: (B, C, h, w) map or (B, C) vector}`` for ``taps``, from one forward pass."""
        positions = {tap: tap_position(tap, self.depth) for tap in taps}
        wants_final = any(p.block is None for p in positions.values())  # embed or pooled
        blocks = {p.block for p in positions.values() if p.block is not None}
        if wants_final or not blocks:
            blocks.add(self.depth - 1)  # the final outputs need every block anyway
        order = sorted(blocks)
        tokens = self.forward_tokens(self._on_device(pixels), order, wants_final)
        return {tap: _select(tokens, order, position) for tap, position in positions.items()}

    def _on_device(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) pixels on the model's device in its dtype: copied asynchronously to a CUDA
        device (overlapping queued work when they are pinned, as the extraction loop hands them),
        then cast there."""
        import torch

        cuda = torch.device(self.device).type == "cuda"
        return pixels.to(device=self.device, non_blocking=cuda).to(self.dtype)


def _select(tokens: Tokens, order: list[int], position: TapPosition) -> torch.Tensor:
    if position.token == EMBED:
        assert tokens.embed is not None
        return tokens.embed
    if position.token == POOLED:
        assert tokens.pooled is not None, "the encoder lists no pooled tap"
        return tokens.pooled
    index = order.index(position.block)  # type: ignore[arg-type]
    return tokens.cls[index] if position.token == "cls" else tokens.patches[index]
