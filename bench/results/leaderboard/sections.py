"""Grouping runs and reported rows into one section per benchmark definition."""

from __future__ import annotations

import json
from dataclasses import replace

from bench.api.evaluation import EvaluationSpecs
from bench.results.leaderboard.model import Definition, LeaderboardSection, ReportedRow, Run, best_first
from bench.results.leaderboard.reported import reported_identity


def build_sections(
    runs: list[Run],
    reported: list[ReportedRow],
    specs: EvaluationSpecs,
    reference_chance: dict[str, dict] | None = None,
) -> list[LeaderboardSection]:
    """One section per benchmark definition (:class:`Definition`), ordered by task (in registration
    order), dataset, then the standard definition first. Reported rows join the standard definition
    of their dataset (the one with the most runs when skipped images split it), or a section of
    their own.
    ``reference_chance`` (dataset id -> chance levels computed from the published class counts)
    gives the chance row of a standard definition whose runs record none (or that has no runs)."""
    by_definition: dict[Definition, list[Run]] = {}
    for run in runs:
        by_definition.setdefault(Definition.of(run.result), []).append(run)
    homes: dict[tuple[str, str], Definition] = {}
    by_size = sorted(by_definition, key=lambda d: (-len(by_definition[d]), d.sort_key()))
    for definition in by_size:
        if definition.standard:
            homes.setdefault((definition.task, definition.dataset), definition)
    for row in reported:
        homes.setdefault((row.task, row.dataset), Definition(row.task, row.dataset))
        by_definition.setdefault(homes[(row.task, row.dataset)], [])
    sections = []
    for definition in sorted(
        by_definition, key=lambda d: (specs.task_rank(d.task), d.dataset, *d.sort_key())
    ):
        own_runs = by_definition[definition]
        is_home = homes.get((definition.task, definition.dataset)) == definition
        own_reported = [
            row
            for row in reported
            if is_home and (row.task, row.dataset) == (definition.task, definition.dataset)
        ]
        columns = _paper_columns(own_runs, own_reported)
        chance, notes = _chance(own_runs)
        reference = (reference_chance or {}).get(definition.dataset)
        if chance is None and definition.standard and reference:
            chance = reference
            notes = (
                *notes,
                f"Chance computed from the published per-class test counts (split {reference['split']}: "
                f"{reference['queries']} sketches, {reference['gallery']} unique photos, "
                f"{reference['classes']} classes; leaderboard/chance.toml).",
            )
        sections.append(
            LeaderboardSection(
                definition=definition,
                columns=columns,
                runs=tuple(_sort_runs(own_runs, columns, specs)),
                reported=tuple(_sort_reported(own_reported, columns, specs)),
                specs=specs,
                chance=chance,
                notes=notes,
            )
        )
    return unique_labels(sections)


def definition_label(definition: Definition) -> str:
    """``dataset`` for a standard definition, else ``dataset (key=value, ..., limit N)``."""
    parts = [f"{key}={value}" for key, value in sorted(definition.option_values.items())]
    if definition.limit is not None:
        parts.append(f"limit {definition.limit}")
    return definition.dataset + (f" ({', '.join(parts)})" if parts else "")


def unique_labels(sections: list[LeaderboardSection]) -> list[LeaderboardSection]:
    """``sections`` with their labels set: :func:`definition_label`, and where two definitions
    share it (same dataset and options, another task or another gallery as scored), the task and
    the gallery facts that tell them apart, so no pivot column or heading stands for two."""
    by_label: dict[str, list[LeaderboardSection]] = {}
    for section in sections:
        by_label.setdefault(definition_label(section.definition), []).append(section)
    labelled = []
    for section in sections:
        label = definition_label(section.definition)
        others = [other.definition for other in by_label[label] if other is not section]
        if others:
            extra = [section.task] if any(other.task != section.task for other in others) else []
            mine = dict(section.definition.facts)
            differing = {key for other in others for key, value in other.facts if mine.get(key) != value}
            differing |= {key for key in mine if any(key not in dict(other.facts) for other in others)}
            extra += [f"{key}={mine.get(key, 'unknown')}" for key in sorted(differing)]
            label += f" [{', '.join(extra)}]" if extra else ""
        labelled.append(replace(section, label=label))
    return labelled


def _chance(runs: list[Run]) -> tuple[dict | None, tuple[str, ...]]:
    """The section's chance levels (its runs' own, which share one gallery), and a note when runs
    without chance levels (older results files) or with differing ones are present."""
    recorded = [run.result.chance for run in sorted(runs, key=lambda run: run.name) if run.result.chance]
    notes = []
    if len(recorded) < len(runs):
        missing = len(runs) - len(recorded)
        notes.append(f"{missing} of the {len(runs)} runs record no chance level (older results files).")
    distinct = {json.dumps(chance["metrics"], sort_keys=True) for chance in recorded}
    if len(distinct) > 1:
        notes.append("The runs record different chance levels; the first run's (by name) is shown.")
    return (recorded[0] if recorded else None), tuple(notes)


def _paper_columns(runs: list[Run], reported: list[ReportedRow]) -> tuple[str, ...]:
    """The dataset's paper columns, in order of first appearance.

    Taken from the runs' ``dataset["columns"]`` (runs sorted by name); for a dataset without runs,
    from the reported rows' metric names in file order.
    """
    columns: dict[str, None] = {}
    for run in sorted(runs, key=lambda run: run.name):
        columns.update(dict.fromkeys(run.result.dataset.get("columns", [])))
    if not runs:
        for row in reported:
            columns.update(dict.fromkeys(row.metrics))
    return tuple(columns)


def _sort_runs(runs: list[Run], columns: tuple[str, ...], specs: EvaluationSpecs) -> list[Run]:
    """Best first by the first paper column, in its direction (runs without it last); ties by run name."""
    first = columns[0] if columns else None
    metric = specs.metric(first) if first else None
    return sorted(runs, key=lambda run: (best_first(run.result.metrics.get(first), metric), run.name))


def _sort_reported(
    rows: list[ReportedRow], columns: tuple[str, ...], specs: EvaluationSpecs
) -> list[ReportedRow]:
    """Best first by the first paper column, in its direction (rows without it last); ties by
    source, method, backbone."""
    first = columns[0] if columns else None
    metric = specs.metric(first) if first else None
    return sorted(rows, key=lambda row: (best_first(row.metrics.get(first), metric), *reported_identity(row)))
