"""``bench leaderboard``: render (or check) the leaderboard of results files in a registered format."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from bench.api.choices import REPORTED_SECTIONS
from bench.api.errors import BenchError
from bench.api.files import output_problem
from bench.cli.console import stdout
from bench.cli.options import command_registry, plugin_option, plugin_set

REPO_ROOT = Path(__file__).resolve().parents[2]
LIST_FORMATS = ""  # the value of a bare --format: list the registered formats


class FormatOption(click.Option):
    """``--format``: its help lists the formats the installed plugins register."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        try:
            specs = plugin_set(ctx).build_registry().evaluation_specs()
        except BenchError:  # a broken plugin: the help still shows
            return record
        if record is None:
            return None
        forms = "; ".join(f"{i} ({specs.leaderboard_format(i).description})" for i in specs.format_ids())
        return record[0], f"{record[1]} Registered: {forms}."


@dataclass(frozen=True)
class BoardSources:
    """What the page shows beside the measured runs: the reported numbers (TOML; None: the
    project's), which of their sections (:data:`~bench.api.choices.REPORTED_SECTIONS`), and the chance
    levels of the published benchmarks (TOML; None: the project's)."""

    reported: Path | None
    reported_sections: str
    chance: Path | None


def _file_option(name: str, help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """An option naming one file (never a folder), None when left out."""
    return click.option(name, type=click.Path(dir_okay=False, path_type=Path), default=None, help=help_text)


def _source_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--reported``, ``--reported-sections`` and ``--chance``, passed to ``command`` as one
    :class:`BoardSources` (``sources``)."""

    @functools.wraps(command)
    def with_sources(
        *args: Any, reported: Path | None, reported_sections: str, chance: Path | None, **kwargs: Any
    ):
        return command(*args, sources=BoardSources(reported, reported_sections, chance), **kwargs)

    options = [
        _file_option(
            "--reported", "Reported numbers (TOML). Default: leaderboard/reported.toml of this project."
        ),
        click.option(
            "--reported-sections",
            type=click.Choice(REPORTED_SECTIONS),
            default="measured",
            show_default=True,
            help="Which reported numbers to show: those of benchmarks the results measured, all of them "
            "(a section for each benchmark reported, run or not), or none.",
        ),
        _file_option(
            "--chance",
            "Chance levels of the published benchmarks (TOML). Default: leaderboard/chance.toml here.",
        ),
    ]
    for option in reversed(options):
        with_sources = option(with_sources)
    return with_sources


@click.command("leaderboard")
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path), required=False)
@_file_option("--output", "The file to write (or check); default: print to stdout.")
@click.option(
    "--format",
    "output_format",
    cls=FormatOption,
    default="md",
    is_flag=False,
    flag_value=LIST_FORMATS,
    show_default=True,
    help="A registered leaderboard format; `--format` alone lists them (`bench list formats`).",
)
@_source_options
@click.option(
    "--check", is_flag=True, help="Do not write; exit 1 when the file on disk (in --format) is stale."
)
@plugin_option
@click.pass_context
def leaderboard_command(
    ctx: click.Context,
    results_dir: Path | None,
    output: Path | None,
    output_format: str,
    sources: BoardSources,
    check: bool,
    plugin_files,
) -> None:
    """Render the leaderboard of the results files below RESULTS_DIR in a registered format (the
    markdown page, CSV, LaTeX, JSON, or a plugin's)."""
    from bench.results.leaderboard import load_leaderboard, render

    registry = command_registry(ctx, plugin_files)
    specs = registry.evaluation_specs()
    if output_format == LIST_FORMATS:
        from bench.cli.info_commands import print_sections
        from bench.cli.listing import format_sections

        print_sections(format_sections(registry))
        return
    specs.leaderboard_format(output_format)  # an unknown format fails before anything is read
    results_dir = _checked_arguments(results_dir, output, check)
    board = load_leaderboard(
        results_dir,
        sources.reported or _project_file("reported.toml"),
        specs,
        link_base=output.parent if output is not None else Path.cwd(),
        chance_path=sources.chance or _project_file("chance.toml"),
        reported_sections=sources.reported_sections,
    )
    text = render(board, output_format)
    if check:
        assert output is not None  # checked above
        sections = sources.reported_sections
        options = f" --reported-sections {sections}" if sections != "measured" else ""
        _check(output, text, results_dir, output_format, options)
    elif output is None:
        click.echo(text, nl=False)
    else:
        _write(output, text)


def _checked_arguments(results_dir: Path | None, output: Path | None, check: bool) -> Path:
    """``results_dir``, once the arguments are known to make sense: a results folder that exists,
    ``--output`` with ``--check``, and an output file that can be created.

    Raises:
        BenchError: the first argument that does not.
    """
    if results_dir is None:
        raise BenchError("bench leaderboard needs RESULTS_DIR.", "Pass a `bench run --output-dir` folder.")
    if not results_dir.is_dir():
        raise BenchError(f"Results directory {str(results_dir)!r} does not exist.", "Run `bench run` first.")
    if check and output is None:
        raise BenchError("--check compares a file.", "Pass --output FILE (and its --format).")
    problem = output_problem(output) if output is not None and not check else None
    if problem:
        raise _cannot_write(output, problem)
    return results_dir


def _write(output: Path, text: str) -> None:
    """Write the rendered leaderboard ``text`` to ``output`` (creating its folder) and say so."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        raise _cannot_write(output, exc.strerror or str(exc)) from exc
    stdout.print(f"Wrote {output}")


def _check(output: Path, text: str, results_dir: Path, output_format: str, options: str) -> None:
    """Say that ``output`` is up to date, or raise :class:`BenchError` when it differs from ``text``
    (``options``: the command line's other options, for the command that regenerates it)."""
    try:
        current = output.read_bytes()
    except FileNotFoundError:
        current = None
    if current != text.encode("utf-8"):
        state = "missing" if current is None else "stale"
        option, rendered = (
            ("", "") if output_format == "md" else (f" --format {output_format}", f" as {output_format}")
        )
        raise BenchError(
            f"{output} is {state}: it differs from what the results in {results_dir} render{rendered}.",
            f"Regenerate it with `bench leaderboard {results_dir}{option}{options} --output {output}`.",
        )
    stdout.print(f"{output} is up to date.")


def _cannot_write(output: Path, reason: str) -> BenchError:
    return BenchError(
        f"Cannot write the leaderboard to {str(output)!r}: {reason}.",
        "Pass --output a file in a folder you can write to (with free space), or leave --output out "
        "to print to stdout.",
    )


def _project_file(name: str) -> Path | None:
    """``leaderboard/<name>`` of this project, when it is there (an installed copy may lack it)."""
    path = REPO_ROOT / "leaderboard" / name
    return path if path.is_file() else None
