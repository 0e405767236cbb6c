"""``bench datasets check NAME --data-root DIR``: validate a dataset root without loading a backbone.

Prints what the adapter found (per class and per split, against the published test lists), the
problems that would stop a run, harmless differences, and the files that do not decode. Exits 1
when the root cannot be used. Works for any registered dataset: adapters of this plugin report
through ``inspect_root``; other datasets are opened and their splits counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from bench import (
    BenchError,
    DatasetInfo,
    ImageItem,
    RichReporter,
    command_console,
    command_registry,
    listing_table,
    load_rgb,
    parse_option_values,
    plugin_option,
    resolve_target,
)
from bench_datasets.base import SPLIT_NAMES, ClassCount, LayoutReport

DECODE_CHOICES = ("test", "all", "none")
DECODE_THREADS = 8
ROLE_TITLES = {
    "unseen": "Unseen classes (test)",
    "seen": "Seen classes (training)",
    "test": "Test split",
    "train": "Training split",
}


@click.group("datasets")
def datasets_group() -> None:
    """Inspect dataset roots on disk (see `bench list datasets` for the datasets)."""


@datasets_group.command("check")
@click.argument("name")
@click.option("--data-root", type=click.Path(path_type=Path), help="The dataset root to check.")
@click.option("--dataset-option", "option_values", multiple=True, help="KEY=VALUE, as for `bench run`.")
@click.option(
    "--decode",
    type=click.Choice(DECODE_CHOICES),
    default="test",
    show_default=True,
    help="Which images to decode to find unreadable files: query and gallery, every split, or none.",
)
@click.option("--all-classes", is_flag=True, help="List every seen (training) class, not only a summary.")
@plugin_option
@click.pass_context
def check_command(
    ctx: click.Context,
    name: str,
    data_root: Path | None,
    option_values: tuple[str, ...],
    decode: str,
    all_classes: bool,
    plugin_files: tuple[str, ...],
) -> None:
    """Validate dataset NAME at --data-root: layout, classes, counts per split and class, unreadable files.

    Example: bench datasets check sketchy --data-root /data/Sketchy
    """
    registry = command_registry(ctx, plugin_files)
    info = registry.datasets.get(name)
    options = parse_option_values(option_values)
    unknown = sorted(set(options) - set(info.options))
    if unknown:
        valid = ", ".join(info.options) or "(none)"
        raise BenchError(f"Dataset {name!r} takes no option {', '.join(unknown)}.", f"Its options: {valid}.")
    report, load = open_report(info, data_root, options)
    items = _items_to_decode(report, decode)
    unreadable = decode_all(items, load)
    out = command_console()
    print_report(out, report, show_seen=all_classes)
    print_unreadable(out, unreadable, len(items), decode)
    problems = len(report.problems) + len(unreadable)
    if problems:
        out.print(f"[bold red]{problems} problem(s): {name} cannot be run from this root.[/bold red]")
        ctx.exit(1)
    root_option = f" --data-root {report.root}" if info.needs_root else ""
    out.print(f"[bold green]OK[/bold green]: `bench run --dataset {name}{root_option}` can read it.")


def open_report(
    info: DatasetInfo, root: Path | None, options: dict[str, Any]
) -> tuple[LayoutReport, Callable[[ImageItem], Any]]:
    """The adapter's report of ``root`` and how to decode one of its items."""
    factory = resolve_target(info.target, f"dataset {info.id!r}")
    inspect = getattr(factory, "inspect_root", None)
    if inspect is not None:
        return inspect(root, scan_train=True, **options), lambda item: load_rgb(item.path)
    if info.needs_root and (root is None or not root.is_dir()):
        layout = f"\nExpected layout:\n{info.expected_layout}" if info.expected_layout else ""
        raise BenchError(f"Dataset {info.id!r} needs an existing --data-root (got {root}).", layout.strip())
    try:
        dataset = factory(root, **options) if info.needs_root else factory(**options)
    except (ValueError, FileNotFoundError) as exc:  # what the runner also reports as a bad root or option
        raise BenchError(
            f"Dataset {info.id!r} could not be opened: {exc}", info.expected_layout or None
        ) from exc
    return _counted_report(info, dataset, root), dataset.load_image


def _counted_report(info: DatasetInfo, dataset: Any, root: Path | None) -> LayoutReport:
    """A report for a dataset without ``inspect_root``: its splits counted per label."""
    splits = {name: dataset.split(name) for name in SPLIT_NAMES}
    counts = {name: Counter(item.label for item in items) for name, items in splits.items()}
    test_labels = set(counts["query"]) | set(counts["gallery"])
    labels = list(dict.fromkeys(item.label for items in splits.values() for item in items))
    rows = [
        ClassCount(
            "unseen" if label in test_labels else "seen", label, {n: counts[n][label] for n in SPLIT_NAMES}
        )
        for label in labels
    ]
    return LayoutReport(
        info.id, info.description, root, info.expected_layout, dataset.describe(), rows, splits
    )


def _items_to_decode(report: LayoutReport, decode: str) -> list[ImageItem]:
    names = {"test": ("query", "gallery"), "all": SPLIT_NAMES, "none": ()}[decode]
    return [item for name in names for item in report.splits.get(name, [])]


def decode_all(items: Sequence[ImageItem], load: Callable[[ImageItem], Any]) -> list[str]:
    """The error (naming the file) of each item that does not decode, in item order (decoded by threads)."""

    def attempt(item: ImageItem) -> str | None:
        try:
            load(item)
        except BenchError as exc:
            return exc.message
        return None

    failures = []
    with (
        ThreadPoolExecutor(DECODE_THREADS) as pool,
        RichReporter(command_console(stderr=True)).progress("decoding", len(items)) as advance,
    ):
        for error in pool.map(attempt, items):
            advance(1)
            if error is not None:
                failures.append(error)
    return failures


def _cell(found: int, published: int | None) -> str:
    if published is None or published == found:
        return f"{found:,}"
    return f"{found:,} [yellow](published {published:,})[/yellow]"


def class_table(title: str, rows: Sequence[ClassCount]):
    """Rows as a table: each count column, its published value where it differs, renamed folders."""
    columns = list(dict.fromkeys(key for row in rows for key in row.counts))
    has_folders = any(row.folders for row in rows)
    headers = ["Class", *(c.capitalize() for c in columns), *(["Folders"] if has_folders else [])]
    lines = [
        [
            escape(row.name),
            *(_cell(row.counts[c], row.published.get(c)) for c in columns),
            *([escape(row.folders)] if has_folders else []),
        ]
        for row in rows
    ]
    return listing_table(title, headers, lines)


def _split_table(report: LayoutReport):
    lines = []
    for name, items in report.splits.items():
        modalities = Counter(item.modality for item in items)
        labels = len({item.label for item in items})
        lines.append(
            [name, f"{len(items):,}", f"{modalities['sketch']:,}", f"{modalities['photo']:,}", str(labels)]
        )
    return listing_table("Splits", ["Split", "Items", "Sketches", "Photos", "Classes"], lines)


def print_report(out: Console, report: LayoutReport, show_seen: bool) -> None:
    """The report as tables: facts, classes per role, splits, then problems and notes."""
    facts = [["dataset", report.dataset], ["root", str(report.root or "–")]]
    facts += [[key, str(value)] for key, value in report.facts.items()]
    facts = [[key, escape(value)] for key, value in facts]
    out.print(listing_table(report.title, ["Fact", "Value"], facts))
    for role in dict.fromkeys(row.role for row in report.rows):
        rows = [row for row in report.rows if row.role == role]
        title = ROLE_TITLES.get(role, role)
        if role == "seen" and not show_seen:
            totals = Counter()
            for row in rows:
                totals.update(row.counts)
            summary = ", ".join(f"{value:,} {key}" for key, value in totals.items())
            out.print(f"{title}: {len(rows)} classes, {summary} (--all-classes lists them).")
            continue
        out.print(class_table(title, rows))
    out.print(_split_table(report))
    for problem in report.problems:
        out.print(f"[red]problem:[/red] {escape(problem)}", highlight=False, soft_wrap=True)
    for note in report.notes:
        out.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
    if report.problems:
        out.print(f"Expected layout:\n{escape(report.expected_layout)}", highlight=False)


def print_unreadable(out: Console, unreadable: Sequence[str], decoded: int, decode: str) -> None:
    if decode == "none":
        out.print("Images were not decoded (--decode none).")
        return
    for error in unreadable:
        out.print(f"[red]unreadable:[/red] {escape(error)}", highlight=False, soft_wrap=True)
    readable = decoded - len(unreadable)
    out.print(f"{readable:,} of {decoded:,} decoded images are readable ({decode} splits).")
