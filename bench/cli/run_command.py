"""``bench run``: the sweep (or study) of a config file and the command line, planned, run, printed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from bench.api.choices import CONFIG_FORMATS, DTYPE_NAMES, ENSEMBLE_METHODS
from bench.api.components import POOLINGS
from bench.cli.console import note, stderr, stdout, warn
from bench.cli.options import COMMAND_KEY, RegistryHelpOption, command_registry, plugin_option, prompt_usages
from bench.config.cache_location import CACHE_ENV
from bench.config.values import parse_assignments, parse_option_values, parse_weights

if TYPE_CHECKING:
    from bench.config.run_config import SweepSpec
    from bench.execution.planning import RunRequest
    from bench.plan.study import StudyPlan
    from bench.registry.tables import Registry

PLAIN_SETTINGS = (
    *("backbone", "layer", "prompt", "dataset", "probe", "probe_dim", "noise_samples", "seed"),
    *("batch_size", "device", "dtype", "pool", "image_size", "output_dir", "workers", "strict"),
    *("cache_dir", "cache_dtype", "ensemble", "query_text", "limit", "log_samples", "skip_existing"),
)
"""Settings whose click parameter has the setting's name and value as it is."""


@click.command("run")
@click.option(
    "--config",
    "config_name",
    default=None,
    help=f"A named config (configs/NAME with {', '.join(CONFIG_FORMATS)}) or a "
    f"{' or '.join(dict.fromkeys(CONFIG_FORMATS.values()))} file.",
)
@click.option(
    "--backbone", multiple=True, help="Backbone id (repeat for a sweep). See `bench list backbones`."
)
@click.option(
    "--layer",
    multiple=True,
    help="Tap, tap+tap, or selector (repeat for a sweep; BACKBONE=LAYER for one backbone of it). "
    "See `bench list layers`.",
)
@click.option(
    "--t",
    "timesteps",
    multiple=True,
    type=int,
    help="Diffusion timestep, within the backbone's schedule (0..999 for SD; repeat for a sweep).",
)
@click.option(
    "--prompt",
    multiple=True,
    cls=RegistryHelpOption,
    listed=prompt_usages,
    help="Prompt scheme: {listed} (repeat for a sweep; BACKBONE=PROMPT for one backbone of it). "
    "See `bench list prompts`.",
)
@click.option(
    "--query-text",
    metavar="SOURCE",
    help="Sketch+text queries: condition each query sketch on a text, `caption` (its caption, or its "
    "photo's) or `text:<words>` (one text for all); gallery photos keep --prompt. Text backbones only.",
)
@click.option("--dataset", multiple=True, help="Dataset id (repeat for a sweep). See `bench list datasets`.")
@click.option(
    "--probe",
    multiple=True,
    help="Linear probe on the frozen descriptors: none, linear (trained by the run on the train split's "
    "cached descriptors) or linear:FILE (from `bench train --probe linear`); repeat for a sweep "
    "(BACKBONE=PROBE for one backbone of it).",
)
@click.option(
    "--probe-dim",
    type=int,
    help="Output dimension of the linear probes the run trains (default: the descriptor's, a square map).",
)
@click.option("--data-root", multiple=True, help="Dataset root DIR, or DATASET=DIR per dataset.")
@click.option("--dataset-option", multiple=True, help="KEY=VALUE passed to the datasets that take KEY.")
@click.option(
    "--weights",
    multiple=True,
    help="Weights: a hub id (ORG/NAME[@REVISION]), a local folder, or a single-file checkpoint "
    "FILE[+DIR]; BACKBONE=WEIGHTS for one backbone of the run.",
)
@click.option("--noise-samples", type=int, help="Noise draws averaged per image (paper: 6).")
@click.option("--seed", type=int, help="Run seed (noise draws).")
@click.option("--batch-size", type=int, help="Images per backbone call.")
@click.option("--device", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--dtype", type=click.Choice(DTYPE_NAMES), help="Model precision.")
@click.option("--pool", type=click.Choice(POOLINGS), help="Pooling of feature maps (default: the layer's).")
@click.option("--image-size", type=int, help="Input resolution (default: the backbone's).")
@click.option(
    "--output-dir", type=click.Path(file_okay=False), help="Where results files go (default: results)."
)
@click.option("--workers", type=int, help="Threads reading images ahead of the backbone.")
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
    help="Training setting for the learned prompt schemes (visual, textual, visual+textual) and linear "
    "probes the run trains, e.g. epochs=3; keys as `bench train`'s options (with _ for -).",
)
@click.option(
    "--limit",
    type=int,
    metavar="N",
    help="A quick subset: at most N queries and N gallery items, spread over the splits (a benchmark "
    "of its own: recorded in the run identity).",
)
@click.option(
    "--log-samples",
    is_flag=True,
    help="Also write a per-query log beside each results file (<run>.samples.jsonl.gz: class, the rank "
    "of every relevant item, per-query metrics, the top 10 with similarities): `bench rescore` computes "
    "any metric from it, `bench plot retrievals` draws it.",
)
@click.option(
    "--skip-existing", is_flag=True, help="Leave configurations whose results file exists as they are."
)
@click.option(
    "--shard",
    metavar="I/N",
    help="Run the I-th of N shares of the configurations (1 <= I <= N), split by extraction group, "
    "for N jobs on one shared cache (e.g. a SLURM array: --shard $((SLURM_ARRAY_TASK_ID+1))/N).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print results as JSON on stdout (progress stays on stderr)."
)
@click.option(
    "--intervals",
    "show_intervals",
    is_flag=True,
    help="Print each value's 95% bootstrap interval under it (always in the results files and --json).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check every configuration (ids, layers, timesteps, prompts, data roots, weights) and print "
    "them, then stop: nothing is loaded, extracted, trained or written.",
)
@plugin_option
@click.pass_context
def run_command(
    ctx: click.Context, config_name: str | None, plugin_files: tuple[str, ...], **options
) -> None:
    """Extract descriptors and score retrieval for every configuration of a sweep.

    With no options, runs the default configuration (configs/default.toml). Repeating --backbone,
    --layer, --t, --prompt or --dataset runs their product. Example:

        bench run --backbone sd15 --layer up1 --t 200 --dataset sketchy --data-root DIR
    """
    from bench.config.files import load_config
    from bench.execution.planning import plan_request

    config = load_config(config_name or "default")
    registry = command_registry(ctx, (*config.plugins, *plugin_files))
    request = run_request(config, options, config_named=bool(config_name))
    plan = plan_request(request, registry)  # every check that needs no model
    _print_planning(plan)
    plan, study = _shard(plan, options["shard"])
    note(f"{len(plan.runs)} configuration(s){study}; results go to {plan.spec.output_dir}/")
    if options["dry_run"]:
        from bench.cli.plan_table import planned_table

        stdout.print(planned_table(plan))
        stdout.print(f"Dry run: {len(plan.runs)} configuration(s) checked; nothing was run.")
    elif not plan.runs:  # a shard of a sweep with fewer extraction groups than shards
        if options["as_json"]:
            click.echo("[]")
        else:
            stdout.print("Nothing to run in this shard.")
    else:
        _execute(ctx, plan, registry, options["as_json"], options["show_intervals"])


def run_request(config: SweepSpec, options: dict[str, Any], *, config_named: bool) -> RunRequest:
    """The :class:`~bench.execution.planning.RunRequest` of ``config`` (a ``SweepSpec``) with the
    command line's ``options``: the settings typed replace the config's and are named as typed."""
    from bench.config.run_config import set_values
    from bench.execution.planning import RunRequest

    train_options = parse_option_values(options["train_option"], "--train-option")
    if train_options:
        from bench.config.training import training_settings

        training_settings(train_options, "--train-option")  # named as typed, before the merge
    overrides = {
        "train": {**config.train, **train_options} if train_options else None,
        **{key: options[key] for key in PLAIN_SETTINGS},
        "t": options["timesteps"],
        "compile": options["compile_"],
        "data_root": parse_assignments(options["data_root"], "--data-root", "DATASET"),
        "weights": parse_assignments(options["weights"], "--weights", "BACKBONE"),
        "dataset_options": parse_option_values(options["dataset_option"]),
        "ensemble_weights": parse_weights(options["ensemble_weights"]),
    }
    spec = config.overridden(**overrides)
    return RunRequest(spec, frozenset(set_values(overrides)), config_named)


def _print_planning(plan: StudyPlan) -> None:
    """What planning says before the run: the settings a trained file filled, its notes, the
    warnings about settings nothing uses and the notes about combinations left out."""
    from bench.execution.planning import PlanningReport

    report = PlanningReport.of(plan)
    for line in report.header:
        stderr.print(escape(line), highlight=False)
    for warning in report.warnings:
        warn(warning)
    for line in report.notes:
        note(line)


def _shard(plan: StudyPlan, shard: str | None) -> tuple[StudyPlan, str]:
    """``(plan, what it is)``: ``plan``'s share for ``--shard I/N`` (the whole plan without one), and
    the words naming the study and the shard for the summary line."""
    study = f" in an ablation study of {len(plan.sweeps)} sweep(s)" if plan.spec.ablation else ""
    if shard is None:
        return plan, study
    from bench.plan.shards import parse_shard, shard_plan

    index, count = parse_shard(shard)
    total = len(plan.runs)
    plan = shard_plan(plan, index, count)
    return plan, study + f", shard {index}/{count}: {len(plan.runs)} of {total}"


def _execute(
    ctx: click.Context, plan: StudyPlan, registry: Registry, as_json: bool, show_intervals: bool
) -> None:
    """Run ``plan`` and print its results (as JSON with ``as_json``), on the main process only."""
    from bench.cli.display import RichReporter, results_tables
    from bench.execution.study import execute

    finished, is_main = execute(plan, registry, RichReporter(stderr), ctx.meta.get(COMMAND_KEY))
    if not is_main:  # other processes only extracted into the shared cache
        return
    specs = registry.evaluation_specs()
    if as_json:
        payload = [{**item.result.to_dict(specs), "path": str(item.path)} for item in finished]
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    for table in results_tables([item.result for item in finished], specs, intervals=show_intervals):
        stdout.print(table)
    directories = sorted({str(item.path.parent) for item in finished})
    reused = sum(item.reused for item in finished)
    kept = f"; {reused} left as they were (--skip-existing)" if reused else ""
    stdout.print(f"{len(finished) - reused} results file(s) written to {', '.join(directories)}{kept}")
