"""The taps of a Vision Transformer as data, shared by the timm and open_clip plugins (no torch).

A ViT of depth D offers, for every block k (0-based, and also counted from the end as k - D):

* ``block<k>``: the block's output patch tokens as a map (C, S/p, S/p) for an S-pixel input and
  patch size p, so ``gap`` pools them to the mean patch token;
* ``block<k>.cls``: the block's output class token, a vector (C);
* ``embed``: the model's final image embedding (its dimension depends on the model);
* ``pooled`` (only where the plugin lists it): the model's own pooled head output, when that is
  another feature than ``embed`` for some models (timm: ``embed`` is the final normed class token,
  ``pooled`` timm's ``global_pool``).

Block outputs are the raw residual stream (before the final norm), as timm's
``forward_intermediates`` returns them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench.api.components import TapInfo
from bench.api.errors import BenchError

EMBED = "embed"
POOLED = "pooled"
CLS_SUFFIX = ".cls"
BLOCK_PREFIX = "block"
_BLOCK_TAP = re.compile(rf"{BLOCK_PREFIX}(-?\d+)({re.escape(CLS_SUFFIX)})?")


def vit_layers(
    depth: int,
    width: int,
    patch: int,
    embed: TapInfo,
    *,
    class_token: bool = True,
    pooled: TapInfo | None = None,
) -> tuple[TapInfo, ...]:
    """Every tap of a ViT in forward order: each block under both of its names, then ``embed`` (and
    ``pooled`` when given).

    Args:
        depth: number of transformer blocks D.
        width: token channels C.
        patch: patch size p in pixels (the stride of the patch-token maps).
        embed: the final embedding's tap (named ``embed``).
        class_token: whether the tokens start with a class token; without one (SigLIP) there are
            no ``block<k>.cls`` taps.
        pooled: the model's own pooled head output's tap (named ``pooled``), or None.

    >>> [(t.name, t.channels, t.stride) for t in vit_layers(2, 64, 16, TapInfo("embed", 32, 0))][:4]
    [('block0', 64, 16), ('block-2', 64, 16), ('block0.cls', 64, 0), ('block-2.cls', 64, 0)]
    """
    layers = []
    for k in range(depth):
        names = (f"{BLOCK_PREFIX}{k}", f"{BLOCK_PREFIX}{k - depth}")
        where = f"output of block {k + 1} of {depth}"
        for name, other in (names, names[::-1]):
            layers.append(TapInfo(name, width, patch, f"{where}: patch tokens as a map (= {other})"))
        for name, other in (names, names[::-1]) if class_token else ():
            layers.append(
                TapInfo(f"{name}{CLS_SUFFIX}", width, 0, f"{where}: class token (= {other}{CLS_SUFFIX})")
            )
    return (*layers, embed, *((pooled,) if pooled is not None else ()))


@dataclass(frozen=True)
class TapPosition:
    """Where a tap is read.

    Attributes:
        block: 0-based block index, or None for ``embed`` and ``pooled``.
        token: ``"patches"`` (a map), ``"cls"`` (the class token), ``"embed"`` or ``"pooled"``.
    """

    block: int | None
    token: str


def tap_position(tap: str, depth: int) -> TapPosition:
    """Parse a tap name of :func:`vit_layers` for a ViT of ``depth`` blocks.

    >>> tap_position("block-1.cls", 12)
    TapPosition(block=11, token='cls')

    Raises:
        BenchError: the name is not a tap of this ViT.
    """
    if tap in (EMBED, POOLED):
        return TapPosition(None, tap)
    match = _BLOCK_TAP.fullmatch(tap)
    if match is None or not -depth <= int(match[1]) < depth:
        raise BenchError(
            f"{tap!r} is not a tap of this {depth}-block vision transformer.",
            f"Use block<k> or block<k>{CLS_SUFFIX} with -{depth} <= k < {depth}, or {EMBED}.",
        )
    return TapPosition(int(match[1]) % depth, "cls" if match[2] else "patches")
