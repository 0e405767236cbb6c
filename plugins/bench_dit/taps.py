"""The taps of a diffusion transformer: its blocks in forward order, and a block's image tokens as a map.

:class:`~bench_dit.features.DiffusionTransformerFeatures` reads them through
``bench.DiffusionBackboneBase.read_taps`` (one pass that stops after the deepest requested block)
and DiTF (:mod:`bench_dit.ditf`) through its own hooks on the blocks' inputs.
"""

from __future__ import annotations

import torch

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
