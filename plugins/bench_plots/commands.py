"""``bench plot sweep``, ``bench plot lowdata``, ``bench plot pca`` and ``bench plot retrievals`` (thin: the
work lives in the modules beside this one).

Imports click and rich only; matplotlib, numpy and torch are imported inside the commands.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource
from rich.markup import escape

import bench
from bench import (
    BenchError,
    RichReporter,
    command_console,
    command_registry,
    parse_option_values,
    plugin_option,
)
from bench_plots.output import checked_output
from bench_plots.sweep_data import REFERENCE_T, forward_order, load_sweep, plottable

if TYPE_CHECKING:  # annotations only: the command imports it (and numpy) when it runs
    from bench_plots.retrieval_data import QueryChoice

DEFAULT_PAIRS = 4


def figure_output_option(default: str):
    """Every plot command's ``--output``: the figure file, its format from the suffix."""
    return click.option(
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path(default),
        show_default=True,
        help="Figure file; .png, .svg or .pdf (the suffix picks the format).",
    )


def dpi_option(default: int):
    """Every plot command's ``--dpi``: the resolution of a PNG figure."""
    return click.option(
        "--dpi", type=click.IntRange(50, 1200), default=default, show_default=True, help="PNG resolution."
    )


def print_written(lines: list[str], output: Path) -> None:
    """Every plot command's summary on stdout: ``lines`` (what the figure shows), then ``Wrote OUTPUT``."""
    stdout = command_console()
    for line in [*lines, f"Wrote {output}"]:
        stdout.print(line, highlight=False)


def _chance(level: float | None) -> str:
    return "no chance level recorded" if level is None else f"chance {level:.4g}"


@click.group("plot")
def plot_group() -> None:
    """Figures: layer x timestep sweeps and the low-data regime from results files, PCA maps of
    sketch and photo features, query sketches with their top-k retrievals."""


@plot_group.command("sweep")
@click.argument("results_dir", type=click.Path(path_type=Path))
@figure_output_option("sweep.png")
@click.option("--metric", help="Metric to show (default: each dataset's first paper column).")
@click.option("--dataset", "datasets", multiple=True, help="Only this dataset (repeatable).")
@click.option("--backbone", "backbones", multiple=True, help="Only this backbone (repeatable).")
@click.option(
    "--reference-t",
    type=click.IntRange(min=0),
    default=REFERENCE_T,
    show_default=True,
    help="Timestep drawn as the reference line (Koley et al.'s operating point).",
)
@dpi_option(200)
@plugin_option
@click.pass_context
def sweep_command(
    ctx: click.Context,
    results_dir: Path,
    output: Path,
    metric: str | None,
    datasets: tuple[str, ...],
    backbones: tuple[str, ...],
    reference_t: int,
    dpi: int,
    plugin_files: tuple[str, ...],
) -> None:
    """Heatmap of a metric over layer x timestep and the metric against timestep, from RESULTS_DIR.

    One row of panels per dataset and backbone found among the results files (e.g. those of
    `bench run --layer up0 --layer up1 --t 50 --t 273 --output-dir DIR`). Example:

        bench plot sweep results --output figures/sweep.svg --metric P@10
    """
    output = checked_output(output)
    registry = command_registry(ctx, plugin_files)
    panels = load_sweep(
        results_dir,
        specs=registry.evaluation_specs(),
        metric=metric,
        datasets=datasets,
        backbones=backbones,
        layer_rank=forward_order(registry),
    )
    panels, single = plottable(panels, results_dir)
    stderr = command_console(stderr=True)
    for panel in single:
        stderr.print(
            "[dim]"
            + escape(
                f"left out {panel.dataset} / {panel.backbone}: one layer ({panel.layers[0]}) at one "
                f"timestep ({panel.timesteps[0]}) is one number, not a figure"
            )
            + "[/dim]",
            highlight=False,
        )
    stderr.print(f"[dim]drawing {len(panels)} panel(s)[/dim]")
    from bench_plots.sweep_figure import render_sweep

    render_sweep(panels, output, reference_t=reference_t, dpi=dpi)
    lines = []
    for panel in panels:
        layer, t, value = panel.best
        lines.append(
            f"{panel.dataset} / {panel.backbone}: {panel.metric} over {len(panel.layers)} layer(s) x "
            f"{len(panel.timesteps)} timestep(s); best {value:.4g} at {layer}, t = {t}; "
            + _chance(panel.chance)
        )
    print_written(lines, output)


@plot_group.command("lowdata")
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path))
@figure_output_option("lowdata.png")
@click.option("--metric", help="Metric to show (default: each dataset's first paper column).")
@click.option("--dataset", "datasets", multiple=True, help="Only this dataset (repeatable).")
@dpi_option(200)
def lowdata_command(
    results: tuple[Path, ...], output: Path, metric: str | None, datasets: tuple[str, ...], dpi: int
) -> None:
    """The metric against the training data per class, one line per configuration (Koley et al.'s
    Figure 4), from the results of prompts trained on part of the data (RESULTS: folders or files).

    The x axis is each run's train_fraction (in %) or, for runs of train_count, the training items
    per class; chance level dashed, 95% intervals shaded. Example:

        bench run --config koley2024/low-data-synthetic --output-dir results/low-data
        bench plot lowdata results/low-data --output figures/low-data.png
    """
    from bench_plots.lowdata_data import curve_summary, load_lowdata

    output = checked_output(output)
    panels = load_lowdata(results, metric=metric, datasets=datasets)
    from bench_plots.lowdata_figure import render_lowdata

    render_lowdata(panels, output, dpi=dpi)
    lines = []
    for panel in panels:
        lines.append(f"{panel.dataset}: {panel.metric} ({_chance(panel.chance)})")
        lines += [f"  {curve_summary(panel, curve)}" for curve in panel.curves]
    print_written(lines, output)


@plot_group.command("pca")
@click.option(
    "--config",
    "config_name",
    help="A named config (configs/NAME) or a TOML or YAML file with the figure's settings (backbone, layer, "
    "t, dataset, prompt, noise_samples, seed, weights, data_root, dataset_options, ...); options given "
    "here override it.",
)
@click.option("--backbone", help="Backbone id (see `bench list backbones`).")
@click.option("--layer", help="A tap with a spatial map, taps joined with '+', or a selector.")
@click.option(
    "--t",
    "timesteps",
    multiple=True,
    type=click.IntRange(min=0),
    help="Diffusion timestep within the backbone's schedule (repeat for one column group per timestep).",
)
@click.option("--dataset", help="Dataset id (see `bench list datasets`).")
@click.option(
    "--pair",
    "pairs",
    type=click.IntRange(1, 64),
    default=DEFAULT_PAIRS,
    show_default=True,
    help="Sketch/photo pairs shown (one row each).",
)
@figure_output_option("pca.png")
@click.option("--data-root", help="Dataset root directory (datasets read from disk).")
@click.option("--dataset-option", multiple=True, help="KEY=VALUE passed to the dataset adapter.")
@click.option("--weights", help="Weights (hub id or local dir) instead of the backbone's default.")
@click.option("--prompt", default="none", show_default=True, help="Prompt scheme: none, text:<template>.")
@click.option(
    "--noise-samples", type=click.IntRange(min=1), default=1, show_default=True, help="Noise draws averaged."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise draws.")
@click.option("--image-size", type=click.IntRange(min=16), help="Input resolution (default: the backbone's).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--dtype", type=click.Choice(("fp32", "fp16", "bf16")), default="fp32", show_default=True)
@dpi_option(200)
@plugin_option
@click.pass_context
def pca_command(
    ctx: click.Context, config_name: str | None, pairs: int, output: Path, dpi: int, plugin_files, **options
) -> None:
    """PCA maps of sketch and photo features, side by side per timestep (Koley et al.'s Figure 5).

    For each pair, the spatial feature map of --layer at each --t; the first three principal
    components, fitted jointly on the sketches' and photos' features of that timestep, are shown
    as red, green and blue next to the input images. Example:

        bench plot pca --backbone sd-tiny --layer up1 --t 50 --t 273 --t 600 --dataset synthetic

    or from a config: bench plot pca --config koley2024/pca-synthetic
    """
    from bench_plots.pair_features import PcaSettings, pair_features
    from bench_plots.pca_config import merged_options
    from bench_plots.pca_figure import PcaColumn, pca_columns, pca_title, render_pca

    output = checked_output(output)
    options["dataset_options"] = parse_option_values(options.pop("dataset_option"))
    config = bench.load_config(config_name) if config_name else None  # pydantic: imported here
    if config is not None:
        given = {name for name in options if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE}
        options = merged_options(options, given, config, config_name)
        plugin_files = (*config.plugins, *plugin_files)
    missing = [f"--{name}" for name in ("backbone", "layer", "dataset") if not options[name]]
    if missing:
        raise BenchError(
            f"`bench plot pca` needs {', '.join(missing)}.",
            "Pass them, or --config with a config that names them (e.g. --config koley2024/pca-synthetic).",
        )
    registry = command_registry(ctx, plugin_files)
    settings = PcaSettings(**{setting.name: options[setting.name] for setting in fields(PcaSettings)})
    features = pair_features(settings, pairs, registry, RichReporter(command_console(stderr=True)))
    inputs = PcaColumn("input images", features.sketches, features.photos)
    title = pca_title(settings, features)
    render_pca(inputs, pca_columns(features), features.labels, output, title=title, dpi=dpi)
    summary = (
        f"{len(features.labels)} pair(s) x {len(features.maps)} timestep(s) of "
        f"{features.info.id} {settings.layer} on {settings.dataset}"
    )
    print_written([summary], output)


@plot_group.command("retrievals")
@click.argument("sources", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--query", "queries", multiple=True, help="Show this query (its key; repeatable).")
@click.option("--random", "random_count", type=click.IntRange(1, 64), help="Show N queries drawn at random.")
@click.option("--best", type=click.IntRange(1, 64), help="Show the N queries of highest average precision.")
@click.option("--worst", type=click.IntRange(1, 64), help="Show the N queries of lowest average precision.")
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the --random draw."
)
@click.option(
    "--top-k", type=click.IntRange(1, 20), default=5, show_default=True, help="Gallery images per query."
)
@figure_output_option("retrievals.png")
@click.option("--data-root", help="Dataset root directory (datasets read from disk).")
@click.option("--cache-dir", help="Feature cache of the results files (default: the one each run recorded).")
@dpi_option(150)
@plugin_option
@click.pass_context
def retrievals_command(
    ctx: click.Context,
    sources: tuple[Path, ...],
    queries: tuple[str, ...],
    random_count: int | None,
    best: int | None,
    worst: int | None,
    seed: int,
    top_k: int,
    output: Path,
    data_root: str | None,
    cache_dir: str | None,
    dpi: int,
    plugin_files,
) -> None:
    """Query sketches with their top-k gallery images, for each configuration SOURCE side by side.

    A SOURCE is a results file (its cached descriptors are re-ranked; nothing is extracted) or a
    per-query log (<run>.samples.jsonl.gz, from `bench run --log-samples`; up to its top 10).
    Relevant images are framed green, others red, with rank and cosine similarity under each; for
    fine-grained and scene tasks each configuration also shows the query's own photo and its rank.
    Queries: --query KEY, --random N (default: 4, --seed), or the first configuration's --best N or
    --worst N by average precision. Example:

        bench plot retrievals results/synthetic/sd-mini_*.json results/synthetic/dinov2-*.json --worst 3
    """
    from bench_plots.retrieval_data import choose_queries, load_source
    from bench_plots.retrieval_figure import (
        Thumbnails,
        figure_title,
        query_panel,
        render_retrievals,
        retrieval_panel,
    )

    choice = _query_choice(queries, random_count, best, worst, seed)
    output = checked_output(output)
    registry = command_registry(ctx, plugin_files)
    specs = registry.evaluation_specs()
    reporter = RichReporter(command_console(stderr=True))
    loaded = [
        load_source(
            path, top_k=top_k, registry=registry, data_root=data_root, cache_dir=cache_dir, reporter=reporter
        )
        for path in sources
    ]
    keys = choose_queries(loaded, choice)
    thumbnails = Thumbnails()
    panels = [retrieval_panel(source, keys, top_k, thumbnails, specs) for source in loaded]
    title = figure_title(loaded, top_k, choice.describe(), specs)
    render_retrievals(query_panel(loaded[0], keys, thumbnails), panels, output, title=title, dpi=dpi)
    lines = [f"{source.path}: {source.how}" for source in loaded]
    print_written([*lines, f"queries ({choice.describe()}): {', '.join(keys)}"], output)


def _query_choice(
    queries: tuple[str, ...], random_count: int | None, best: int | None, worst: int | None, seed: int
) -> QueryChoice:
    """The one way of choosing queries the options name (default: 4 at random)."""
    from bench_plots.retrieval_data import QueryChoice

    given = {
        name: value
        for name, value in (
            ("--query", queries),
            ("--random", random_count),
            ("--best", best),
            ("--worst", worst),
        )
        if value
    }
    if len(given) > 1:
        raise BenchError(
            f"{' and '.join(given)} both choose the queries.",
            "Pass one of --query KEY (repeatable), --random N, --best N or --worst N.",
        )
    if queries:
        return QueryChoice("query", keys=queries)
    if best or worst:
        return QueryChoice("best" if best else "worst", count=best or worst)  # type: ignore[arg-type]
    return QueryChoice("random", count=random_count or 4, seed=seed)
