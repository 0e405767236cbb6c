"""Reading the outputs of chosen blocks from one forward pass that stops after the deepest of them.

A forward hook on each requested block keeps what ``read`` makes of its output; the hook of the
deepest requested block (in the model's forward order) ends the pass by raising, so nothing after
it runs. Hooks act only while :func:`read_block_outputs` is running and are removed before it
returns, so a backward pass that recomputes a checkpointed block (``bench train`` with activation
checkpointing) neither records nor stops. Needs no torch at import (the model brings it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bench.api.errors import BenchError


class _StopForward(Exception):
    """Raised by the hook of the deepest requested block to end the pass early."""


def read_block_outputs(
    taps: Sequence[str],
    order: Sequence[str],
    module_of: Callable[[str], Any],
    forward: Callable[[], object],
    read: Callable[[str, Any], Any],
    model: str,
) -> dict[str, Any]:
    """``{tap: read(tap, output of its block)}`` from one pass of ``forward``.

    Args:
        taps: the block names to read, each in ``order``.
        order: every tap name of the model, in forward order.
        module_of: tap name -> its ``torch.nn.Module`` (a hook is registered on it).
        forward: runs the model once on prepared inputs.
        read: (tap, the block's output) -> what to keep (e.g. a (B, C, h, w) map).
        model: what the model is, in the error for an unknown tap (``"UNet"``, ``"transformer"``).

    Raises:
        BenchError: a tap not in ``order``, naming the valid ones.
    """
    unknown = [tap for tap in taps if tap not in order]
    if unknown:
        raise BenchError(f"This {model} has no tap {unknown[0]!r}.", f"Valid taps: {', '.join(order)}.")
    deepest = max(taps, key=list(order).index)
    captured: dict[str, Any] = {}
    active = True

    def make_hook(tap: str) -> Callable:
        def hook(module, args, output):
            if not active:
                return
            captured[tap] = read(tap, output)
            if tap == deepest:
                raise _StopForward

        return hook

    handles = [module_of(tap).register_forward_hook(make_hook(tap)) for tap in taps]
    try:
        forward()
    except _StopForward:
        pass
    finally:
        active = False
        for handle in handles:
            handle.remove()
    return captured
