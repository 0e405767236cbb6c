"""The taps of a timm CNN as data: ``stage<k>`` maps and ``embed`` (no torch).

A CNN of N feature levels (timm's ``feature_info``: a ConvNeXt's 4 stages; a ResNet's stem and 4
layers; a VGG's 5 conv blocks and pool5) offers, for every level k (0-based, and also counted from
the end as k - N), ``stage<k>``: that level's output feature map (C_k, S / r_k, S / r_k) for an
S-pixel input, r_k its reduction (stride); and ``embed``, the model's pooled pre-logits feature.
"""

from __future__ import annotations

import re

from bench import EMBED, BenchError, TapInfo

STAGE_PREFIX = "stage"
_STAGE_TAP = re.compile(rf"{STAGE_PREFIX}(-?\d+)")


def stage_layers(
    channels: tuple[int, ...], strides: tuple[int, ...], modules: tuple[str, ...], embed: TapInfo
) -> tuple[TapInfo, ...]:
    """Every tap in forward order: each level under both of its names, then ``embed``.

    >>> taps = stage_layers((8, 16), (4, 8), ("s1", "s2"), TapInfo("embed", 16, 0))
    >>> [(t.name, t.channels, t.stride) for t in taps]
    [('stage0', 8, 4), ('stage-2', 8, 4), ('stage1', 16, 8), ('stage-1', 16, 8), ('embed', 16, 0)]
    >>> taps[0].description
    'output of stage 1 of 2 (timm module s1): a map (= stage-2)'
    """
    count = len(channels)
    layers = []
    for k, (width, stride, module) in enumerate(zip(channels, strides, modules, strict=True)):
        names = (f"{STAGE_PREFIX}{k}", f"{STAGE_PREFIX}{k - count}")
        what = f"output of stage {k + 1} of {count} (timm module {module}): a map"
        for name, other in (names, names[::-1]):
            layers.append(TapInfo(name, width, stride, f"{what} (= {other})"))
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
