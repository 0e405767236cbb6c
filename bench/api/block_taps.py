"""Reading what chosen blocks give or get in one forward pass that stops at the deepest of them.

A hook on each requested block keeps what ``read`` makes of its output (:func:`read_block_outputs`,
a forward hook) or of its inputs (:func:`read_block_inputs`, a forward pre-hook, before the block
runs); the hook of the deepest requested block (in the model's forward order) ends the pass by
raising, so nothing after it runs. Hooks act only while the pass is running and are removed before
it returns, so a backward pass that recomputes a checkpointed block (``bench train`` with activation
checkpointing) neither records nor stops. Needs no torch at import (the model brings it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bench.api.errors import BenchError


class _StopForward(Exception):
    """Raised by the hook of the deepest requested block to end the pass early."""


# (module, keep) -> a removable hook handle; ``keep(value)`` records what the hook saw.
Attach = Callable[[Any, Callable[[Any], None]], Any]


def _read_in_one_pass(
    taps: Sequence[str],
    order: Sequence[str],
    module_of: Callable[[str], Any],
    forward: Callable[[], object],
    read: Callable[[str, Any], Any],
    model: str,
    attach: Attach,
) -> dict[str, Any]:
    unknown = [tap for tap in taps if tap not in order]
    if unknown:
        raise BenchError(f"This {model} has no tap {unknown[0]!r}.", f"Valid taps: {', '.join(order)}.")
    deepest = max(taps, key=list(order).index)
    captured: dict[str, Any] = {}
    active = True

    def keeper(tap: str) -> Callable[[Any], None]:
        def keep(value: Any) -> None:
            if not active:
                return
            captured[tap] = read(tap, value)
            if tap == deepest:
                raise _StopForward

        return keep

    handles = [attach(module_of(tap), keeper(tap)) for tap in taps]
    try:
        forward()
    except _StopForward:
        pass
    finally:
        active = False
        for handle in handles:
            handle.remove()
    return captured


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

    def attach(module: Any, keep: Callable[[Any], None]) -> Any:
        return module.register_forward_hook(lambda _module, _args, output: keep(output))

    return _read_in_one_pass(taps, order, module_of, forward, read, model, attach)


def read_block_inputs(
    taps: Sequence[str],
    order: Sequence[str],
    module_of: Callable[[str], Any],
    forward: Callable[[], object],
    read: Callable[[str, Any], Any],
    model: str,
) -> dict[str, Any]:
    """``{tap: read(tap, (args, kwargs))}``: what each module is called with, from one pass of
    ``forward`` that stops before the deepest of them runs.

    Same arguments as :func:`read_block_outputs`, but ``read`` gets the positional and keyword
    arguments of the module's call (a tuple and a dict) instead of its output.
    """

    def attach(module: Any, keep: Callable[[Any], None]) -> Any:
        def hook(_module: Any, args: tuple, kwargs: dict) -> None:
            keep((args, kwargs))

        return module.register_forward_pre_hook(hook, with_kwargs=True)

    return _read_in_one_pass(taps, order, module_of, forward, read, model, attach)
