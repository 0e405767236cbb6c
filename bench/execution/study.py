"""What ``bench run`` executes: a checked study plan (one sweep, or an ablation study's base and
variants) on one runner, so a backbone shared by consecutive sweeps loads once; and what
``bench train --probe`` executes on one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.api.reporting import Reporter
from bench.execution.runner import FinishedRun, StudyRunner
from bench.plan.study import StudyPlan
from bench.registry.tables import Registry


def execute(
    plan: StudyPlan, registry: Registry, reporter: Reporter, command: list[str] | None = None
) -> tuple[list[FinishedRun], bool]:
    """Run every sweep of ``plan``; ``command`` is the command line recorded in results (default:
    the process's).

    Returns:
        (finished runs, whether this is the main process: only it scores and writes results).
    """
    runner = StudyRunner(plan, registry, reporter, command)
    return runner.run(), runner.world.is_main


def train_probe(plan: StudyPlan, registry: Registry, reporter: Reporter, output: Path, resume: bool) -> Any:
    """``bench train --probe linear``: train the probe of ``plan``'s one configuration on its train
    split's descriptors (through the feature cache) and save it to ``output``.

    Returns:
        The :class:`~bench.prompts.triplet_training.TrainOutcome` on the main process, None on the others.
    """
    return StudyRunner(plan, registry, reporter).train_probe(plan.runs[0], plan.sweeps[0], output, resume)
