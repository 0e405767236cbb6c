"""The one planning path of ``bench run`` and :func:`bench.run`: a request (the settings and which of
them the user set) becomes a checked :class:`~bench.plan.study.StudyPlan`.

Both build a :class:`RunRequest` and call :func:`plan_request`, so the same request plans the same
configurations whichever way it was made: a trained file's header fills the settings the user did
not set (``--prompt learned:FILE``, ``--probe linear:FILE``: the file is evaluated as trained), then
:func:`~bench.plan.study.plan_study` checks everything once. It lives here, above ``bench.prompts``,
because reading a learned prompt's header is that package's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.config.run_config import SweepSpec
from bench.plan.study import StudyPlan, plan_study
from bench.registry.tables import Registry

HEADER_SETTINGS = frozenset(
    ("backbone", "weights", "layer", "t", "image_size", "dataset", "dataset_options", "prompt")
)
"""The settings a trained file's header may fill (weights only for a note: a header never picks them)."""
DEFAULTS_THAT_WARN = frozenset(("t", "noise_samples"))
"""Settings an image encoder ignores whose defaults are also values a user types: warned about only
when the user set them (see :func:`bench.plan.setting_warnings.inapplicable_settings`)."""


@dataclass(frozen=True)
class RunRequest:
    """What a user asked a run for.

    Attributes:
        spec: the settings: a config file with the user's overrides.
        typed: the :class:`SweepSpec` fields the user set by name (command-line options given,
            keyword arguments of :func:`bench.run`).
        config_named: ``spec`` comes from a config the user named: its settings count as set, and
            no trained file's header fills any of them.
    """

    spec: SweepSpec
    typed: frozenset[str] = frozenset()
    config_named: bool = False


def plan_request(request: RunRequest, registry: Registry) -> StudyPlan:
    """The checked plan of ``request`` (see the module docstring); ``filled`` and ``file_notes`` of
    the plan say what a trained file's header set.

    Raises:
        BenchError: the first mistake found (a file that is no learned prompt or probe, a backbone
            typed that the prompt was not trained for, any check of ``plan_study``).
    """
    from bench.prompts.header_settings import settings_from_trained_files

    spec, filled, notes = request.spec, {}, []
    if not request.config_named:
        given = set(request.typed & HEADER_SETTINGS)
        spec, filled, notes = settings_from_trained_files(spec, given, registry)
    given = DEFAULTS_THAT_WARN if request.config_named else request.typed & DEFAULTS_THAT_WARN
    plan = plan_study(spec, registry, set(given))
    plan.filled, plan.file_notes = filled, notes
    return plan


@dataclass(frozen=True)
class PlanningReport:
    """What planning tells the user before a run, in words: ``bench run`` prints it, :func:`bench.run`
    sends ``header`` and ``notes`` to its reporter's status and ``warnings`` through
    :func:`warnings.warn`.

    Attributes:
        header: the settings a trained file's header filled (``from the learned prompt's header:
            backbone vit-tiny``), then what those headers say about the run (``note: ...``).
        warnings: settings given that nothing in the run uses (:attr:`StudyPlan.warnings`).
        notes: combinations of a sweep left out (``note: ...``; :attr:`StudyPlan.notes`).
    """

    header: list[str]
    warnings: list[str]
    notes: list[str]

    @classmethod
    def of(cls, plan: StudyPlan) -> PlanningReport:
        """The words of ``plan``'s report."""
        filled = [
            f"from the {what}'s header: {key} {plain(value)}" for key, (what, value) in plan.filled.items()
        ]
        return cls(
            header=[*filled, *(f"note: {line}" for line in plan.file_notes)],
            warnings=list(plan.warnings),
            notes=[f"note: {line}" for line in plan.notes],
        )


def plain(value: Any) -> str:
    """A setting as a user would type it: ``a, b`` for tuples, ``k=v`` for mappings."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "(none)"
    if isinstance(value, tuple):
        return ", ".join(map(str, value))
    return str(value)
