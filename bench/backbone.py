"""The runtime contract every backbone implements (what a BackboneInfo's factory returns)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from bench.components import PromptCondition


class Backbone(Protocol):
    """A loaded feature extractor.

    Attributes:
        weights: the weights actually loaded (hub id with revision, local path, or a description of
            random weights), recorded in results.
        image_size: input resolution in pixels (square).
    """

    weights: str
    image_size: int

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """RGB PIL images -> (B, 3, image_size, image_size) float32 tensor on the CPU, in the
        value range the model expects."""
        ...

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
        """Read ``taps`` for every timestep.

        Args:
            pixels: (B, 3, H, W) from :meth:`preprocess`, all of one ``modality`` ("sketch"/"photo").
            taps: layer names from the backbone's ``BackboneInfo.layers``.
            timesteps: diffusion timesteps (``[None]`` for backbones without one).
            noise_samples: N, noise draws per image (diffusion backbones; others return N = 1).
            noise_seeds: one seed per image; image i's noise comes only from ``noise_seeds[i]``, so a
                descriptor does not depend on batch composition.
            prompt: the conditioning (text, learned prompts). When ``prompt.item_texts`` is set
                (sketch+text queries; only backbones registered with ``accepts_text`` get one),
                image i is conditioned on ``item_texts[i]`` in place of ``prompt.text``.

        Returns:
            ``{t: {tap: tensor}}`` with each tensor (B, N, C, h, w) for maps or (B, N, C) for
            vectors, on any device, any float dtype.
        """
        ...
