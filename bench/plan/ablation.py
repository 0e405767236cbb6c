"""One-factor-at-a-time ablation studies: a base configuration and its one-axis variants.

A config's ``ablation`` table (see :class:`bench.sweep.SweepSpec`) names the study and, per axis,
the values to try; every variant changes exactly one axis of the base. ``bench run`` runs each
distinct configuration once and tags its results with the (axis, value) rows it stands for, so
``bench leaderboard`` can render the study as one table (the base row appears once per axis).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bench.api.errors import BenchError
from bench.config.run_config import ABLATION_AXES, SWEEP_AXES, SweepSpec

StudyTag = dict[str, Any]  # {"study", "axis", "value", "base", "order": [axis index, value index]}


def _base_value(spec: SweepSpec, axis: str) -> Any:
    value = getattr(spec, axis)
    if axis not in SWEEP_AXES:
        return value
    if len(value) != 1:
        raise BenchError(
            f"The ablation's base configuration has {len(value)} values of {axis} ({list(value)}).",
            f"Give the base exactly one {axis}: the study varies it through `vary`.",
        )
    return value[0]


def _check_study(spec: SweepSpec) -> tuple[str, dict[str, list[Any]]]:
    study = spec.ablation
    unknown = sorted(set(study) - {"name", "vary"})
    name, vary = study.get("name"), study.get("vary")
    if unknown or not isinstance(name, str) or not name or not isinstance(vary, dict) or not vary:
        raise BenchError(
            "The config's ablation table must hold `name` (text) and `vary` (axis -> list of values)"
            + (f"; it has unknown key(s) {', '.join(unknown)}." if unknown else "."),
            "Example (YAML): ablation: {name: paper, vary: {t: [0, 273, 800], prompt: [none, visual]}}",
        )
    for axis, values in vary.items():
        if axis not in ABLATION_AXES:
            raise BenchError(
                f"The ablation varies {axis!r}, which is not an ablation axis.",
                f"Vary any of: {', '.join(ABLATION_AXES)}.",
            )
        if not isinstance(values, list) or not values:
            raise BenchError(f"The ablation's values of {axis!r} must be a non-empty list (got {values!r}).")
    return name, vary


def ablation_variants(spec: SweepSpec) -> list[tuple[SweepSpec, list[StudyTag]]]:
    """The distinct configurations of ``spec``'s study (the base first), each with its tags.

    Raises:
        BenchError: a malformed ``ablation`` table, an unknown axis, or a base with several values
            on a sweep axis.
    """
    name, vary = _check_study(spec)
    base = replace(spec, ablation={})
    variants: dict[str, tuple[SweepSpec, list[StudyTag]]] = {repr(base): (base, [])}
    for axis_index, (axis, values) in enumerate(vary.items()):
        base_value = _base_value(spec, axis)
        for value_index, value in enumerate(values):
            variant = replace(base, **{axis: (value,) if axis in SWEEP_AXES else value})
            tag = {
                "study": name,
                "axis": axis,
                "value": value,
                "base": value == base_value,
                "order": [axis_index, value_index],
            }
            variants.setdefault(repr(variant), (variant, []))[1].append(tag)
    return [(variant, tags) for variant, tags in variants.values() if tags]
