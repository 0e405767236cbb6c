"""Per-backbone values of a sweep axis: ``--layer sd-mini=up0`` beside plain values.

A sweep over several backbones crosses every backbone with every value of ``--layer``, ``--prompt``
and ``--probe``. A value written ``BACKBONE=VALUE`` (one of the sweep's backbones) is that backbone's
own: a backbone given values of its own takes exactly those (as ``--weights BACKBONE=W`` overrides
``--weights W``); every other backbone takes the plain values. A plain value that does not apply to
some of those backbones (``up0`` is no DINOv2 tap, a text prompt means nothing to an image encoder)
leaves those combinations out with a note; a backbone left with no value runs its default (its
default layer, prompt ``none``, probe ``none``). A plain value that applies to none of them is the
error it always was (a typo), and so is a value of a backbone's own that does not apply to it.

The same spelling works in config files: ``layer = ["sd-mini=up0", "block-1"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from bench.api.components import BackboneInfo
from bench.api.errors import BenchError

T = TypeVar("T")


@dataclass(frozen=True)
class AxisValues:
    """The values of one sweep axis as given, split by backbone.

    Attributes:
        option: the command-line option (``--layer``), named in notes and errors.
        own: backbone id -> its own values (from ``BACKBONE=VALUE``), each once, in the order given.
        plain: the values for every other backbone, each once, in the order given.
    """

    option: str
    own: dict[str, tuple[str, ...]]
    plain: tuple[str, ...]


def split_axis(values: Sequence[str], backbones: Sequence[str], option: str) -> AxisValues:
    """``values`` of ``option`` split into each backbone's own (``BACKBONE=VALUE`` naming one of
    ``backbones``, the sweep's backbone ids) and the plain ones.

    Raises:
        BenchError: ``NAME=VALUE`` where NAME is no backbone of the sweep but reads as one (no ``:``
            before the ``=``; a prompt's text may hold ``=``, as in ``text:a=b``).
    """
    own: dict[str, list[str]] = {}
    plain: list[str] = []
    for value in values:
        name, sep, rest = value.partition("=")
        if sep and name in backbones:
            own.setdefault(name, []).append(rest)
        elif sep and ":" not in name:
            raise BenchError(
                f"{option} {value!r} is for backbone {name!r}, which this sweep does not run "
                f"(it runs {', '.join(dict.fromkeys(backbones))}).",
                f"Write {option} BACKBONE=VALUE with a --backbone of the sweep (e.g. {option} "
                f"{backbones[0]}=...), or a plain value for every backbone.",
            )
        else:
            plain.append(value)
    return AxisValues(
        option,
        {name: tuple(dict.fromkeys(items)) for name, items in own.items()},
        tuple(dict.fromkeys(plain)),
    )


@dataclass(frozen=True)
class PerBackbone(Generic[T]):
    """What an axis resolved to: each backbone's values, and a note per combination left out."""

    values: dict[str, list[T]]
    notes: list[str]


def resolve_axis(
    axis: AxisValues,
    backbones: Sequence[BackboneInfo],
    resolve: Callable[[str, BackboneInfo], T],
    default: Callable[[BackboneInfo], str],
) -> PerBackbone[T]:
    """Each backbone's values of ``axis``, resolved by ``resolve(value, backbone)`` (which raises
    :class:`BenchError` for a value that does not apply); ``default(backbone)`` is the value of a
    backbone that has none (see the module docstring).

    Raises:
        BenchError: a backbone's own value that does not apply to it, or a plain value that applies to
            no backbone taking plain values (the error of its first backbone).
    """
    values: dict[str, list[T]] = {}
    left_out: dict[str, list[tuple[BackboneInfo, BenchError]]] = {}
    takers = [backbone for backbone in backbones if backbone.id not in axis.own]
    defaults: list[BackboneInfo] = []
    for backbone in backbones:
        if backbone.id in axis.own:
            values[backbone.id] = [resolve(value, backbone) for value in axis.own[backbone.id]]
            continue
        resolved = []
        for value in axis.plain:
            try:
                resolved.append(resolve(value, backbone))
            except BenchError as exc:
                left_out.setdefault(value, []).append((backbone, exc))
        if not resolved:
            resolved = [resolve(default(backbone), backbone)]
            if axis.plain:
                defaults.append(backbone)
        values[backbone.id] = resolved
    for failures in left_out.values():
        if len(failures) == len(takers):
            raise failures[0][1]
    notes = [
        f"{axis.option} {value} does not apply to {backbone.id} (not run with it): {exc.message}"
        for value, failures in left_out.items()
        for backbone, exc in failures
    ]
    if axis.plain and not takers:
        values_text = ", ".join(axis.plain)
        notes.append(
            f"{axis.option} {values_text} applies to no backbone: each has {axis.option} values of its own"
        )
    notes += [
        f"{backbone.id} runs with {axis.option} {default(backbone)} (its default): no {axis.option} value "
        f"of this sweep applies to it; {axis.option} {backbone.id}=VALUE gives it values of its own"
        for backbone in defaults
    ]
    return PerBackbone(values, notes)
