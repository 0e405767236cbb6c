"""Reading block outputs of a diffusion transformer: image tokens as maps, one pass, early exit.

A forward hook on each requested block keeps its image tokens; the hook of the deepest requested
block ends the pass (nothing after it runs). Hooks act only while :func:`block_taps` is running, so a
backward pass that recomputes a checkpointed block (``bench train`` with activation checkpointing)
neither records nor stops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from bench import BenchError
from bench_dit.architecture import block_of


class _StopForward(Exception):
    """Raised by the hook of the deepest requested block to end the transformer pass early."""


def tap_order(transformer: torch.nn.Module) -> list[str]:
    """Tap names in forward order: ``jb0..`` (``transformer_blocks``), then ``sb0..`` (FLUX's
    ``single_transformer_blocks``)."""
    singles = getattr(transformer, "single_transformer_blocks", ())
    return [f"jb{i}" for i in range(len(transformer.transformer_blocks))] + [
        f"sb{i}" for i in range(len(singles))
    ]


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
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Maps of the requested blocks from one pass that stops after the deepest of them.

    Args:
        transformer: an ``SD3Transformer2DModel`` or ``FluxTransformer2DModel``.
        forward: runs the transformer on the prepared inputs.
        taps: names from :func:`tap_order`.
        grid: (h, w) image tokens per column and row (latent size / 2).
        text_tokens: L, text tokens in the stream (to split a pre-0.32 single block's output).
        transform: applied to each (B, C, h, w) map (the massive-activation handling), or None.

    Returns:
        ``{tap: (B, C, h, w)}``.
    """
    order = tap_order(transformer)
    unknown = [tap for tap in taps if tap not in order]
    if unknown:
        raise BenchError(f"This transformer has no tap {unknown[0]!r}.", f"Valid taps: {', '.join(order)}.")
    deepest = max(taps, key=order.index)
    captured: dict[str, torch.Tensor] = {}
    active = True

    def make_hook(tap: str) -> Callable:
        def hook(module, args, output):
            if not active:
                return
            feature = tokens_to_map(image_tokens(output, text_tokens), *grid)
            captured[tap] = transform(feature) if transform is not None else feature
            if tap == deepest:
                raise _StopForward

        return hook

    handles = []
    for tap in taps:
        blocks, index = block_of(tap)
        handles.append(getattr(transformer, blocks)[index].register_forward_hook(make_hook(tap)))
    try:
        forward()
    except _StopForward:
        pass
    finally:
        active = False
        for handle in handles:
            handle.remove()
    return captured
