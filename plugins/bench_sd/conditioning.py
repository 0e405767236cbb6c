"""Text conditioning of the UNet: SD 1.x/2.x (one CLIP encoder) and SDXL (two, plus added embeddings)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from bench import rows_per_sample

CONTEXT_LENGTH = 77


@dataclass(frozen=True)
class Conditioning:
    """What the UNet samples of one batch are conditioned on: one row of text conditioning shared by
    every image (R = 1), or one row per image (R = B, per-image texts of sketch+text queries).

    Attributes:
        hidden_states: (R, 77, d) cross-attention context.
        added: extra UNet inputs, each (R, ...) (SDXL: ``text_embeds`` (R, d_pooled), ``time_ids``
            (R, 6)); empty for SD 1/2.
        lengths: (R,) tokens of each row's text from BOS to EOS included (k + 2 for a text of k
            tokens, at most 77); empty when unknown (a learned context).
    """

    hidden_states: torch.Tensor
    added: dict[str, torch.Tensor] = field(default_factory=dict)
    lengths: tuple[int, ...] = ()

    @property
    def context(self) -> torch.Tensor:
        """(R, 77, d) the cross-attention context (what a learned textual prompt replaces)."""
        return self.hidden_states

    def batched(self, images: int, noise_samples: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Context and added inputs of ``images * noise_samples`` UNet samples in image-major order:
        (B * N, 77, d) and {k: (B * N, ...)} (see ``bench.rows_per_sample``)."""
        added = {key: rows_per_sample(value, images, noise_samples) for key, value in self.added.items()}
        return rows_per_sample(self.hidden_states, images, noise_samples), added

    def _checked(self, context: torch.Tensor) -> torch.Tensor:
        """``context`` (77, d) on this conditioning's device and dtype; ValueError if its shape differs."""
        if context.shape != self.hidden_states.shape[1:]:
            expected = tuple(self.hidden_states.shape[1:])
            raise ValueError(f"a textual prompt must have shape {expected}, got {tuple(context.shape)}")
        return context.to(device=self.hidden_states.device, dtype=self.hidden_states.dtype)

    def with_context(self, context: torch.Tensor) -> Conditioning:
        """This conditioning with the cross-attention context replaced by ``context`` (77, d)."""
        return Conditioning(self._checked(context)[None], self.added)

    def with_context_after_texts(self, learned: torch.Tensor) -> Conditioning:
        """Each row's text tokens followed by a learned context (77, d): see :func:`text_then_learned`."""
        lengths = torch.tensor(self.lengths, device=self.hidden_states.device)
        context = text_then_learned(self.hidden_states, lengths, self._checked(learned))
        return Conditioning(context, self.added, self.lengths)


def text_then_learned(
    text_context: torch.Tensor, lengths: torch.Tensor, learned: torch.Tensor
) -> torch.Tensor:
    """Sketch+text with a learned textual prompt: every caption token, then as much learned context as fits.

    Row r is the encoder output of its text for tokens BOS..EOS (``lengths[r]`` = k + 2 positions),
    followed by the first 77 - (k + 2) positions of ``learned``: (R, 77, d) from ``text_context``
    (R, 77, d), ``lengths`` (R,) in 1..77 and ``learned`` (77, d) (differentiable in ``learned``).
    """
    positions = torch.arange(text_context.shape[1], device=text_context.device)
    from_text = positions[None] < lengths[:, None]  # (R, 77)
    learned_rows = (positions[None] - lengths[:, None]).clamp(min=0)  # (R, 77): 0.. after EOS
    return torch.where(from_text[..., None], text_context, learned[learned_rows])


def _token_ids(tokenizer, texts: Sequence[str], device: torch.device) -> tuple[torch.Tensor, tuple[int, ...]]:
    """(R, 77) token ids of ``texts`` (padded, truncated to 77) and each text's BOS..EOS length."""
    tokens = tokenizer(
        list(texts), padding="max_length", max_length=CONTEXT_LENGTH, truncation=True, return_tensors="pt"
    )
    return tokens.input_ids.to(device), tuple(tokens.attention_mask.sum(dim=1).tolist())


class ClipConditioner:
    """SD 1.x / 2.x: the last hidden state of one CLIP text encoder, (1, 77, d)."""

    def __init__(self, tokenizer, text_encoder: torch.nn.Module) -> None:
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder.eval().requires_grad_(False)

    def to(self, device: torch.device, dtype: torch.dtype) -> ClipConditioner:
        self.text_encoder.to(device=device, dtype=dtype)
        return self

    def encode(self, texts: Sequence[str]) -> Conditioning:
        """One row per text, from one encoder pass: (R, 77, d)."""
        ids, lengths = _token_ids(self.tokenizer, texts, self.text_encoder.device)
        return Conditioning(self.text_encoder(ids)[0], lengths=lengths)


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

    def encode(self, texts: Sequence[str]) -> Conditioning:
        """One row per text: context (R, 77, d1 + d2), ``text_embeds`` (R, d_pooled), ``time_ids`` (R, 6)."""
        pairs = list(zip(self.tokenizers, self.text_encoders, strict=True))
        (first_ids, lengths), (second_ids, _) = (_token_ids(t, texts, e.device) for t, e in pairs)
        first, second = (
            encoder(ids, output_hidden_states=True)
            for encoder, ids in zip(self.text_encoders, (first_ids, second_ids), strict=True)
        )
        context = torch.cat([first.hidden_states[-2], second.hidden_states[-2]], dim=-1)
        size = float(self.image_size)
        time_ids = torch.tensor(
            [[size, size, 0.0, 0.0, size, size]], device=context.device, dtype=context.dtype
        ).expand(len(texts), -1)
        added = {"text_embeds": second.text_embeds, "time_ids": time_ids}
        return Conditioning(context, added, lengths)
