"""What ``bench run`` executes: one sweep, or an ablation study's base and variants, on one runner."""

from __future__ import annotations

from bench.ablation import ablation_variants
from bench.planning import PlannedRun, plan_sweep
from bench.registry import Registry
from bench.runner import FinishedRun, Reporter, SweepRunner
from bench.sweep import SweepSpec


def plan_all(spec: SweepSpec, registry: Registry) -> list[tuple[SweepSpec, list[dict], list[PlannedRun]]]:
    """(sweep, study tags, planned runs) for ``spec`` (one entry) or for each configuration of its
    ablation study; every variant is planned (and so validated) before anything runs."""
    variants = ablation_variants(spec) if spec.ablation else [(spec, [])]
    return [(variant, tags, plan_sweep(variant, registry)) for variant, tags in variants]


def execute(
    plans: list[tuple[SweepSpec, list[dict], list[PlannedRun]]], registry: Registry, reporter: Reporter
) -> tuple[list[FinishedRun], bool]:
    """Run every planned sweep on one :class:`SweepRunner` (a backbone loads once for all of them).

    Results of an ablation study carry their study tags (the runner writes them into their files).

    Returns:
        (finished runs, whether this is the main process: only it scores and writes results).
    """
    runner = SweepRunner(plans[0][0], registry, reporter)
    finished: list[FinishedRun] = []
    for variant, tags, planned in plans:
        runner.switch_spec(variant, tags)
        finished.extend(runner.run(planned))
    return finished, runner.world.is_main
