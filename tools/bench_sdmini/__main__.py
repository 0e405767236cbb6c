"""``python -m bench_sdmini train``: train sd-mini (or its --quick miniature) reproducibly."""

from __future__ import annotations

import os
from pathlib import Path

import click

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here downloads; never wait on the hub
# Idle OpenMP threads sleep instead of spinning: on a machine shared with other jobs, spinning
# threads that lose their core make each step several times slower (measured: 19 s vs 2.7 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@click.group()
def cli() -> None:
    """Train sd-mini, a miniature Stable-Diffusion-structured model, on generated sketches and photos."""


@cli.command()
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Run directory: checkpoints, trained parts, the diffusers folder, cost.json.",
)
@click.option(
    "--stage",
    type=click.Choice(["vae", "unet", "all"]),
    default="all",
    show_default=True,
    help="vae: corpus + autoencoder + latents; unet: UNet + text encoder + export + figures.",
)
@click.option("--resume", is_flag=True, help="Continue from the checkpoints in --output.")
@click.option("--quick", is_flag=True, help="Toy sizes and a few steps: the whole pipeline in seconds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds initialisation and every step.")
@click.option("--vae-steps", type=click.IntRange(min=1), help="Autoencoder steps (default: the recipe's).")
@click.option("--unet-steps", type=click.IntRange(min=1), help="UNet steps (default: the recipe's).")
@click.option(
    "--checkpoint-minutes",
    type=click.FloatRange(min=0),
    default=3.0,
    show_default=True,
    help="Wall time between checkpoints.",
)
@click.option(
    "--figures",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the PNG figures go (default: OUTPUT/figures).",
)
@click.option(
    "--corpus-root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Cache root of the rendered corpus (default: $SBIR_BENCH_CACHE or ~/.cache/sbir-bench).",
)
@click.option("--threads", type=click.IntRange(min=1), help="torch CPU threads (default: torch's choice).")
def train(
    output: Path,
    stage: str,
    resume: bool,
    quick: bool,
    seed: int,
    vae_steps: int | None,
    unet_steps: int | None,
    checkpoint_minutes: float,
    figures: Path | None,
    corpus_root: Path | None,
    threads: int | None,
) -> None:
    """Train sd-mini into OUTPUT (see docs/sd-mini.md)."""
    from dataclasses import replace

    import torch
    from rich.console import Console

    from bench_sdmini import SdMiniError
    from bench_sdmini.corpus import default_root
    from bench_sdmini.recipe import FULL, QUICK
    from bench_sdmini.workflow import RunOptions, run

    _quiet_libraries()
    if threads:
        torch.set_num_threads(threads)
    recipe = replace(QUICK if quick else FULL, seed=seed).with_steps(vae_steps, unet_steps)
    options = RunOptions(
        output=output,
        stage=stage,
        resume=resume,
        checkpoint_seconds=60 * checkpoint_minutes,
        figures=figures or output / "figures",
        corpus_root=corpus_root or default_root(),
    )
    try:
        run(recipe, options, Console())
    except SdMiniError as error:
        raise click.ClickException(str(error)) from error


def _quiet_libraries() -> None:
    """Silence diffusers' and transformers' notices and per-file progress bars (the run has its own)."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    for logging in (diffusers_logging, transformers_logging):
        logging.set_verbosity_error()
        logging.disable_progress_bar()


if __name__ == "__main__":
    cli()
