"""The taps of a staged CNN (ConvNeXt) as data: ``stage<k>`` maps and ``embed`` (no torch).

A CNN of N stages offers, for every stage k (0-based, and also counted from the end as k - N),
``stage<k>``: the stage's output feature map (C_k, S / r_k, S / r_k) for an S-pixel input, r_k
the stage's reduction (stride); and ``embed``, the model's pooled final feature.
"""

from __future__ import annotations

import re

from bench import EMBED, BenchError, LayerInfo

STAGE_PREFIX = "stage"
_STAGE_TAP = re.compile(rf"{STAGE_PREFIX}(-?\d+)")


def stage_layers(
    channels: tuple[int, ...], strides: tuple[int, ...], embed: LayerInfo
) -> tuple[LayerInfo, ...]:
    """Every tap in forward order: each stage under both of its names, then ``embed``.

    >>> [(t.name, t.channels, t.stride) for t in stage_layers((8, 16), (4, 8), LayerInfo("embed", 16, 0))]
    [('stage0', 8, 4), ('stage-2', 8, 4), ('stage1', 16, 8), ('stage-1', 16, 8), ('embed', 16, 0)]
    """
    count = len(channels)
    layers = []
    for k, (width, stride) in enumerate(zip(channels, strides, strict=True)):
        names = (f"{STAGE_PREFIX}{k}", f"{STAGE_PREFIX}{k - count}")
        for name, other in (names, names[::-1]):
            layers.append(
                LayerInfo(name, width, stride, f"output of stage {k + 1} of {count}: a map (= {other})")
            )
    return (*layers, embed)


def stage_index(tap: str, count: int) -> int | None:
    """The 0-based stage ``tap`` reads, or None for ``embed``.

    Raises:
        BenchError: ``tap`` is not a tap of a ``count``-stage CNN.
    """
    if tap == EMBED:
        return None
    match = _STAGE_TAP.fullmatch(tap)
    if match is None or not -count <= int(match[1]) < count:
        raise BenchError(
            f"{tap!r} is not a tap of this {count}-stage network.",
            f"Use stage<k> with -{count} <= k < {count}, or {EMBED}.",
        )
    return int(match[1]) % count
