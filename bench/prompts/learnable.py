"""The learnable prompts of Koley et al. and the triplet loss that trains them (torch).

A visual prompt is a pixel-space additive border: a (3, S, S) tensor, zero inside a frame of
``width`` pixels, one per modality (sketch, photo), added to the preprocessed pixels at the
backbone's input resolution S. A textual prompt is one (77, d) context that replaces the text
encoder's output for both modalities, initialised from the empty prompt's context.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from bench.api.components import PromptCondition
from bench.prompts.files import TEXTUAL_KEY, VISUAL_KEYS

MODALITIES = ("sketch", "photo")


def border_mask(image_size: int, width: int) -> torch.Tensor:
    """(1, S, S) float32: 1 on the outer ``width`` pixels of an S x S image, 0 inside.

    Raises:
        ValueError: ``width`` is not in 1..S/2.
    """
    if not 1 <= width <= image_size // 2:
        raise ValueError(f"the border width must be in 1..{image_size // 2} pixels, got {width}")
    index = torch.arange(image_size)
    distance = torch.minimum(index, image_size - 1 - index)  # to the nearest edge, per row/column
    return (torch.minimum(distance[:, None], distance[None, :]) < width).float()[None]


class LearnablePrompt(torch.nn.Module):
    """The trainable parts of a prompt scheme.

    Args:
        parts: ``("visual",)``, ``("textual",)`` or both.
        image_size: S, the backbone's input resolution (visual prompt).
        width: border width in pixels at resolution S (visual prompt).
        empty_context: (77, d) text context of the empty prompt, the textual prompt's start
            (required when ``parts`` has ``"textual"``).

    Attributes:
        visual: (2, 3, S, S) parameters (sketch, photo), zero at the start; only the border is used.
        textual: (77, d) parameter.
    """

    def __init__(
        self,
        parts: Sequence[str],
        *,
        image_size: int,
        width: int,
        empty_context: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.parts = tuple(parts)
        self.visual: torch.nn.Parameter | None = None
        self.textual: torch.nn.Parameter | None = None
        if "visual" in self.parts:
            self.register_buffer("mask", border_mask(image_size, width))
            self.visual = torch.nn.Parameter(torch.zeros(len(MODALITIES), 3, image_size, image_size))
        if "textual" in self.parts:
            if empty_context is None:
                raise ValueError("a textual prompt needs the empty prompt's context to start from")
            self.textual = torch.nn.Parameter(empty_context.detach().float().clone())

    def condition(self) -> PromptCondition:
        """The prompt as extraction takes it (tensors keep their gradients)."""
        visual = None
        if self.visual is not None:
            visual = {m: self.visual[i] * self.mask for i, m in enumerate(MODALITIES)}
        return PromptCondition(text="", text_embedding=self.textual, visual=visual)

    @torch.no_grad()
    def load_learned(self, tensors: dict[str, torch.Tensor]) -> None:
        """Set the parameters from :meth:`tensors`-style values (e.g. the best epoch's)."""
        if self.visual is not None:
            for i, modality in enumerate(MODALITIES):
                self.visual[i].copy_(tensors[VISUAL_KEYS[modality]])
        if self.textual is not None:
            self.textual.copy_(tensors[TEXTUAL_KEY])

    def tensors(self) -> dict[str, torch.Tensor]:
        """The learned tensors under their file names (see :mod:`bench.prompts.files`): detached copies."""
        condition = self.condition()
        out = {}
        if condition.visual is not None:
            out.update({VISUAL_KEYS[m]: value.detach().clone() for m, value in condition.visual.items()})
        if self.textual is not None:
            out[TEXTUAL_KEY] = self.textual.detach().clone()
        return out


def triplet_loss(
    anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float
) -> torch.Tensor:
    """Mean over the batch of ``max(0, d(a, p) - d(a, n) + margin)`` with d = 1 - cosine.

    Args:
        anchor, positive, negative: (B, D) descriptors (any length; normalised here).

    Returns:
        A scalar tensor.
    """
    a, p, n = (F.normalize(x.float(), dim=-1) for x in (anchor, positive, negative))
    positive_distance = 1.0 - (a * p).sum(-1)
    negative_distance = 1.0 - (a * n).sum(-1)
    return F.relu(positive_distance - negative_distance + margin).mean()
