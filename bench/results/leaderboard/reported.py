"""Numbers papers reported (``leaderboard/reported.toml``), read and checked against its schema."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from bench.api.bounded_read import read_bounded_text
from bench.api.choices import REPORTED_SECTIONS
from bench.api.errors import BenchError
from bench.api.evaluation import EvaluationSpecs
from bench.api.validation import Name, SchemaModel, check_nesting, validated
from bench.results.leaderboard.model import Definition, ReportedRow, Run
from bench.results.schema import SPECS_KEY, MetricName, TaskName, within_unit

MAX_REPORTED_BYTES = 4 * 2**20


class ReportedEntry(SchemaModel):
    """One ``[[reported]]`` table: what ``source`` reports for ``method`` on ``dataset`` (a benchmark
    of ``task``: default, the registered dataset's task)."""

    dataset: Name
    method: Name
    backbone: Name
    source: Name
    metrics: Annotated[dict[MetricName, float], Field(min_length=1), AfterValidator(within_unit)]
    arxiv: (
        Annotated[str, Field(pattern=r"^[0-9]{4}\.[0-9]{4,5}$", description="an arXiv id like 2403.07214")]
        | None
    ) = None
    protocol: Name | None = None
    task: TaskName | None = None


class ReportedFile(SchemaModel):
    """The whole file: ``[[reported]]`` entries and nothing else."""

    reported: list[ReportedEntry] = []


class ReferenceChance(SchemaModel):
    """One ``[[chance]]`` table of ``leaderboard/chance.toml``: a published benchmark's chance levels,
    computed from its per-class test counts by ``benchmarks/reference_chance.py``."""

    dataset: Name
    split: Name
    queries: Annotated[int, Field(ge=1)]
    gallery: Annotated[int, Field(ge=1)]
    classes: Annotated[int, Field(ge=1)]
    rankings: Annotated[int, Field(ge=1)]
    seed: Annotated[int, Field(ge=0)]
    metrics: Annotated[dict[MetricName, float], Field(min_length=1), AfterValidator(within_unit)]
    methods: dict[MetricName, Literal["exact", "simulated"]]


class ChanceFile(SchemaModel):
    """The whole chance file: ``[[chance]]`` entries and nothing else."""

    chance: list[ReferenceChance] = []


def load_reference_chance(path: Path, specs: EvaluationSpecs) -> dict[str, dict]:
    """Chance levels per dataset id from a chance file (see :class:`ReferenceChance`), in the form of
    a results file's ``chance`` plus the split and counts they were computed from.

    Raises:
        BenchError: naming the file and key for unreadable TOML or a schema violation.
    """
    entries = validated(
        ChanceFile,
        _read_toml(Path(path)),
        str(path),
        context={SPECS_KEY: specs},
        hint="Regenerate it with `python benchmarks/reference_chance.py`.",
    ).chance
    return {entry.dataset: entry.model_dump() for entry in entries}


def _read_toml(path: Path) -> dict:
    """The parsed TOML of ``path`` (bounded, nesting checked), or :class:`BenchError` naming it."""
    text = read_bounded_text(path, MAX_REPORTED_BYTES, "Reference numbers file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"{path}: not a readable TOML file ({exc}).", "Fix the file's syntax.") from exc
    except RecursionError:
        raise BenchError(f"{path}: nests too deeply to read.") from None
    check_nesting(data, str(path))
    return data


def load_reported(path: Path, specs: EvaluationSpecs) -> list[ReportedRow]:
    """Read ``[[reported]]`` entries from a TOML file, in file order, each with its task: the
    entry's ``task``, else its dataset's registered task, else the one task whose metrics are the
    entry's.

    Raises:
        BenchError: naming the file (and the entry's key) for unreadable TOML, an unknown or
            missing field, an unregistered metric or task, a non-numeric or out-of-range metric, a
            repeated (source, method, backbone, dataset), or an entry whose task cannot be told.
    """
    path = Path(path)
    data = _read_toml(path)
    hint = (
        "Each [[reported]] entry has dataset, method, backbone, source (text), metrics (name = number) "
        "and optionally arxiv (an id like 2403.07214), protocol (text) and task (a registered task id)."
    )
    entries = validated(ReportedFile, data, str(path), context={SPECS_KEY: specs}, hint=hint).reported
    rows = [ReportedRow(**{**entry.model_dump(), "task": _task_of(entry, specs, path)}) for entry in entries]
    _check_unique(path, rows)
    return rows


def _task_of(entry: ReportedEntry, specs: EvaluationSpecs, path: Path) -> str:
    """The task of a reported entry (see :func:`load_reported`)."""
    registered = specs.dataset_tasks.get(entry.dataset)
    if entry.task is not None and registered is not None and entry.task != registered:
        raise BenchError(
            f"{path}: the entry of {entry.method!r} on {entry.dataset!r} names task {entry.task!r}, but "
            f"dataset {entry.dataset!r} is registered with task {registered!r}.",
            "Drop the entry's task (the dataset's is used), or correct it.",
        )
    if entry.task is not None or registered is not None:
        return str(entry.task or registered)
    patterns = {specs.metric(name).info.id for name in entry.metrics}
    covering = [
        task
        for task in specs.task_ids()
        if patterns <= {specs.metric(name).info.id for name in specs.task(task).metrics}
    ]
    if len(covering) != 1:
        raise BenchError(
            f"{path}: the entry of {entry.method!r} on {entry.dataset!r}, a dataset no plugin registers, "
            f"could be of {'no task' if not covering else 'tasks ' + ', '.join(covering)}.",
            f"Give the entry a task (one of {', '.join(specs.task_ids())}).",
        )
    return covering[0]


def _check_unique(path: Path, rows: list[ReportedRow]) -> None:
    """Raise :class:`BenchError` when two rows share (source, method, backbone, dataset)."""
    seen: set[tuple[str, str, str, str]] = set()
    for row in rows:
        key = (*reported_identity(row), row.dataset)
        if key in seen:
            raise BenchError(f"{path}: more than one entry for {', '.join(key)}.", "Remove the repeat.")
        seen.add(key)


def reported_identity(row: ReportedRow) -> tuple[str, str, str]:
    """What tells reported rows of one dataset apart: (source, method, backbone)."""
    return row.source, row.method, row.backbone


def select_reported(rows: list[ReportedRow], runs: list[Run], which: str = "measured") -> list[ReportedRow]:
    """The reported rows a leaderboard of ``runs`` shows (``which`` is one of :data:`REPORTED_SECTIONS`):
    ``measured`` keeps the rows of a (task, dataset) that some run measured in its standard
    definition (the section they are ranked in), so a folder of private-dataset results gets no
    sections of paper numbers for benchmarks it never ran; ``all`` keeps every row; ``none`` none."""
    if which == "all":
        return rows
    if which == "none":
        return []
    if which != "measured":
        raise ValueError(f"reported sections {which!r}: one of {', '.join(REPORTED_SECTIONS)} expected")
    definitions = [Definition.of(run.result) for run in runs]
    measured = {(d.task, d.dataset) for d in definitions if d.standard}
    return [row for row in rows if (row.task, row.dataset) in measured]
