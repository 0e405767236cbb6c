"""``bench train``: learn a prompt scheme with the backbone frozen, save it for ``--prompt learned:FILE``;
or (``--probe linear``) a linear probe on the cached descriptors, for ``--probe linear:FILE``.

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


class SchemaRangeOption(click.Option):
    """An integer option whose range the schema checks (:class:`~bench.config.training.TrainSpec`;
    ``--probe-dim``: :class:`~bench.config.run_config.SweepSpec`), once for the command line and
    config files alike: its help ends with what the schema allows, read when the help is shown."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, type=int, **kwargs)
        self.template = self.help

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from bench.api.validation import field_description
        from bench.config.run_config import SweepSpec
        from bench.config.training import TrainSpec

        allowed = field_description(SweepSpec if self.name == "probe_dim" else TrainSpec, self.name)
        self.help = " ".join(filter(None, (self.template, f"Allowed: {allowed}.")))
        return super().get_help_record(ctx)


PROBE_ONLY = ("probe_dim",)  # options of a probe's training only
PROMPT_ONLY = ("width", "bf16", "activation_checkpointing")  # options of a prompt's training only


def default_output(spec: TrainSpec, run: PlannedRun, probe: str | None = None) -> Path:
    """``prompts/<backbone>_<layer>_t<t>_<scheme>.safetensors`` (layer and t as resolved; safe
    characters only, see :func:`~bench.plan.identity.prompt_file_stem`), or for a probe
    ``probes/<backbone>_<layer>_t<t>_<probe>.safetensors``."""
    from bench.plan.identity import prompt_file_stem

    stem = prompt_file_stem(run.backbone.id, run.layer.name, run.t, probe or spec.scheme)
    return Path("probes" if probe else "prompts") / f"{stem}.safetensors"


def _number(value: Any) -> str:
    """Metrics and losses with 4 decimals, seconds and MiB with 1."""
    if not isinstance(value, float):
        return str(value)
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"


def _history_table(title: str, header: dict[str, Any]):
    from bench.cli.display import listing_table

    keys = [k for k in header["history"][0] if k != "epoch"] if header["history"] else []
    rows = [
        [
            str(record["epoch"]),
            *(_number(record[k]) for k in keys),
        ]
        for record in header["history"]
    ]
    return listing_table(title, ["Epoch", *keys], rows)


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
    cls=RegistryHelpOption,
    listed=lambda registry: prompt_usages(registry, learned_only=True),
    help="Scheme to learn: {listed} (default visual+textual: Koley et al.'s). With --probe: the prompt "
    "the descriptors are extracted with, none (the default), text:... or learned:FILE.",
)
@click.option(
    "--probe",
    type=click.Choice(["linear"]),
    help="Train a linear probe (one matrix for queries and gallery) on the frozen descriptors instead "
    "of a prompt: from the train split's cached descriptors, so only images not cached yet are extracted.",
)
@click.option(
    "--probe-dim",
    cls=SchemaRangeOption,
    help="The probe's output dimension (default: the descriptor's; a square probe starts at the identity).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    help="The file to write (safetensors; default prompts/<backbone>_<layer>_t<t>_<scheme>.safetensors, "
    "or probes/<backbone>_<layer>_t<t>_linear.safetensors); a checkpoint goes to OUTPUT.ckpt.",
)
@click.option("--layer", help="Layer the descriptors are read from (default: the backbone's).")
@click.option(
    "--t",
    cls=SchemaRangeOption,
    help="Diffusion timestep within the backbone's schedule (default: configs/default.toml's).",
)
@click.option(
    "--width", cls=SchemaRangeOption, default=16, show_default=True, help="Visual prompt border, pixels."
)
@click.option("--epochs", cls=SchemaRangeOption, default=5, show_default=True)
@click.option(
    "--batch-size",
    cls=SchemaRangeOption,
    default=8,
    show_default=True,
    help="Triplets per backward pass.",
)
@click.option(
    "--grad-accum",
    cls=SchemaRangeOption,
    default=1,
    show_default=True,
    help="Backward passes per optimiser step.",
)
@click.option("--steps-per-epoch", cls=SchemaRangeOption, help="Cap on optimiser steps per epoch.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="AdamW learning rate.")
@click.option("--weight-decay", type=float, default=0.0, show_default=True, help="AdamW weight decay.")
@click.option("--margin", type=float, default=0.3, show_default=True, help="Triplet margin on 1 - cosine.")
@click.option(
    "--noise-samples", cls=SchemaRangeOption, default=1, show_default=True, help="Noise draws per image."
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
    cls=SchemaRangeOption,
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
    cls=SchemaRangeOption,
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
@click.option("--image-size", cls=SchemaRangeOption, help="Input resolution (default: the backbone's).")
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
    ctx: click.Context,
    output: str,
    resume: bool,
    as_json: bool,
    plugin_files,
    probe: str | None,
    probe_dim: int | None,
    **options,
) -> None:
    """Learn a prompt on a dataset's train split with a triplet loss, the backbone frozen; or, with
    --probe linear, a linear probe on the frozen descriptors.

    Examples (each prints the file to pass to `bench run --prompt learned:FILE`, or `--probe linear:FILE`):

        bench train --backbone sd-tiny --dataset synthetic --prompt visual+textual --epochs 2

        bench train --backbone vit-tiny --dataset synthetic --probe linear --epochs 20
    """
    from bench.api.validation import validated
    from bench.cli.display import RichReporter
    from bench.config.files import load_config
    from bench.config.values import parse_option_values
    from bench.prompts.trainer import TrainSpec, plan_training, train_prompt

    registry = command_registry(ctx, plugin_files)
    _check_options(ctx, probe)
    options["scheme"] = options["scheme"] or ("none" if probe else "visual+textual")
    options["dataset_options"] = parse_option_values(options.pop("dataset_option"))
    if options["t"] is None and registry.backbones.get(options["backbone"]).num_timesteps:
        options["t"] = next(iter(load_config().t), None)
    spec = validated(TrainSpec, options, "the command line", key_name=_train_option_name)
    if probe:
        outcome = _train_probe(spec, probe, probe_dim, output, resume, registry)
        if outcome is None:  # another process of a distributed launch: it only extracted
            return
        title, flag = f"Training a {probe} probe on {spec.backbone}", "--probe linear"
    else:
        planned = plan_training(spec, registry)  # every check that needs no model
        path = Path(output) if output else default_output(spec, planned.run)
        outcome = train_prompt(spec, planned, path, resume=resume, reporter=RichReporter(stderr))
        title, flag = f"Training {spec.scheme} on {spec.backbone}", "--prompt learned"
    if as_json:
        click.echo(json.dumps({"path": str(outcome.path), **outcome.header}, indent=2, sort_keys=True))
        return
    stdout.print(_history_table(title, outcome.header))
    metrics = ", ".join(f"{k} {_number(v)}" for k, v in outcome.header["metrics"].items())
    stdout.print(metrics)
    stdout.print(_training_data_line(outcome.header["training_data"]))
    stdout.print(f"Saved {outcome.path}; use it with {flag}:{outcome.path}")


def _check_options(ctx: click.Context, probe: str | None) -> None:
    """Refuse options typed for the other kind of training (a prompt's, or a probe's)."""
    from bench.api.errors import BenchError

    typed = [
        name
        for name in (*PROMPT_ONLY, *PROBE_ONLY)
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
    ]
    wrong = [name for name in typed if (name in PROMPT_ONLY) == bool(probe)]
    if wrong:
        listed = ", ".join(option_name(name) for name in wrong)
        raise BenchError(
            f"{listed} appl{'ies' if len(wrong) == 1 else 'y'} only to "
            + ("a prompt's training, not to --probe." if probe else "a probe's training (--probe linear)."),
            "Leave it out." if probe else "Add --probe linear, or leave it out.",
        )


def _train_probe(
    spec: TrainSpec, probe: str, probe_dim: int | None, output: str | None, resume: bool, registry
) -> Any:
    """Train a linear probe for ``spec``'s configuration with its training settings (its ``scheme`` is
    the prompt the descriptors are extracted with); the TrainOutcome, or None on a process that is
    not the main one."""
    from bench.api.errors import BenchError
    from bench.cli.display import RichReporter
    from bench.config.training import PROBE_SETTINGS
    from bench.execution.study import train_probe
    from bench.plan.runs import split_prompt
    from bench.plan.study import plan_study

    if registry.prompt_schemes.get(split_prompt(spec.scheme)[0]).learns:
        raise BenchError(
            f"With --probe, --prompt is the prompt the probe's descriptors are extracted with, and "
            f"{spec.scheme!r} is a scheme still to be learned.",
            f"Train it first (`bench train --prompt {spec.scheme} --output P`) and pass --prompt learned:P, "
            f"or run `bench run --prompt {spec.scheme} --probe linear`, which trains both.",
        )
    sweep = spec.sweep().overridden(  # --probe-dim's range: the run schema's
        probe=(probe,),
        probe_dim=probe_dim,
        train={name: getattr(spec, name) for name in PROBE_SETTINGS},
    )
    plan = plan_study(sweep, registry)  # every check that needs no model
    path = Path(output) if output else default_output(spec, plan.runs[0], probe)
    return train_probe(plan, registry, RichReporter(stderr), path, resume)
