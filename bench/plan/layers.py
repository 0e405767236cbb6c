"""Resolving a ``--layer`` value against a backbone: a tap, ``tap+tap``, or a registered selector."""

from __future__ import annotations

from dataclasses import dataclass

from bench.api.components import FLATTEN_GRID, POOLINGS, BackboneInfo, LayerSelector, TapInfo
from bench.api.errors import BenchError, unknown_name_error
from bench.registry.components import ComponentTable


@dataclass(frozen=True)
class LayerPlan:
    """What to read from a backbone and how to turn it into one descriptor.

    Attributes:
        name: the ``--layer`` value as given (recorded in results).
        taps: backbone taps to read, e.g. ``("up0", "up1")``.
        pool: ``gap`` | ``gmp`` | ``gem`` | ``flatten``, applied to each tap; a multi-tap layer's
            descriptor concatenates its taps' pooled features.
        dim: descriptor length (sum of the taps' channels).
    """

    name: str
    taps: tuple[str, ...]
    pool: str
    dim: int


def valid_layer_names(backbone: BackboneInfo, selectors: ComponentTable[LayerSelector]) -> list[str]:
    """Every ``--layer`` value ``backbone`` accepts: its taps and the selectors that apply to it."""
    applicable = [entry.component.id for entry in selectors if entry.component.applies_to(backbone)]
    return [*backbone.layer_names, *applicable]


def resolve_layer(
    value: str, backbone: BackboneInfo, selectors: ComponentTable[LayerSelector], pool: str | None = None
) -> LayerPlan:
    """The :class:`LayerPlan` for ``--layer value`` on ``backbone``.

    ``pool`` overrides the selector's pooling (single taps pool with ``gap`` by default).

    Raises:
        BenchError: unknown layer (listing the valid ones and the closest), or a selector that does
            not apply to this backbone, or an unknown pooling.
    """
    if pool is not None and pool not in POOLINGS:
        raise BenchError(f"Unknown pooling {pool!r}.", f"Valid poolings: {', '.join(POOLINGS)}.")
    valid = valid_layer_names(backbone, selectors)
    if value in selectors and value not in backbone.layer_names:
        selector = selectors.get(value)
        if not selector.applies_to(backbone):
            raise BenchError(
                f"Layer selector {value!r} does not apply to backbone {backbone.id!r} "
                f"(it reads {'+'.join(selector.taps)}).",
                f"Layers of {backbone.id}: {', '.join(valid)}.",
            )
        taps, default_pool = selector.taps, selector.pool
    else:
        taps, default_pool = tuple(value.split("+")), "gap"
        for tap in taps:
            if backbone.layer(tap) is None:
                raise unknown_name_error(
                    "layer",
                    tap,
                    valid,
                    f"Join taps with '+' (e.g. {'+'.join(backbone.layer_names[-2:])}); "
                    f"`bench list layers --backbone {backbone.id}` shows channels and strides.",
                    context=f" for backbone {backbone.id!r}",
                )
        if len(set(taps)) != len(taps):
            raise BenchError(f"Layer {value!r} names a tap twice.", "Name each tap once.")
    method = pool or default_pool
    infos = [backbone.layer(tap) for tap in taps]
    return LayerPlan(name=value, taps=taps, pool=method, dim=descriptor_dim(infos, method))  # type: ignore[arg-type]


def descriptor_dim(taps: list[TapInfo], pool: str) -> int:
    """Length of the descriptor of fused ``taps`` pooled with ``pool`` (``flatten`` keeps a 4 x 4 grid)."""
    channels = sum(tap.channels for tap in taps)
    is_map = all(tap.stride > 0 for tap in taps)
    return channels * FLATTEN_GRID * FLATTEN_GRID if pool == "flatten" and is_map else channels
