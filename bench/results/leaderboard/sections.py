"""Grouping runs and reported rows into one section per (task, dataset)."""

from __future__ import annotations

from bench.results.leaderboard.model import ReportedRow, Run, Section, is_number
from bench.results.leaderboard.reported import reported_identity

TASK_ORDER = ("zs-sbir", "fg-sbir")


def build_sections(runs: list[Run], reported: list[ReportedRow]) -> list[Section]:
    """Group runs and reported rows by (task, dataset), sorted by task order then dataset id."""
    keys = {(run.result.task, run.result.dataset["id"]) for run in runs}
    keys |= {(row.task, row.dataset) for row in reported}
    sections = []
    for task, dataset in sorted(keys, key=_section_order):
        own_runs = [run for run in runs if (run.result.task, run.result.dataset["id"]) == (task, dataset)]
        own_reported = [row for row in reported if (row.task, row.dataset) == (task, dataset)]
        columns = _paper_columns(own_runs, own_reported)
        sections.append(
            Section(
                task=task,
                dataset=dataset,
                columns=columns,
                runs=tuple(_sort_runs(own_runs, columns)),
                reported=tuple(_sort_reported(own_reported, columns)),
            )
        )
    return sections


def _section_order(key: tuple[str, str]) -> tuple[int, str, str]:
    """Known tasks in ``TASK_ORDER`` first, then any other task alphabetically; then dataset id."""
    task, dataset = key
    rank = TASK_ORDER.index(task) if task in TASK_ORDER else len(TASK_ORDER)
    return rank, task, dataset


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


def _sort_runs(runs: list[Run], columns: tuple[str, ...]) -> list[Run]:
    """Best first by the first paper column (runs without it last); ties by run name."""
    first = columns[0] if columns else None
    return sorted(runs, key=lambda run: (_descending(run.result.metrics.get(first)), run.name))


def _sort_reported(rows: list[ReportedRow], columns: tuple[str, ...]) -> list[ReportedRow]:
    """Best first by the first paper column (rows without it last); ties by source, method, backbone."""
    first = columns[0] if columns else None
    return sorted(rows, key=lambda row: (_descending(row.metrics.get(first)), *reported_identity(row)))


def _descending(value: object) -> tuple[int, float]:
    """Sort key placing larger numbers first and non-numbers last."""
    return (0, -value) if is_number(value) else (1, 0.0)
