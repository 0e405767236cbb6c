"""``bench leaderboard``: render (or check) the markdown leaderboard from results files."""

from __future__ import annotations

from pathlib import Path

import click

from bench.api.choices import REPORTED_SECTIONS
from bench.api.errors import BenchError
from bench.api.files import output_problem
from bench.cli.console import stdout
from bench.cli.options import command_registry, plugin_option

REPO_ROOT = Path(__file__).resolve().parents[2]
FORMATS = ("md", "csv", "latex", "json")


@click.command("leaderboard")
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The file to write (or check); default: print to stdout.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="md",
    show_default=True,
    help="md (the leaderboard page), csv (one row per entry and metric, numbers round-trip), latex "
    "(booktabs tables of the best configuration per backbone) or json (everything, for programs).",
)
@click.option(
    "--reported",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Reported numbers (TOML). Default: leaderboard/reported.toml of this project.",
)
@click.option(
    "--reported-sections",
    type=click.Choice(REPORTED_SECTIONS),
    default="measured",
    show_default=True,
    help="Which reported numbers to show: those of benchmarks the results measured, all of them "
    "(a section for each benchmark reported, run or not), or none.",
)
@click.option(
    "--chance",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Chance levels of the published benchmarks (TOML). Default: leaderboard/chance.toml here.",
)
@click.option("--check", is_flag=True, help="Do not write; exit 1 when the file on disk is stale.")
@plugin_option
@click.pass_context
def leaderboard_command(
    ctx: click.Context,
    results_dir: Path,
    output: Path | None,
    output_format: str,
    reported: Path | None,
    reported_sections: str,
    chance: Path | None,
    check: bool,
    plugin_files,
) -> None:
    """Render the leaderboard of the results files below RESULTS_DIR (markdown, CSV, LaTeX or JSON)."""
    from bench.results.leaderboard import check_leaderboard, load_sections, render_leaderboard
    from bench.results.leaderboard.exports import render_csv, render_json, render_latex

    if plugin_files:  # the leaderboard reads results files only; a plugin file is still checked
        command_registry(ctx, plugin_files)
    reported = reported or _project_file("reported.toml")
    chance = chance or _project_file("chance.toml")
    if not results_dir.is_dir():
        raise BenchError(f"Results directory {str(results_dir)!r} does not exist.", "Run `bench run` first.")
    if check:
        if output is None or output_format != "md":
            raise BenchError("--check compares a markdown file.", "Pass --output FILE (and no --format).")
        fresh = check_leaderboard(
            results_dir,
            reported,
            output,
            link_base=output.parent,
            chance_path=chance,
            reported_sections=reported_sections,
        )
        if not fresh:
            raise BenchError(
                f"{output} is stale: it differs from what the results in {results_dir} render.",
                f"Regenerate it with `bench leaderboard {results_dir} --output {output}"
                f" --reported-sections {reported_sections}`.",
            )
        stdout.print(f"{output} is up to date.")
        return
    problem = output_problem(output) if output is not None else None
    if problem:
        raise _cannot_write(output, problem)
    link_base = output.parent if output is not None else Path.cwd()
    chosen = {"link_base": link_base, "chance_path": chance, "reported_sections": reported_sections}
    if output_format == "md":
        text = render_leaderboard(results_dir, reported, **chosen)
    else:
        sections = load_sections(results_dir, reported, **chosen)
        text = {"csv": render_csv, "latex": render_latex, "json": render_json}[output_format](sections)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        raise _cannot_write(output, exc.strerror or str(exc)) from exc
    stdout.print(f"Wrote {output}")


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
