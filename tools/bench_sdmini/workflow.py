"""The training run, stage by stage: corpus -> autoencoder -> latents -> UNet + text encoder ->
diffusers folder -> figures. Each stage resumes from its checkpoint; see ``docs/sd-mini.md``.

Files under ``OUTPUT``::

    recipe.json            the recipe of the last run
    checkpoints/vae.pt     autoencoder training state    checkpoints/unet.pt   UNet + text encoder state
    vae/  latents.npy      trained autoencoder (with its scaling factor) and the corpus latents
    <name>/  SHA256SUMS    the shipped diffusers folder and its checksums
    cost.json              wall time, steps/s and peak memory of each phase
    summary.json           parameter counts, scaling factor, folder size, final losses
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from bench_datasets.synthetic import CATEGORIES
from rich.console import Console
from rich.progress import Progress

from bench_sdmini import SdMiniError
from bench_sdmini.architecture import parameter_count
from bench_sdmini.checkpoints import checkpoint_path, load_checkpoint
from bench_sdmini.corpus import Corpus, Item, is_cached, load_or_render, render
from bench_sdmini.cost import record, timed
from bench_sdmini.export import export_pipeline, folder_bytes
from bench_sdmini.figures import (
    LOSS_FIGURE,
    RECONSTRUCTIONS_FIGURE,
    SAMPLES_FIGURE,
    loss_figure,
    reconstruction_figure,
    sample_figure,
)
from bench_sdmini.latents import encode_corpus, load_vae_outputs, save_vae_outputs, vae_outputs_complete
from bench_sdmini.loop import StageProgress, make_progress
from bench_sdmini.pixels import to_model_input, to_pixels
from bench_sdmini.recipe import Recipe
from bench_sdmini.sampling import sample_images
from bench_sdmini.train_unet import train_unet
from bench_sdmini.train_vae import train_vae

STAGES = ("vae", "unet", "all")
HOLDOUT_SEED = 999
"""Generator seed of the reconstruction figure's images: in neither the corpus nor the benchmark (0)."""


@dataclass(frozen=True)
class RunOptions:
    """How to run a recipe.

    Attributes:
        output: the run directory (checkpoints, trained parts, the shipped folder).
        stage: 'vae', 'unet' or 'all'.
        resume: continue from the checkpoints in ``output`` (otherwise they are an error).
        checkpoint_seconds: wall time between checkpoints.
        figures: where the PNG figures go.
        corpus_root: the cache root the corpus is rendered under.
    """

    output: Path
    stage: str
    resume: bool
    checkpoint_seconds: float
    figures: Path
    corpus_root: Path


def run(recipe: Recipe, options: RunOptions, console: Console) -> dict:
    """Run the requested stages of ``recipe``; returns the summary (also in ``summary.json``) when the
    UNet stage ran, else an empty dict."""
    if options.stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {options.stage!r}")
    options.output.mkdir(parents=True, exist_ok=True)
    options.figures.mkdir(parents=True, exist_ok=True)
    (options.output / "recipe.json").write_text(json.dumps(asdict(recipe), indent=1))
    with make_progress(console) as bar:
        corpus = _corpus(recipe, options, bar)
        if options.stage in ("vae", "all"):
            _vae_stage(recipe, options, corpus, bar)
        if options.stage in ("unet", "all"):
            return _unet_stage(recipe, options, corpus, bar)
    return {}


def _corpus(recipe: Recipe, options: RunOptions, bar: Progress) -> Corpus:
    if is_cached(recipe.corpus, options.corpus_root):
        return load_or_render(recipe.corpus, options.corpus_root, bar)
    with timed(options.output, "corpus"):
        corpus = load_or_render(recipe.corpus, options.corpus_root, bar)
    bar.console.log(f"corpus: {len(corpus.captions)} images rendered into {corpus.directory}")
    return corpus


def _loop_options(options: RunOptions, bar: Progress) -> dict:
    """The keyword arguments both training stages take from the run options."""
    return {"resume": options.resume, "checkpoint_seconds": options.checkpoint_seconds, "bar": bar}


def _record_training(output: Path, stage: str, progress: StageProgress) -> None:
    steps_per_s = round(progress.steps_per_second, 3)
    record(output, stage, wall_s=round(progress.seconds, 1), steps=progress.step, steps_per_s=steps_per_s)


def _vae_stage(recipe: Recipe, options: RunOptions, corpus: Corpus, bar: Progress) -> None:
    vae, progress, trained = train_vae(recipe, corpus.images, options.output, **_loop_options(options, bar))
    if trained:
        _record_training(options.output, "vae", progress)
    if trained or not vae_outputs_complete(options.output):
        with timed(options.output, "latents"):
            latents = encode_corpus(vae, corpus.images, bar)
            scale = save_vae_outputs(options.output, vae, latents)
        bar.console.log(f"latents: {latents.shape} encoded, scaling factor {scale:.5f}")
        _reconstructions(recipe, vae, options.figures / RECONSTRUCTIONS_FIGURE)


def _reconstructions(recipe: Recipe, vae: torch.nn.Module, path: Path) -> None:
    """Held-out photos and sketches (generator seed :data:`HOLDOUT_SEED`) and their reconstructions."""
    pairs = []
    for sketch in (False, True):
        items = [Item(HOLDOUT_SEED, category, 0, sketch) for category in range(0, len(CATEGORIES), 3)]
        originals = np.stack([render(item, recipe.corpus) for item in items])
        with torch.inference_mode():
            decoded = vae.decode(vae.encode(to_model_input(originals)).latent_dist.mean).sample
        pairs.append((originals, to_pixels(decoded)))
    title = f"{recipe.name} autoencoder on held-out images (posterior mean, {recipe.corpus.image_size} px)"
    reconstruction_figure(*pairs, path, title)


def _stage_losses(output: Path, recipe: Recipe) -> dict[str, list[float]]:
    losses = {}
    for stage, title in (("vae", "autoencoder: L1 + 1e-6 KL per pixel"), ("unet", "UNet: epsilon MSE")):
        path = checkpoint_path(output, stage)
        if path.is_file():
            losses[title] = load_checkpoint(path, recipe.identity(stage))[1]["losses"]
    return losses


def _unet_stage(recipe: Recipe, options: RunOptions, corpus: Corpus, bar: Progress) -> dict:
    if not vae_outputs_complete(options.output):
        raise SdMiniError(f"{options.output} has no trained autoencoder yet: run --stage vae (or all) first.")
    vae, latents = load_vae_outputs(options.output)
    scale = float(vae.config.scaling_factor)
    unet, text_encoder, progress = train_unet(
        recipe, latents, scale, corpus.captions, options.output, **_loop_options(options, bar)
    )
    _record_training(options.output, "unet", progress)
    parameters = {
        name: parameter_count(net)
        for name, net in (("vae", vae), ("unet", unet), ("text_encoder", text_encoder))
    }
    with timed(options.output, "export"):
        folder = export_pipeline(options.output, recipe.name, vae, unet, text_encoder)
        samples = sample_images(folder, recipe.samples, recipe.seed)
        sample_figure(
            samples,
            recipe.samples.captions,
            options.figures / SAMPLES_FIGURE,
            f"{recipe.name}: DDIM {recipe.samples.steps} steps, guidance {recipe.samples.guidance_scale}",
        )
        loss_figure(_stage_losses(options.output, recipe), options.figures / LOSS_FIGURE)
    summary = {
        "folder": str(folder),
        "folder_bytes": folder_bytes(folder),
        "image_size": recipe.corpus.image_size,
        "latent_shape": list(latents.shape[1:]),
        "scaling_factor": scale,
        "latent_mean": float(latents.mean() * scale),
        "parameters": parameters,
        "unet_block_out_channels": list(recipe.sizes.unet_channels),
        "up_block_channels": list(reversed(recipe.sizes.unet_channels)),
        "final_unet_loss_last_100": float(np.mean(progress.losses[-100:])),
        "corpus_images": len(corpus.captions),
    }
    (options.output / "summary.json").write_text(json.dumps(summary, indent=1))
    bar.console.log(
        f"saved {folder} ({summary['folder_bytes'] / 2**20:.1f} MiB), figures in {options.figures}"
    )
    return summary
