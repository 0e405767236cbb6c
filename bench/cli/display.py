"""Rich rendering: results tables, component listings, progress bars (no torch)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from bench.results.naming import natural_key

if TYPE_CHECKING:  # the schema imports pydantic, which listings and --help do not need
    from bench.api.evaluation import EvaluationSpecs
    from bench.results.schema import RunResult

CONFIG_COLUMNS = ("dataset", "backbone", "layer", "t", "prompt")
TRAINING_DATA = "training_data"  # a column only where runs trained on different parts of the data
MIN_DESCRIPTION_WIDTH = 12  # a listing's description keeps this much when the other columns fill the width


class RichReporter:
    """Progress bars with throughput and ETA, and status lines, on ``console`` (stderr)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def status(self, message: str) -> None:
        self.console.print(f"[dim]{escape(message)}[/dim]", highlight=False, soft_wrap=True)

    @contextlib.contextmanager
    def progress(self, description: str, total: int, unit: str = "img") -> Iterator[Callable[[int], None]]:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(f"{{task.fields[rate]}} {unit}/s"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self.console, transient=False) as progress:
            task = progress.add_task(description, total=total, rate="–")

            def advance(count: int) -> None:
                progress.advance(task, count)
                speed = progress.tasks[task].speed
                progress.update(task, rate=f"{speed:.1f}" if speed else "–")

            yield advance


def format_metric(specs: EvaluationSpecs, name: str, value: float | None) -> str:
    """``value`` with its metric's registered digits; ``–`` when missing."""
    return "–" if value is None else specs.metric(name).format(value)


def metric_columns(results: Sequence[RunResult]) -> list[str]:
    """The datasets' paper columns first, then every other metric in natural order (as the
    leaderboard orders them): the same columns whether a result was just computed or read back
    from its file (``--skip-existing``), whose metrics are stored sorted."""
    paper = list(dict.fromkeys(c for r in results for c in r.dataset.get("columns", [])))
    others = sorted({m for r in results for m in r.metrics} - set(paper), key=natural_key)
    return paper + others


def table_title(specs: EvaluationSpecs, task: str, columns: Sequence[str]) -> str:
    """``Zero-shot category-level SBIR (fractions)``: the task's title and its columns' units (with
    the lower-is-better metrics named)."""
    metrics = [specs.metric(name) for name in columns]
    notes = list(dict.fromkeys(metric.unit.note for metric in metrics))
    lower = [metric.name for metric in metrics if not metric.higher_is_better]
    if lower:
        notes.append(f"lower is better: {', '.join(lower)}")
    return f"{specs.task(task).title} ({'; '.join(notes)})"


def results_tables(
    results: Sequence[RunResult], specs: EvaluationSpecs, *, intervals: bool = False
) -> list[Table]:
    """One table per task (in registration order): a row per configuration, paper columns first
    (bold headers), values with their metrics' digits (with ``intervals``, each value's recorded
    bootstrap interval under it)."""
    tables = []
    for task in sorted({r.task for r in results}, key=specs.task_rank):
        rows = [r for r in results if r.task == task]
        paper = {c for r in rows for c in r.dataset.get("columns", [])}
        columns = metric_columns(rows)
        table = Table(title=table_title(specs, task, columns), title_justify="left")
        query_text = ["query_text"] if any(r.config.get("query_text") for r in rows) else []  # sketch+text
        draws = {r.config["noise_samples"] for r in rows if r.config.get("noise_samples") is not None}
        noise = ["noise_samples"] if len(draws) > 1 else []  # image encoders have none
        subsets = {training_data(r.config) for r in rows}
        subset = [TRAINING_DATA] if len(subsets) > 1 else []  # a low-data study
        probe = ["probe"] if any(r.config.get("probe") for r in rows) else []  # linear probes
        config_columns = [*CONFIG_COLUMNS, *probe, *noise, *subset, *query_text]
        for column in config_columns:
            table.add_column(column.replace("_", " ").capitalize() if column != "t" else "t")
        for column in columns:
            header = escape(column)  # a metric name with [brackets] is not rich markup
            table.add_column(f"[bold]{header}[/bold]" if column in paper else header, justify="right")
        notes = dict.fromkeys(f"{r.config['backbone']}: {r.backbone_note}" for r in rows if r.backbone_note)
        if intervals:
            notes.update(dict.fromkeys(_interval_note(r.intervals) for r in rows if r.intervals))
        if notes:
            table.caption = escape("; ".join(notes))
            table.caption_justify = "left"
        for r in rows:
            config = [_config_cell(r.config, c) for c in config_columns]
            table.add_row(*config, *(_metric_cell(specs, c, r, intervals) for c in columns))
        chance = _chance_rows(rows, config_columns, columns, specs)
        if chance:
            table.rows[-1].end_section = True  # a rule between the runs and their chance levels
        for cells in chance:
            table.add_row(*cells, style="dim")
        tables.append(table)
    return tables


def _metric_cell(specs: EvaluationSpecs, name: str, result: RunResult, intervals: bool) -> str | Text:
    """The value of metric ``name`` in ``result``; with ``intervals``, its interval below it (dim)."""
    value = format_metric(specs, name, result.metrics.get(name))
    bounds = (result.intervals or {}).get("bounds", {}).get(name) if intervals else None
    if bounds is None:
        return value
    low, high = (format_metric(specs, name, bound) for bound in bounds)
    return Text.assemble(value, "\n", (f"[{low}, {high}]", "dim"))


_PLURAL = {"query": "queries", "class": "classes"}


def _interval_note(intervals: dict) -> str:
    """``95% percentile bootstrap intervals (1000 resamples of queries)``."""
    return (
        f"{100 * intervals['level']:g}% {intervals['method']} intervals "
        f"({intervals['resamples']} resamples of {_PLURAL.get(intervals['unit'], intervals['unit'])})"
    )


def training_data(config: dict) -> str | None:
    """How much of the training data a run's learned prompt (or, without one, its linear probe) was
    trained on: ``25%`` of each class, ``2/class``, or None (nothing trained, or an ensemble's
    joined settings)."""
    train = config.get("train") or config.get("probe_train")
    if not isinstance(train, dict):
        return None
    if train.get("train_count") is not None:
        return f"{train['train_count']}/class"
    return f"{100 * train.get('train_fraction', 1.0):g}%"


def _config_cell(config: dict, column: str) -> str:
    value = training_data(config) if column == TRAINING_DATA else config.get(column)
    return "–" if value is None else str(value)


def _chance_rows(
    rows: Sequence[RunResult], config_columns: Sequence[str], columns: Sequence[str], specs: EvaluationSpecs
) -> list[list[str]]:
    """One row per dataset of ``rows`` that records chance levels: the metrics of a random ranking."""
    chance: dict[str, dict[str, float]] = {}
    for r in rows:
        if r.chance and r.config.get("dataset") not in chance:
            chance[str(r.config.get("dataset"))] = r.chance["metrics"]
    cells = []
    for dataset, values in chance.items():
        config = [dataset if c == "dataset" else "chance" if c == "backbone" else "" for c in config_columns]
        cells.append([*config, *(format_metric(specs, c, values.get(c)) for c in columns)])
    return cells


def listing_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *, width: int | None = None
) -> Table:
    """A table of text cells. ``width``: one line per row within that many columns: every column as
    wide as its widest cell but the last (a description), which is cut with an ellipsis to fit."""
    table = Table(title=title, title_justify="left")
    widths = [max((len(row[index]) for row in rows), default=0) for index in range(len(headers))]
    widths = [max(cell, len(header)) for cell, header in zip(widths, headers, strict=True)]
    frame = 3 * len(headers) + 1  # a space either side of each cell, and the rules between and around
    for index, header in enumerate(headers):
        if width is None:
            table.add_column(header)
        elif index < len(headers) - 1:
            table.add_column(header, no_wrap=True, min_width=widths[index])
        else:
            rest = max(width - frame - sum(widths[:-1]), MIN_DESCRIPTION_WIDTH)
            table.add_column(header, no_wrap=True, overflow="ellipsis", max_width=rest)
    for row in rows:
        table.add_row(*row)
    return table
