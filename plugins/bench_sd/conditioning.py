"""Text conditioning of the UNet: SD 1.x/2.x (one CLIP encoder) and SDXL (two, plus added embeddings)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

CONTEXT_LENGTH = 77


@dataclass(frozen=True)
class Conditioning:
    """What one UNet sample is conditioned on.

    Attributes:
        hidden_states: (1, 77, d) cross-attention context.
        added: extra UNet inputs (SDXL: ``text_embeds`` (1, d_pooled), ``time_ids`` (1, 6)); empty for SD 1/2.
    """

    hidden_states: torch.Tensor
    added: dict[str, torch.Tensor] = field(default_factory=dict)

    def batched(self, batch: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The context and added inputs repeated for ``batch`` samples: (batch, 77, d), {k: (batch, ...)}."""
        added = {key: value.expand(batch, *value.shape[1:]) for key, value in self.added.items()}
        return self.hidden_states.expand(batch, -1, -1), added

    def with_hidden_states(self, context: torch.Tensor) -> Conditioning:
        """This conditioning with the cross-attention context replaced by ``context`` (77, d)."""
        if context.shape != self.hidden_states.shape[1:]:
            expected = tuple(self.hidden_states.shape[1:])
            raise ValueError(f"a textual prompt must have shape {expected}, got {tuple(context.shape)}")
        context = context.to(device=self.hidden_states.device, dtype=self.hidden_states.dtype)
        return Conditioning(context[None], self.added)


def _token_ids(tokenizer, text: str, device: torch.device) -> torch.Tensor:
    ids = tokenizer(
        [text], padding="max_length", max_length=CONTEXT_LENGTH, truncation=True, return_tensors="pt"
    ).input_ids
    return ids.to(device)


class ClipConditioner:
    """SD 1.x / 2.x: the last hidden state of one CLIP text encoder, (1, 77, d)."""

    def __init__(self, tokenizer, text_encoder: torch.nn.Module) -> None:
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder.eval().requires_grad_(False)

    def to(self, device: torch.device, dtype: torch.dtype) -> ClipConditioner:
        self.text_encoder.to(device=device, dtype=dtype)
        return self

    def __call__(self, text: str) -> Conditioning:
        device = self.text_encoder.device
        return Conditioning(self.text_encoder(_token_ids(self.tokenizer, text, device))[0])


class DualClipConditioner:
    """SDXL: penultimate hidden states of both encoders concatenated, (1, 77, d1 + d2); the second
    encoder's pooled projection as ``text_embeds``; ``time_ids`` = (original size, crop top-left,
    target size) = (S, S, 0, 0, S, S) for square inputs of S pixels.
    """

    def __init__(
        self, tokenizers, text_encoders: tuple[torch.nn.Module, torch.nn.Module], image_size: int
    ) -> None:
        self.tokenizers = tokenizers
        self.text_encoders = tuple(encoder.eval().requires_grad_(False) for encoder in text_encoders)
        self.image_size = image_size

    def to(self, device: torch.device, dtype: torch.dtype) -> DualClipConditioner:
        for encoder in self.text_encoders:
            encoder.to(device=device, dtype=dtype)
        return self

    def __call__(self, text: str) -> Conditioning:
        first, second = (
            encoder(_token_ids(tokenizer, text, encoder.device), output_hidden_states=True)
            for tokenizer, encoder in zip(self.tokenizers, self.text_encoders, strict=True)
        )
        context = torch.cat([first.hidden_states[-2], second.hidden_states[-2]], dim=-1)
        size = float(self.image_size)
        time_ids = torch.tensor(
            [[size, size, 0.0, 0.0, size, size]], device=context.device, dtype=context.dtype
        )
        return Conditioning(context, {"text_embeds": second.text_embeds, "time_ids": time_ids})
