"""The configurations a checked study plan will run, as a table (``bench run --dry-run``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:  # the plan imports pydantic and the registry; this module is imported after planning
    from bench.plan.runs import PlannedRun
    from bench.plan.study import StudyPlan

HEADERS = ("Dataset", "Backbone", "Layer", "t", "Prompt", "Probe", "Noise draws", "Trains", "Study rows")


def _dash(value: object) -> str:
    return "–" if value is None else str(value)


def _trains(run: PlannedRun) -> str:
    """What the run trains before it evaluates: its prompt, its linear probe, both, or nothing."""
    trained = (("prompt", run.train), ("probe", run.probe_train))
    parts = [what for what, settings in trained if settings is not None]
    return ", ".join(parts) or "–"


def planned_table(plan: StudyPlan) -> Table:
    """One row per planned configuration, in run order; in an ablation study, a last column names
    the (axis, value) rows of the study each configuration stands for."""
    study = any(sweep.tags for sweep in plan.sweeps)
    table = Table(title="Planned configurations (dry run)", title_justify="left")
    for header in HEADERS if study else HEADERS[:-1]:
        table.add_column(header)
    for sweep in plan.sweeps:
        rows = [", ".join(f"{tag['axis']}={tag['value']}" for tag in sweep.tags)] if study else []
        for run in sweep.runs:
            table.add_row(
                run.dataset.id,
                run.backbone.id,
                run.layer.name,
                _dash(run.t),
                run.prompt,
                run.probe or "none",
                _dash(run.noise_samples),
                _trains(run),
                *rows,
            )
    return table
