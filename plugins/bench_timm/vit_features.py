"""Vision Transformers as feature extractors: the runtime shared by the timm and open_clip plugins.

One forward pass per batch reads every requested tap (see :mod:`bench_timm.vit_layers`) and stops
after the deepest requested block, unless ``embed`` needs the whole network. A library plugin
subclasses :class:`VisionTransformerFeatures` and implements :meth:`~VisionTransformerFeatures.forward`
with its library's ``forward_intermediates``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from bench import BenchError, PromptCondition
from bench_timm.vit_layers import EMBED, TapPosition, tap_position

RESAMPLING = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


@dataclass(frozen=True)
class Normalization:
    """How a model expects its input pixels: ``(rgb / 255 - mean) / std`` after resizing.

    Attributes:
        mean, std: per RGB channel, for values in [0, 1].
        interpolation: ``"bicubic"`` or ``"bilinear"`` (the resize filter).
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"


@dataclass
class Tokens:
    """What one forward pass read.

    Attributes:
        patches: per requested block, in ``blocks`` order, (B, C, h, w) patch tokens.
        cls: per requested block, (B, C) class tokens.
        embed: (B, D) final image embedding, or None when it was not asked for.
    """

    patches: list[torch.Tensor]
    cls: list[torch.Tensor]
    embed: torch.Tensor | None


class VisionTransformerFeatures(ABC):
    """A frozen ViT that returns block tokens and its final embedding.

    Args:
        model: the network (moved to ``device`` and ``dtype``, set to eval mode).
        depth: number of transformer blocks.
        normalization: the model's input normalisation.
        image_size: input resolution in pixels (square).
        weights: what was loaded, recorded in results.
        device, dtype: where and in which precision the model runs.
    """

    def __init__(
        self,
        *,
        model: torch.nn.Module,
        depth: int,
        normalization: Normalization,
        image_size: int,
        weights: str,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
        self.depth = depth
        self.normalization = normalization
        self.image_size = image_size
        self.weights = weights
        self.device = device
        self.dtype = dtype

    @abstractmethod
    def forward(self, pixels: torch.Tensor, blocks: list[int], embed: bool) -> Tokens:
        """One pass over ``pixels`` (B, 3, S, S) that reads the outputs of ``blocks`` (sorted, 0-based,
        non-empty) and, when ``embed`` is true, the final embedding; it may stop after ``blocks[-1]``
        when ``embed`` is false."""

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """RGB images -> (B, 3, S, S) float32, resized to ``image_size`` (no crop: sketches reach their
        borders) and normalised with the model's mean and std."""
        size = (self.image_size, self.image_size)
        resample = RESAMPLING[self.normalization.interpolation]
        arrays = [
            np.asarray(image.convert("RGB").resize(size, resample), dtype=np.float32) for image in images
        ]
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2) / 255.0
        mean = torch.tensor(self.normalization.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.normalization.std).view(1, 3, 1, 1)
        return (batch - mean) / std

    def read(self, pixels: torch.Tensor, taps: Sequence[str]) -> dict[str, torch.Tensor]:
        """``{tap: (B, C, h, w) map or (B, C) vector}`` for ``taps``, from one forward pass."""
        positions = {tap: tap_position(tap, self.depth) for tap in taps}
        wants_embed = any(p.token == EMBED for p in positions.values())
        blocks = {p.block for p in positions.values() if p.block is not None}
        if wants_embed or not blocks:
            blocks.add(self.depth - 1)  # the embedding needs every block anyway
        order = sorted(blocks)
        tokens = self.forward(pixels.to(device=self.device, dtype=self.dtype), order, wants_embed)
        return {tap: _select(tokens, order, position) for tap, position in positions.items()}

    def extract(
        self,
        pixels: torch.Tensor,
        *,
        modality: str,
        taps: Sequence[str],
        timesteps: Sequence[int | None],
        noise_samples: int,
        noise_seeds: Sequence[int],
        prompt: PromptCondition,
    ) -> dict[int | None, dict[str, torch.Tensor]]:
        """See ``bench.backbone.Backbone.extract``: maps (B, 1, C, h, w) and vectors (B, 1, C).

        A ViT is deterministic and has no timestep: there is one draw (N = 1) and every entry of
        ``timesteps`` gets the same features. A visual prompt for ``modality`` is added to the
        pixels; text (a text, a learned textual prompt, per-image query texts) cannot condition an
        image encoder.
        """
        if prompt.text or prompt.text_embedding is not None or prompt.item_texts is not None:
            raise BenchError(
                "A vision transformer's image features cannot be conditioned on text.",
                "Use --prompt none, or a learned prompt without a textual part, and no --query-text "
                "with this backbone.",
            )
        if prompt.visual is not None and modality in prompt.visual:
            pixels = pixels + prompt.visual[modality].to(pixels)
        features = {tap: value[:, None] for tap, value in self.read(pixels, taps).items()}
        return dict.fromkeys(timesteps, features)


def _select(tokens: Tokens, order: list[int], position: TapPosition) -> torch.Tensor:
    if position.token == EMBED:
        assert tokens.embed is not None
        return tokens.embed
    index = order.index(position.block)  # type: ignore[arg-type]
    return tokens.cls[index] if position.token == "cls" else tokens.patches[index]
