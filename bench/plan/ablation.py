"""One-factor-at-a-time ablation studies: a base configuration and its one-axis variants.

A config's ``ablation`` table (see :class:`bench.config.run_config.SweepSpec`) names the study and, per axis,
the values to try; every variant changes exactly one axis of the base. The training axes
(:data:`TRAINING_AXES`: ``train_fraction``, ``train_count``) change one setting of the base's
``train`` table, so a study trains one prompt per value (the low-data regime, Koley et al.'s
Figure 4). ``bench run`` runs each
distinct configuration once and tags its results with the (axis, value) rows it stands for, so
``bench leaderboard`` can render the study as one table (the base row appears once per axis).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bench.api.choices import SWEEP_AXES, TRAINING_AXES
from bench.api.errors import BenchError
from bench.config.run_config import SweepSpec
from bench.config.training import training_settings

StudyTag = dict[str, Any]  # {"study", "axis", "value", "base", "order": [axis index, value index]}


def _base_value(spec: SweepSpec, axis: str) -> Any:
    if axis in TRAINING_AXES:
        return training_settings(spec.train, "The config's train table")[axis]
    value = getattr(spec, axis)
    if axis not in SWEEP_AXES:
        return value
    if len(value) != 1:
        raise BenchError(
            f"The ablation's base configuration has {len(value)} values of {axis} ({list(value)}).",
            f"Give the base exactly one {axis}: the study varies it through `vary`.",
        )
    return value[0]


def _variant(base: SweepSpec, axis: str, value: Any, base_value: Any) -> SweepSpec:
    """``base`` with ``axis`` set to ``value`` (``base`` itself for a training axis at its base value,
    so the base runs once whether or not its train table spells the default out)."""
    if axis in SWEEP_AXES:
        return replace(base, **{axis: (value,)})
    if axis not in TRAINING_AXES:
        return replace(base, **{axis: value})
    train = {**base.train, axis: value}
    training_settings(train, f"The ablation's {axis} value {value!r}")
    return base if value == base_value else replace(base, train=train)


def ablation_variants(spec: SweepSpec) -> list[tuple[SweepSpec, list[StudyTag]]]:
    """The distinct configurations of ``spec``'s study (the base first), each with its tags.

    The ``ablation`` table's form was checked by the schema (:class:`bench.config.run_config.AblationTable`).

    Raises:
        BenchError: a base with several values on a sweep axis, or a training axis value that is no
            valid training setting (with the base's train table).
    """
    name, vary = spec.ablation["name"], spec.ablation["vary"]
    base = replace(spec, ablation={})
    variants: dict[str, tuple[SweepSpec, list[StudyTag]]] = {repr(base): (base, [])}
    for axis_index, (axis, values) in enumerate(vary.items()):
        base_value = _base_value(spec, axis)
        for value_index, value in enumerate(values):
            variant = _variant(base, axis, value, base_value)
            tag = {
                "study": name,
                "axis": axis,
                "value": value,
                "base": value == base_value,
                "order": [axis_index, value_index],
            }
            variants.setdefault(repr(variant), (variant, []))[1].append(tag)
    return [(variant, tags) for variant, tags in variants.values() if tags]
