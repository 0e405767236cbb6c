"""Backbone names of this plugin (no torch): registered ids, ``dit:<id>/massive-<mode><k>`` and
``dit:<id>/ditf``.

The ``dit`` family turns an optional massive-activation handling on for a registered diffusion
transformer: ``dit:sd35-medium/massive-zero4`` is ``sd35-medium`` with the 4 most massive channels of
every tap zeroed; ``dit:flux1-dev/ditf`` reads FLUX.1-dev's taps as DiTF does (:mod:`bench_dit.ditf`).
Its own id keeps its descriptors (cache, results) apart from the plain model's.
"""

from __future__ import annotations

from bench import BenchError, closest_match
from bench_dit.architecture import VARIANTS, DiTVariant
from bench_dit.ditf import DiTF, ditf_for
from bench_dit.massive import MassiveActivations, parse_massive

FAMILY = "dit"
USAGE = "dit:<id>/massive-<zero|clip><k> | dit:<id>/ditf"
EXAMPLE = "dit:sd3-tiny/massive-zero2"

Handling = MassiveActivations | DiTF


def variant_of(backbone_id: str) -> tuple[DiTVariant, Handling | None]:
    """The architecture and massive-activation handling a backbone id names.

    Raises:
        BenchError: a ``dit:`` name of an unknown id or handling, or DiTF for a model without a
            channel list.
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
            f"Use --backbone {base} for the plain model, or {FAMILY}:{base}/massive-zero4 (or clip4, or "
            f"{FAMILY}:{base}/ditf).",
        )
    if handling == DiTF.name:
        return VARIANTS[base], ditf_for(VARIANTS[base])
    return VARIANTS[base], parse_massive(handling, backbone_id)
