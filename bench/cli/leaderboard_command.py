"""``bench leaderboard``: render (or check) the markdown leaderboard from results files."""

from __future__ import annotations

from pathlib import Path

import click

from bench.api.errors import BenchError
from bench.cli.console import stdout
from bench.cli.options import command_registry, plugin_option

REPO_ROOT = Path(__file__).resolve().parents[2]


@click.command("leaderboard")
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("leaderboard/README.md"),
    show_default=True,
    help="The markdown file to write (or check).",
)
@click.option(
    "--reported",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Reported numbers (TOML). Default: leaderboard/reported.toml of this project.",
)
@click.option("--check", is_flag=True, help="Do not write; exit 1 when the file on disk is stale.")
@plugin_option
@click.pass_context
def leaderboard_command(
    ctx: click.Context, results_dir: Path, output: Path, reported: Path | None, check: bool, plugin_files
) -> None:
    """Render the markdown leaderboard from the results files below RESULTS_DIR."""
    from bench.results.leaderboard import check_leaderboard, render_leaderboard

    if plugin_files:  # the leaderboard reads results files only; a plugin file is still checked
        command_registry(ctx, plugin_files)
    if reported is None:
        default = REPO_ROOT / "leaderboard" / "reported.toml"
        reported = default if default.is_file() else None
    if not results_dir.is_dir():
        raise BenchError(f"Results directory {str(results_dir)!r} does not exist.", "Run `bench run` first.")
    if check:
        if not check_leaderboard(results_dir, reported, output, link_base=output.parent):
            raise BenchError(
                f"{output} is stale: it differs from what the results in {results_dir} render.",
                f"Regenerate it with `bench leaderboard {results_dir} --output {output}`.",
            )
        stdout.print(f"{output} is up to date.")
        return
    text = render_leaderboard(results_dir, reported, link_base=output.parent)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8", newline="\n")
    stdout.print(f"Wrote {output}")
