"""Backbone names of this plugin (no torch): registered ids, and ``dit:<id>/massive-<mode><k>``.

The ``dit`` family turns the optional massive-activation handling on for any registered diffusion
transformer: ``dit:sd35-medium/massive-zero4`` is ``sd35-medium`` with the 4 most massive channels of
every tap zeroed. Its own id keeps its descriptors (cache, results) apart from the plain model's.
"""

from __future__ import annotations

from bench import BenchError, closest_match
from bench_dit.architecture import VARIANTS, DiTVariant
from bench_dit.massive import MassiveActivations, parse_massive

FAMILY = "dit"
USAGE = "dit:<id>/massive-<zero|clip><k>"
EXAMPLE = "dit:sd3-tiny/massive-zero2"


def variant_of(backbone_id: str) -> tuple[DiTVariant, MassiveActivations | None]:
    """The architecture and massive-activation handling a backbone id names.

    Raises:
        BenchError: a ``dit:`` name of an unknown id or handling.
    """
    if backbone_id in VARIANTS:
        return VARIANTS[backbone_id], None
    prefix, _, rest = backbone_id.partition(":")
    base, _, handling = rest.partition("/")
    if prefix != FAMILY or base not in VARIANTS:
        near = closest_match(base, VARIANTS)
        hint = f" Did you mean {FAMILY}:{near}/...?" if near else ""
        raise BenchError(
            f"{backbone_id!r} names no diffusion transformer.{hint}",
            f"Use {USAGE} with one of: {', '.join(VARIANTS)}.",
        )
    if not handling:
        raise BenchError(
            f"{backbone_id!r} names no massive-activation handling.",
            f"Use --backbone {base} for the plain model, or {FAMILY}:{base}/massive-zero4 (or clip4).",
        )
    return VARIANTS[base], parse_massive(handling, backbone_id)
