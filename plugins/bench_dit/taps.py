"""Reading block outputs of a diffusion transformer: image tokens as maps, one pass, early exit.

``bench.read_block_outputs`` hooks each requested block and keeps its image tokens as a map; the
deepest requested block ends the pass (nothing after it runs), and a backward pass that recomputes
a checkpointed block (``bench train`` with activation checkpointing) neither records nor stops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch

from bench import read_block_outputs
from bench_dit.architecture import block_of


def tap_order(transformer: torch.nn.Module) -> list[str]:
    """Tap names in forward order: ``jb0..`` (``transformer_blocks``), then ``sb0..`` (FLUX's
    ``single_transformer_blocks``)."""
    singles = getattr(transformer, "single_transformer_blocks", ())
    return [f"jb{i}" for i in range(len(transformer.transformer_blocks))] + [
        f"sb{i}" for i in range(len(singles))
    ]


def tap_module(transformer: torch.nn.Module, tap: str) -> torch.nn.Module:
    """The block a tap names: ``jb3`` -> ``transformer_blocks[3]``, ``sb9`` ->
    ``single_transformer_blocks[9]``."""
    blocks, index = block_of(tap)
    return getattr(transformer, blocks)[index]


def image_tokens(output: object, text_tokens: int) -> torch.Tensor:
    """The image tokens (B, n, C) of a block's output.

    diffusers' joint and single blocks return ``(encoder_hidden_states, hidden_states)``; single
    blocks of diffusers before 0.32 returned one (B, L + n, C) tensor, text tokens first.
    """
    if isinstance(output, tuple):
        return output[1]
    return output[:, text_tokens:]


def tokens_to_map(tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, height * width, C) row-major tokens -> (B, C, height, width)."""
    batch, count, channels = tokens.shape
    if count != height * width:
        raise ValueError(f"{count} image tokens do not form a {height} x {width} map")
    return tokens.transpose(1, 2).reshape(batch, channels, height, width)


def block_taps(
    transformer: torch.nn.Module,
    forward: Callable[[], object],
    taps: Sequence[str],
    *,
    grid: tuple[int, int],
    text_tokens: int,
) -> dict[str, torch.Tensor]:
    """Maps of the requested blocks from one pass that stops after the deepest of them.

    Args:
        transformer: an ``SD3Transformer2DModel`` or ``FluxTransformer2DModel``.
        forward: runs the transformer on the prepared inputs.
        taps: names from :func:`tap_order`.
        grid: (h, w) image tokens per column and row (latent size / 2).
        text_tokens: L, text tokens in the stream (to split a pre-0.32 single block's output).

    Returns:
        ``{tap: (B, C, h, w)}``.
    """

    def read(tap: str, output: object) -> torch.Tensor:
        return tokens_to_map(image_tokens(output, text_tokens), *grid)

    return read_block_outputs(
        taps, tap_order(transformer), partial(tap_module, transformer), forward, read, "transformer"
    )
