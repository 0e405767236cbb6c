"""``bench rescore``: metrics recomputed from per-query logs, checked against their results files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from bench.api.errors import BenchError
from bench.cli.console import note, stdout
from bench.cli.options import command_registry, plugin_option

if TYPE_CHECKING:
    from bench.api.evaluation import EvaluationSpecs


@dataclass
class Rescored:
    """One log's metrics and how they compare with a results file.

    Attributes:
        log: the log's path; run, task: its run name and task.
        values: metric name -> the value recomputed from the log.
        results: the results file compared with (None: none found).
        differences: the metrics whose values differ from the results file's (name, log, file).
        compared: how many metrics both hold.
    """

    log: Path
    run: str
    task: str
    values: dict[str, float]
    results: Path | None = None
    differences: list[tuple[str, float, float]] | None = None
    compared: int = 0

    def verdict(self) -> str:
        if self.results is None:
            return "no results file to compare"
        if not self.compared:
            return f"{self.results.name} reports none of these metrics"
        if not self.differences:
            count = f"{self.compared} metric{'s' if self.compared > 1 else ''}"
            return f"equal to {self.results.name} to the last bit ({count})"
        return f"differs from {self.results.name}: " + "; ".join(
            f"{name} {mine!r} (log) vs {theirs!r} (file)" for name, mine, theirs in self.differences
        )


@click.command("rescore")
@click.argument("logs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="A registered metric to compute (repeatable), whether or not the run reported it, e.g. "
    "mAP@200, P@100, R@5, MeanR (`bench list metrics`). Default: the metrics the run reported.",
)
@click.option(
    "--compare",
    type=click.Path(path_type=Path),
    help="A results file, or a folder of them (searched for <run>.json), to compare with. Default: "
    "the results file beside each log.",
)
@click.option("--json", "as_json", is_flag=True, help="Print {log: {metric: value}} as JSON (every digit).")
@plugin_option
@click.pass_context
def rescore_command(
    ctx: click.Context,
    logs: tuple[Path, ...],
    metrics: tuple[str, ...],
    compare: Path | None,
    as_json: bool,
    plugin_files,
) -> None:
    """Recompute metrics from the per-query logs LOG... (`bench run --log-samples` writes
    <run>.samples.jsonl.gz beside each results file).

    Each metric is its registered per-query function on the ranks of every query's relevant items,
    aggregated as the run aggregates it: the run's own metrics equal its results file to the last
    bit, and any other registered metric comes from the same log without rerunning anything.
    Exits with 1 when a value differs from the results file it is compared with. Example:

        bench rescore results/synthetic/*.samples.jsonl.gz --metric mAP@all --metric P@5 --metric MeanR
    """
    from bench.evaluation.log_rescoring import rescore
    from bench.evaluation.samples import read_query_log

    if compare is not None and compare.is_file() and len(logs) > 1:
        raise BenchError(
            f"--compare {str(compare)!r} is one results file, for {len(logs)} logs.",
            "Pass one log with it, or a folder of results files (each log is compared with <run>.json).",
        )
    specs = command_registry(ctx, plugin_files).evaluation_specs()
    for name in metrics:
        specs.metric(name, "--metric")  # an unknown name fails before any log is read
    found = []
    for path in logs:
        log = read_query_log(path)
        item = Rescored(path, log.run, log.task, rescore(log, specs, metrics or None))
        _compare(item, _results_file(path, log.run, compare), specs)
        found.append(item)
    if as_json:
        click.echo(json.dumps({str(item.log): item.values for item in found}, indent=2))
    else:
        for table in _tables(found, specs):
            stdout.print(table)
    for item in found:
        note(f"{item.log}: {item.verdict()}")
    if any(item.differences for item in found):
        ctx.exit(1)


def _results_file(log: Path, run: str, compare: Path | None) -> Path | None:
    """The results file to compare the log of ``run`` with: ``compare`` itself, ``<run>.json`` below
    the folder ``compare``, or the file beside the log; None when there is none."""
    from bench.evaluation.samples import results_path_of

    if compare is None:
        beside = results_path_of(log)
        return beside if beside.is_file() else None
    if compare.is_file():
        return compare
    if not compare.is_dir():
        raise BenchError(f"--compare {str(compare)!r} does not exist.", "Pass a results file or a folder.")
    matches = sorted(compare.rglob(f"{run}.json"))
    if not matches:
        raise BenchError(
            f"No results file {run}.json below {str(compare)!r} for the log {str(log)!r}.",
            "Pass the folder `bench run --output-dir` wrote, or leave --compare out.",
        )
    return matches[0]


def _compare(item: Rescored, path: Path | None, specs: EvaluationSpecs) -> None:
    from bench.results.schema import read_result

    if path is None:
        return
    reported = read_result(path, specs).metrics
    shared = [name for name in item.values if name in reported]
    item.results, item.compared = path, len(shared)
    # to the last bit: the exact float, not a tolerance
    item.differences = [
        (name, item.values[name], reported[name]) for name in shared if item.values[name] != reported[name]
    ]


def _tables(found: list[Rescored], specs: EvaluationSpecs) -> list[Table]:
    """One table per task: a row per log, a column per metric (its registered digits)."""
    tables = []
    for task in sorted({item.task for item in found}, key=specs.task_rank):
        rows = [item for item in found if item.task == task]
        names = list(dict.fromkeys(name for item in rows for name in item.values))
        table = Table(title=f"Rescored from per-query logs: {escape(task)}", title_justify="left")
        table.add_column("Run")
        for name in names:
            table.add_column(escape(name), justify="right")
        table.add_column("Results file")
        for item in rows:
            cells = [specs.metric(n).format(item.values[n]) if n in item.values else "–" for n in names]
            mark = "–" if not item.compared else ("differs" if item.differences else "equal")
            table.add_row(escape(item.run), *cells, mark)
        tables.append(table)
    return tables
