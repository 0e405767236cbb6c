"""The ``bench`` command line (thin: the work lives in planning, runner, leaderboard).

Importing this module imports no torch or model library; ``bench run`` imports them when it
starts computing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from bench import __version__
from bench.cache_command import CACHE_ENV, cache_group
from bench.cli_options import plugin_option
from bench.components import POOLINGS
from bench.errors import BenchError
from bench.listing import LIST_KINDS
from bench.plugins import PluginSet, load_plugins
from bench.registry import Registry
from bench.sweep import (
    DTYPE_NAMES,
    ENSEMBLE_METHODS,
    load_config,
    parse_assignments,
    parse_option_values,
    parse_weights,
)
from bench.train_command import train_command

WIDTH_WHEN_PIPED = 200  # rich would wrap tables and messages at 80 columns when not on a terminal


def _console(**kwargs) -> Console:
    console = Console(**kwargs)
    if not console.is_terminal:
        console.width = WIDTH_WHEN_PIPED
    return console


stdout = _console()
stderr = _console(stderr=True)
REPO_ROOT = Path(__file__).resolve().parent.parent
SPEC_OPTIONS = ("backbone", "weights", "layer", "t", "image_size", "dataset", "dataset_options")


class BenchGroup(click.Group):
    """A click group that prints :class:`BenchError` as one message (traceback only with --debug)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BenchError as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            stderr.print(
                f"[bold red]Error:[/bold red] {escape(exc.message)}", highlight=False, soft_wrap=True
            )
            if exc.hint:
                stderr.print(escape(exc.hint), highlight=False, soft_wrap=True)
            ctx.exit(1)


def _plain(value: object) -> str:
    """A setting as a user would type it: ``a, b`` for tuples, ``k=v`` for mappings."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "(none)"
    if isinstance(value, tuple):
        return ", ".join(map(str, value))
    return str(value)


def _registry(ctx: click.Context, plugin_files: tuple[str, ...]) -> Registry:
    plugins: PluginSet = ctx.obj["plugins"]
    for path in plugin_files:
        plugins.add_file(Path(path))
    registry = plugins.build_registry()
    for warning in plugins.warnings:
        stderr.print(f"[yellow]Warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    return registry


def build_cli(plugins: PluginSet) -> click.Group:
    """The ``bench`` group with the built-in commands and every plugin's ``register_commands``."""

    @click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="sbir-bench")
    @click.option("--debug", is_flag=True, envvar="SBIR_BENCH_DEBUG", help="Show tracebacks for errors.")
    @click.pass_context
    def cli(ctx: click.Context, debug: bool) -> None:
        """Benchmark backbones for sketch-based image retrieval (ZS-SBIR and FG-SBIR).

        Start with `bench run` (a tiny Stable Diffusion on the generated synthetic benchmark),
        then `bench list` to see what is installed.
        """
        ctx.obj = {"debug": debug, "plugins": plugins}

    cli.add_command(run_command)
    cli.add_command(list_command)
    cli.add_command(plugins_command)
    cli.add_command(leaderboard_command)
    cli.add_command(cache_group)
    cli.add_command(train_command)
    for warning in plugins.add_commands(cli):
        stderr.print(f"[yellow]Warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    return cli


@click.command("run")
@click.option(
    "--config", "config_name", default=None, help="A named config (configs/NAME.toml) or a .toml file."
)
@click.option(
    "--backbone", multiple=True, help="Backbone id (repeat for a sweep). See `bench list backbones`."
)
@click.option(
    "--layer", multiple=True, help="Tap, tap+tap, or selector (repeat for a sweep). See `bench list layers`."
)
@click.option(
    "--t",
    "timesteps",
    multiple=True,
    type=click.IntRange(0, 999),
    help="Diffusion timestep 0..999 (repeat for a sweep).",
)
@click.option("--prompt", multiple=True, help="Prompt scheme: none, text:<template> (repeat for a sweep).")
@click.option(
    "--query-text",
    metavar="SOURCE",
    help="Sketch+text queries: condition each query sketch on a text, `caption` (its caption, or its "
    "photo's) or `text:<words>` (one text for all); gallery photos keep --prompt. Text backbones only.",
)
@click.option("--dataset", multiple=True, help="Dataset id (repeat for a sweep). See `bench list datasets`.")
@click.option("--data-root", multiple=True, help="Dataset root DIR, or DATASET=DIR per dataset.")
@click.option("--dataset-option", multiple=True, help="KEY=VALUE passed to the datasets that take KEY.")
@click.option("--weights", multiple=True, help="Weights (hub id or local dir), or BACKBONE=WEIGHTS.")
@click.option(
    "--noise-samples", type=click.IntRange(min=1), help="Noise draws averaged per image (paper: 6)."
)
@click.option("--seed", type=int, help="Run seed (noise draws).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Images per backbone call.")
@click.option("--device", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--dtype", type=click.Choice(DTYPE_NAMES), help="Model precision.")
@click.option("--pool", type=click.Choice(POOLINGS), help="Pooling of feature maps (default: the layer's).")
@click.option("--image-size", type=click.IntRange(min=16), help="Input resolution (default: the backbone's).")
@click.option(
    "--output-dir", type=click.Path(file_okay=False), help="Where results files go (default: results)."
)
@click.option("--workers", type=click.IntRange(min=0), help="Threads reading images ahead of the backbone.")
@click.option("--strict", is_flag=True, help="Stop at the first unreadable image instead of skipping it.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    help=f"Feature cache (default: ${CACHE_ENV} or the user cache).",
)
@click.option("--cache-dtype", type=click.Choice(("fp16", "fp32")), help="Precision of cached descriptors.")
@click.option(
    "--compile", "compile_", is_flag=True, help="torch.compile the backbone (slow start, faster long runs)."
)
@click.option(
    "--ensemble",
    type=click.Choice(ENSEMBLE_METHODS),
    help="Also score the sweep's configurations of each dataset combined: mean or concat of their "
    "L2-normalised descriptors, or score-sum of their cosine similarities (from the cache, no extraction).",
)
@click.option(
    "--ensemble-weights",
    metavar="W1,W2,...",
    help="score-sum weights, one per configuration of a dataset in sweep order (default 1 each).",
)
@click.option(
    "--train-option",
    multiple=True,
    metavar="KEY=VALUE",
    help="Training setting for learned prompt schemes the run trains (visual, textual, visual+textual), "
    "e.g. epochs=3; keys as `bench train`'s options (with _ for -).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print results as JSON on stdout (progress stays on stderr)."
)
@plugin_option
@click.pass_context
def run_command(ctx: click.Context, config_name, plugin_files, as_json, compile_, **options) -> None:
    """Extract descriptors and score retrieval for every configuration of a sweep.

    With no options, runs the default configuration (configs/default.toml). Repeating --backbone,
    --layer, --t, --prompt or --dataset runs their product. Example:

        bench run --backbone sd15 --layer up1 --t 200 --dataset sketchy --data-root DIR
    """
    registry = _registry(ctx, plugin_files)
    config = load_config(config_name or "default")
    train_options = parse_option_values(options["train_option"], "--train-option")
    spec = config.overridden(
        train={**config.train, **train_options} if train_options else None,
        backbone=options["backbone"],
        layer=options["layer"],
        t=options["timesteps"],
        prompt=options["prompt"],
        dataset=options["dataset"],
        data_root=parse_assignments(options["data_root"], "--data-root", "DATASET"),
        weights=parse_assignments(options["weights"], "--weights", "BACKBONE"),
        dataset_options=parse_option_values(options["dataset_option"]),
        noise_samples=options["noise_samples"],
        seed=options["seed"],
        batch_size=options["batch_size"],
        device=options["device"],
        dtype=options["dtype"],
        pool=options["pool"],
        image_size=options["image_size"],
        output_dir=options["output_dir"],
        workers=options["workers"],
        strict=options["strict"],
        compile=compile_,
        cache_dir=options["cache_dir"],
        cache_dtype=options["cache_dtype"],
        ensemble=options["ensemble"],
        ensemble_weights=parse_weights(options["ensemble_weights"]),
        query_text=options["query_text"],
    )
    if not config_name:  # `bench run --prompt learned:FILE` evaluates the prompt as it was trained
        from bench.trained_prompts import settings_from_learned_prompt

        named = {"t": "timesteps", "dataset_options": "dataset_option"}
        given = {key for key in SPEC_OPTIONS if options.get(named.get(key, key))}
        spec, filled = settings_from_learned_prompt(spec, given)
        if filled:
            shown = "; ".join(f"{key} {_plain(value)}" for key, value in filled.items())
            stderr.print(f"[dim]from the learned prompt's header: {escape(shown)}[/dim]")
    from bench.execute import execute, plan_all

    plans = plan_all(spec, registry)
    count = sum(len(planned) for _, _, planned in plans)
    study = f" in an ablation study of {len(plans)} sweep(s)" if spec.ablation else ""
    stderr.print(f"[dim]{count} configuration(s){study}; results go to {spec.output_dir}/[/dim]")

    from bench.display import RichReporter, results_tables

    finished, is_main = execute(plans, registry, RichReporter(stderr))
    if not is_main:  # other processes only extracted into the shared cache
        return
    if as_json:
        payload = [{**item.result.to_dict(), "path": str(item.path)} for item in finished]
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    for table in results_tables([item.result for item in finished]):
        stdout.print(table)
    directories = sorted({str(item.path.parent) for item in finished})
    stdout.print(f"{len(finished)} results file(s) written to {', '.join(directories)}")


@click.command("list")
@click.argument("kind", required=False, type=click.Choice(LIST_KINDS))
@click.option("--backbone", "backbone_id", help="Only this backbone's layers (with `layers`).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@plugin_option
@click.pass_context
def list_command(
    ctx: click.Context, kind: str | None, backbone_id: str | None, as_json: bool, plugin_files
) -> None:
    """List registered backbones, layers, prompt schemes and datasets, with the plugin owning each."""
    from bench.display import listing_table
    from bench.listing import listing_tables

    registry = _registry(ctx, plugin_files)
    tables = [t for k in ([kind] if kind else LIST_KINDS) for t in listing_tables(registry, k, backbone_id)]
    if as_json:
        payload = {
            title: [dict(zip(headers, row, strict=True)) for row in rows] for title, headers, rows in tables
        }
        click.echo(json.dumps(payload, indent=2))
        return
    for title, headers, rows in tables:
        stdout.print(listing_table(title, headers, rows))


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@plugin_option
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool, plugin_files) -> None:
    """List plugins: where each came from, whether it loaded, and the hooks it implements."""
    from bench.display import listing_table

    _registry(ctx, plugin_files)
    plugins: PluginSet = ctx.obj["plugins"]
    rows = [
        [
            r.name,
            r.source,
            "loaded" if r.error is None else ("blocked" if r.error == "blocked" else f"failed: {r.error}"),
            ", ".join(plugins.hooks_of(r.name)),
        ]
        for r in plugins.records
    ]
    headers = ["Plugin", "Source", "Status", "Hooks"]
    if as_json:
        click.echo(json.dumps([dict(zip(headers, row, strict=True)) for row in rows], indent=2))
        return
    stdout.print(listing_table("Plugins", headers, rows))


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
def leaderboard_command(results_dir: Path, output: Path, reported: Path | None, check: bool) -> None:
    """Render the markdown leaderboard from the results files below RESULTS_DIR."""
    from bench.leaderboard import check_leaderboard, render_leaderboard

    if reported is None:
        default = REPO_ROOT / "leaderboard" / "reported.toml"
        reported = default if default.is_file() else None
    if not results_dir.is_dir():
        raise BenchError(f"Results directory {str(results_dir)!r} does not exist.", "Run `bench run` first.")
    try:
        if check:
            if not check_leaderboard(results_dir, reported, output, link_base=output.parent):
                raise BenchError(
                    f"{output} is stale: it differs from what the results in {results_dir} render.",
                    f"Regenerate it with `bench leaderboard {results_dir} --output {output}`.",
                )
            stdout.print(f"{output} is up to date.")
            return
        text = render_leaderboard(results_dir, reported, link_base=output.parent)
    except ValueError as exc:
        raise BenchError(str(exc), "Fix or remove that file.") from exc
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8", newline="\n")
    stdout.print(f"Wrote {output}")


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        plugins = load_plugins()
    except BenchError as exc:  # a bad SBIR_BENCH_PLUGINS file
        stderr.print(f"[bold red]Error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    build_cli(plugins)(prog_name="bench")


if __name__ == "__main__":
    main()
