"""``bench train``: learn a prompt scheme with the backbone frozen, save it for ``--prompt learned:FILE``.

Importing this module imports no torch; the command imports :mod:`bench.prompts.trainer` when it runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bench.api.choices import option_name
from bench.cli.console import stderr, stdout
from bench.cli.options import RegistryHelpOption, command_registry, plugin_option, prompt_usages

if TYPE_CHECKING:
    from bench.config.training import TrainSpec
    from bench.plan.runs import PlannedRun


def _train_option_name(setting: str) -> str:
    """The ``bench train`` option of a :class:`TrainSpec` field."""
    return "--prompt" if setting == "scheme" else option_name(setting)


def default_output(spec: TrainSpec, run: PlannedRun) -> Path:
    """``prompts/<backbone>_<layer>_t<t>_<scheme>.safetensors`` (layer and t as resolved; safe
    characters only, see :func:`~bench.plan.identity.prompt_file_stem`)."""
    from bench.plan.identity import prompt_file_stem

    stem = prompt_file_stem(run.backbone.id, run.layer.name, run.t, spec.scheme)
    return Path("prompts") / f"{stem}.safetensors"


def _number(value: Any) -> str:
    """Metrics and losses with 4 decimals, seconds and MiB with 1."""
    if not isinstance(value, float):
        return str(value)
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"


def _history_table(header: dict[str, Any]):
    from bench.cli.display import listing_table

    keys = [k for k in header["history"][0] if k != "epoch"] if header["history"] else []
    rows = [
        [
            str(record["epoch"]),
            *(_number(record[k]) for k in keys),
        ]
        for record in header["history"]
    ]
    return listing_table(f"Training {header['scheme']} on {header['backbone']}", ["Epoch", *keys], rows)


def _counts(counts: dict[str, Any], among: dict[str, Any] | None = None) -> str:
    """``16 of 64 sketches, 16 of 64 photos in 8 classes`` (``among``: the counts drawn from)."""
    kinds = [kind for kind in ("sketches", "photos", "instances") if counts[kind] is not None]
    parts = [f"{counts[k]} of {among[k]} {k}" if among else f"{counts[k]} {k}" for k in kinds]
    return ", ".join(parts) + f" in {counts['classes']} classes"


def _training_data_line(record: dict[str, dict[str, Any]]) -> str:
    """What the prompt was trained (and validated) on, from its header's ``training_data``."""
    line = f"trained on {_counts(record['kept'], record['available'])}"
    if record["validation"]["classes"]:
        line += f"; validation: {_counts(record['validation'])}"
    return line


@click.command("train")
@click.option(
    "--backbone",
    required=True,
    help="Backbone id; gradients must reach the prompt (`bench list backbones --json` gives each "
    "backbone's learnable_prompts).",
)
@click.option("--dataset", required=True, help="Dataset id; its train split (seen classes) is used.")
@click.option(
    "--prompt",
    "scheme",
    default="visual+textual",
    show_default=True,
    cls=RegistryHelpOption,
    listed=lambda registry: prompt_usages(registry, learned_only=True),
    help="Scheme to learn: {listed} (visual+textual: Koley et al.'s).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    help="The prompt file to write (safetensors; default prompts/<backbone>_<layer>_t<t>_<scheme>"
    ".safetensors); a checkpoint goes to OUTPUT.ckpt.",
)
@click.option("--layer", help="Layer the descriptors are read from (default: the backbone's).")
@click.option(
    "--t",
    type=click.IntRange(min=0),
    help="Diffusion timestep within the backbone's schedule (default: configs/default.toml's).",
)
@click.option(
    "--width", type=click.IntRange(min=1), default=16, show_default=True, help="Visual prompt border, pixels."
)
@click.option("--epochs", type=click.IntRange(min=1), default=5, show_default=True)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Triplets per backward pass.",
)
@click.option(
    "--grad-accum",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Backward passes per optimiser step.",
)
@click.option("--steps-per-epoch", type=click.IntRange(min=1), help="Cap on optimiser steps per epoch.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="AdamW learning rate.")
@click.option("--weight-decay", type=float, default=0.0, show_default=True, help="AdamW weight decay.")
@click.option("--margin", type=float, default=0.3, show_default=True, help="Triplet margin on 1 - cosine.")
@click.option(
    "--noise-samples", type=click.IntRange(min=1), default=1, show_default=True, help="Noise draws per image."
)
@click.option(
    "--val-split",
    type=float,
    default=0.0,
    show_default=True,
    help="Fraction of the train classes (instances, fine-grained) held out for early stopping.",
)
@click.option(
    "--patience",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Epochs without a better validation metric before stopping.",
)
@click.option(
    "--train-fraction",
    type=float,
    default=1.0,
    show_default=True,
    help="Train on this fraction of each class's training items (instances, fine-grained), "
    "ceil(fraction x n), as nested seeded subsets; the --val-split hold-out is taken first.",
)
@click.option(
    "--train-count",
    type=click.IntRange(min=1),
    help="Train on at most this many training items (instances, fine-grained) per class instead.",
)
@click.option("--eval-train", is_flag=True, help="Also score the train split before and after training.")
@click.option(
    "--bf16", is_flag=True, help="Run the backbone under bf16 autocast (fast on GPUs and AMX CPUs)."
)
@click.option(
    "--activation-checkpointing", is_flag=True, help="Recompute activations in backward (less memory)."
)
@click.option("--resume", is_flag=True, help="Continue from OUTPUT.ckpt (same settings; --epochs may grow).")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Triplets, noise and validation hold-out."
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--image-size", type=click.IntRange(min=16), help="Input resolution (default: the backbone's).")
@click.option(
    "--weights",
    help="Weights of the backbone: a hub id (ORG/NAME[@REVISION]), a local folder, or a single-file "
    "checkpoint FILE[+DIR].",
)
@click.option("--data-root", help="Dataset root directory (datasets read from disk).")
@click.option("--dataset-option", multiple=True, help="KEY=VALUE passed to the dataset.")
@click.option("--json", "as_json", is_flag=True, help="Print the saved header as JSON on stdout.")
@plugin_option
@click.pass_context
def train_command(
    ctx: click.Context, output: str, resume: bool, as_json: bool, plugin_files, **options
) -> None:
    """Learn a prompt on a dataset's train split with a triplet loss, the backbone frozen.

    Example (it prints the file to pass to `bench run --prompt learned:FILE`):

        bench train --backbone sd-tiny --dataset synthetic --prompt visual+textual --epochs 2
    """
    from bench.api.validation import validated
    from bench.cli.display import RichReporter
    from bench.config.files import load_config
    from bench.config.values import parse_option_values
    from bench.prompts.trainer import TrainSpec, plan_training, train_prompt

    registry = command_registry(ctx, plugin_files)
    options["dataset_options"] = parse_option_values(options.pop("dataset_option"))
    if options["t"] is None and registry.backbones.get(options["backbone"]).num_timesteps:
        options["t"] = next(iter(load_config().t), None)
    spec = validated(TrainSpec, options, "the command line", key_name=_train_option_name)
    planned = plan_training(spec, registry)  # every check that needs no model
    path = Path(output) if output else default_output(spec, planned.run)
    outcome = train_prompt(spec, planned, path, resume=resume, reporter=RichReporter(stderr))
    if as_json:
        click.echo(json.dumps({"path": str(outcome.path), **outcome.header}, indent=2, sort_keys=True))
        return
    stdout.print(_history_table(outcome.header))
    metrics = ", ".join(f"{k} {_number(v)}" for k, v in outcome.header["metrics"].items())
    stdout.print(metrics)
    stdout.print(_training_data_line(outcome.header["training_data"]))
    stdout.print(f"Saved {outcome.path}; use it with --prompt learned:{outcome.path}")
