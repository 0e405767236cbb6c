"""Text conditioning of the diffusion transformers, as their diffusers pipelines compute it.

* SD3 / SD3.5 (``StableDiffusion3Pipeline.encode_prompt``): the penultimate hidden states of CLIP-L
  and CLIP-G, concatenated along channels (77, 768 + 1280) and zero-padded to T5's width, followed
  along the sequence by T5-XXL's last hidden state (256 tokens): context (77 + 256, 4096); pooled =
  both CLIP projections concatenated (768 + 1280 = 2048).
* FLUX.1 (``FluxPipeline.encode_prompt``): context = T5-XXL's last hidden state (512 tokens for
  dev, 256 for schnell, 4096 wide); pooled = CLIP-L's pooled output (768).

Tokenizers are called as ``tokenizer(texts, padding="max_length", max_length=L, truncation=True)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from bench import rows_per_sample
from bench_dit.architecture import CLIP_TOKENS


@dataclass(frozen=True)
class TextConditioning:
    """What the transformer samples of one batch are conditioned on: one row shared by every image
    (R = 1) or one row per image (R = B).

    Attributes:
        context: (R, L, d) ``encoder_hidden_states`` (L = 333 for SD3, 512/256 for FLUX).
        pooled: (R, p) ``pooled_projections``.
    """

    context: torch.Tensor
    pooled: torch.Tensor

    def batched(self, images: int, noise_samples: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Context (B * N, L, d) and pooled (B * N, p) in image-major order (see
        ``bench.rows_per_sample``)."""
        return rows_per_sample(self.context, images, noise_samples), rows_per_sample(
            self.pooled, images, noise_samples
        )

    def with_context(self, context: torch.Tensor) -> TextConditioning:
        """This conditioning with its context replaced by ``context`` (L, d) (a learned textual
        prompt); the pooled embedding stays. ValueError when the shape differs."""
        if tuple(context.shape) != tuple(self.context.shape[1:]):
            expected = tuple(self.context.shape[1:])
            raise ValueError(f"a textual prompt must have shape {expected}, got {tuple(context.shape)}")
        return TextConditioning(context.to(self.context)[None], self.pooled)


def _ids(tokenizer, texts: Sequence[str], length: int, device: torch.device) -> torch.Tensor:
    """(R, length) token ids, padded and truncated to ``length``."""
    tokens = tokenizer(
        list(texts), padding="max_length", max_length=length, truncation=True, return_tensors="pt"
    )
    return tokens.input_ids.to(device)


def _device(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


class _TextEncoders:
    """Frozen text encoders with their tokenizers, and the T5 sequence length."""

    def __init__(self, tokenizers: Sequence, encoders: Sequence[torch.nn.Module], t5_tokens: int) -> None:
        self.tokenizers = tuple(tokenizers)
        self.encoders = tuple(encoder.eval().requires_grad_(False) for encoder in encoders)
        self.t5_tokens = t5_tokens

    def to(self, device: torch.device, dtype: torch.dtype) -> _TextEncoders:
        for encoder in self.encoders:
            encoder.to(device=device, dtype=dtype)
        return self


class SD3Conditioner(_TextEncoders):
    """CLIP-L + CLIP-G + T5 (see the module docstring).

    Args:
        tokenizers: (CLIP-L's, CLIP-G's, T5's).
        encoders: (``CLIPTextModelWithProjection`` x 2, ``T5EncoderModel``).
        t5_tokens: T5 sequence length (256 for SD3).
    """

    def encode(self, texts: Sequence[str]) -> TextConditioning:
        """Context (R, 77 + t5_tokens, d_T5) and pooled (R, p_L + p_G), one row per text."""
        clip_l, clip_g, t5 = self.encoders
        hidden, pooled = [], []
        for tokenizer, encoder in zip(self.tokenizers[:2], (clip_l, clip_g), strict=True):
            out = encoder(_ids(tokenizer, texts, CLIP_TOKENS, _device(encoder)), output_hidden_states=True)
            hidden.append(out.hidden_states[-2])
            pooled.append(out.text_embeds)
        t5_ids = _ids(self.tokenizers[2], texts, self.t5_tokens, _device(t5))
        t5_context = t5(t5_ids)[0]
        clip_context = torch.cat(hidden, dim=-1)
        clip_context = F.pad(clip_context, (0, t5_context.shape[-1] - clip_context.shape[-1]))
        context = torch.cat([clip_context.to(t5_context), t5_context], dim=-2)
        return TextConditioning(context, torch.cat(pooled, dim=-1).to(t5_context))


class FluxConditioner(_TextEncoders):
    """CLIP-L (pooled) + T5 (context); see the module docstring.

    Args:
        tokenizers: (CLIP-L's, T5's).
        encoders: (``CLIPTextModel``, ``T5EncoderModel``).
        t5_tokens: T5 sequence length (512 for FLUX.1-dev, 256 for schnell).
    """

    def encode(self, texts: Sequence[str]) -> TextConditioning:
        """Context (R, t5_tokens, d_T5) and pooled (R, d_CLIP), one row per text."""
        clip, t5 = self.encoders
        pooled = clip(_ids(self.tokenizers[0], texts, CLIP_TOKENS, _device(clip))).pooler_output
        context = t5(_ids(self.tokenizers[1], texts, self.t5_tokens, _device(t5)))[0]
        return TextConditioning(context, pooled.to(context))
