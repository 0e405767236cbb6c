"""The one validation stage: a sweep (or an ablation study's base and variants) resolved and checked
whole, before any model loads.

:func:`plan_study` runs every check that needs no model, for every configuration of every variant:
ids, layers, timesteps against each backbone's own schedule, prompts, data roots and options
(every dataset is opened, its test splits checked non-empty), query texts, ensembles, weights
availability, device and dtype names. A mistake in the last variant of a study fails in seconds,
with nothing extracted and no results file written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.api.errors import BenchError
from bench.config.run_config import SweepSpec
from bench.plan.ablation import StudyTag, ablation_variants
from bench.plan.ensembles import EnsemblePlan, plan_ensembles
from bench.plan.identity import dataset_key
from bench.plan.query_text import QueryTexts, check_query_text, query_texts
from bench.plan.runs import PlannedRun, plan_sweep
from bench.plan.setting_warnings import inapplicable_settings
from bench.plan.settings import ExecutionSettings
from bench.registry.tables import Registry


@dataclass(frozen=True)
class PlannedSweep:
    """One sweep of a study, resolved.

    Attributes:
        spec: its settings (an ablation variant, or the whole run).
        tags: the rows of the ablation study its results stand for (empty outside a study).
        runs: its configurations, in sweep order.
        ensembles: the feature ensembles it scores after its runs (one per dataset, or none).
    """

    spec: SweepSpec
    tags: list[StudyTag]
    runs: list[PlannedRun]
    ensembles: list[EnsemblePlan]


@dataclass
class StudyPlan:
    """Everything ``bench run`` will do, checked.

    Attributes:
        sweeps: the sweeps, in order (one, or an ablation study's base and variants).
        spec: the settings planned (with the ablation table of a study).
        settings: how every run of the plan executes (the base sweep's; an ablation study varies
            none of them).
        datasets: every dataset the runs use, opened once (by :func:`~bench.plan.identity.dataset_key`).
        texts: the query texts of each dataset (``--query-text``), by (source, dataset key).
        warnings: settings left out because nothing in the run uses them (printed by the caller).
        notes: combinations of a sweep left out because a plain ``--layer`` or ``--prompt`` value
            does not apply to a backbone (see :mod:`bench.plan.per_backbone`; printed by the caller).
        filled: the settings a trained file's header filled in (key -> (the file's kind, value);
            see ``bench.execution.planning``); file_notes: what those headers say about the run.
    """

    sweeps: list[PlannedSweep]
    spec: SweepSpec
    settings: ExecutionSettings
    datasets: dict[tuple, Any] = field(default_factory=dict)
    texts: dict[tuple, QueryTexts] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    filled: dict[str, tuple[str, Any]] = field(default_factory=dict)
    file_notes: list[str] = field(default_factory=list)

    @property
    def runs(self) -> list[PlannedRun]:
        return [run for sweep in self.sweeps for run in sweep.runs]

    def dataset(self, run: PlannedRun) -> Any:
        """The opened dataset of ``run``."""
        return self.datasets[dataset_key(run)]

    def query_texts(self, run: PlannedRun) -> QueryTexts | None:
        """The texts of ``run``'s queries with ``--query-text``, else None."""
        if run.query_text is None:
            return None
        return self.texts[(run.query_text, *dataset_key(run))]


def check_device_and_dtype(settings: ExecutionSettings) -> None:
    """Raise :class:`BenchError` for a dtype the device cannot run (the schema checked the names; no
    torch: whether a named GPU exists is checked when the run starts)."""
    if settings.dtype == "fp16" and settings.device == "cpu":
        raise BenchError("fp16 is not supported on the CPU.", "Use --dtype bf16 or fp32.")


def plan_study(spec: SweepSpec, registry: Registry, given: set[str] | None = None) -> StudyPlan:
    """Resolve and check every configuration of ``spec`` (see the module docstring).

    ``given`` names the settings the user set (for warnings about settings nothing uses; see
    :func:`~bench.plan.setting_warnings.inapplicable_settings`).

    Raises:
        BenchError: the first mistake found, in any variant.
    """
    settings = ExecutionSettings.of(spec)
    check_device_and_dtype(settings)
    variants = ablation_variants(spec) if spec.ablation else [(spec, [])]
    sweeps = []
    notes: list[str] = []
    for variant, tags in variants:
        runs = plan_sweep(variant, registry, notes)
        check_query_text(variant, runs, registry)
        sweeps.append(PlannedSweep(variant, tags, runs, plan_ensembles(variant, runs)))
    plan = StudyPlan(sweeps, spec, settings, notes=list(dict.fromkeys(notes)))
    for sweep in sweeps:
        for warning in inapplicable_settings(sweep.spec, sweep.runs, given):
            if warning not in plan.warnings:
                plan.warnings.append(warning)
        for run in sweep.runs:
            key = dataset_key(run)
            if key not in plan.datasets:
                plan.datasets[key] = run.open_dataset()
            if run.query_text is not None and (run.query_text, *key) not in plan.texts:
                plan.texts[(run.query_text, *key)] = query_texts(
                    run.query_text, plan.datasets[key], run.dataset.id
                )
    return plan
