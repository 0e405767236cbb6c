"""Stage 1: train the KL autoencoder on random crops of the corpus (resumable)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL
from rich.progress import Progress

from bench_sdmini.architecture import build_vae
from bench_sdmini.checkpoints import checkpoint_path, open_stage, save_checkpoint
from bench_sdmini.loop import StageProgress, run_steps, step_generator, warmup_rate
from bench_sdmini.pixels import to_model_input
from bench_sdmini.recipe import Recipe, VaeTraining


def random_crops(images: np.ndarray, settings: VaeTraining, generator: torch.Generator) -> torch.Tensor:
    """A training batch: ``batch_size`` random ``crop`` px crops of random corpus images, each
    flipped left-right with probability 1/2.

    Args:
        images: (N, S, S, 3) uint8 corpus.

    Returns:
        (B, 3, crop, crop) float32 in [-1, 1].
    """
    count, size = images.shape[0], images.shape[1]
    batch, crop = settings.batch_size, settings.crop
    index = torch.randint(count, (batch,), generator=generator).numpy()
    corners = torch.randint(size - crop + 1, (batch, 2), generator=generator).numpy()
    flips = torch.rand(batch, generator=generator) < 0.5
    pixels = images[index]
    crops = np.stack(
        [image[y : y + crop, x : x + crop] for image, (y, x) in zip(pixels, corners, strict=True)]
    )
    batch_tensor = to_model_input(crops)
    return torch.where(flips[:, None, None, None], batch_tensor.flip(-1), batch_tensor)


def vae_loss(
    vae: AutoencoderKL, images: torch.Tensor, kl_weight: float, generator: torch.Generator
) -> torch.Tensor:
    """SD's autoencoder objective without its perceptual and adversarial terms, per pixel value:
    (sum |x - decode(z)| + kl_weight * KL(q(z|x) || N(0, I))) / (3 S^2), averaged over the batch,
    with z drawn from the posterior. ``images``: (B, 3, S, S) in [-1, 1]."""
    posterior = vae.encode(images).latent_dist
    reconstruction = vae.decode(posterior.sample(generator=generator)).sample
    per_image = (reconstruction - images).abs().sum(dim=(1, 2, 3)) + kl_weight * posterior.kl()
    return per_image.mean() / images[0].numel()


def train_vae(
    recipe: Recipe,
    images: np.ndarray,
    output: Path,
    *,
    resume: bool,
    checkpoint_seconds: float,
    bar: Progress,
) -> tuple[AutoencoderKL, StageProgress, bool]:
    """Train (or resume, or just reload) the autoencoder to ``recipe.vae.steps`` steps.

    Args:
        images: (N, S, S, 3) uint8 corpus.

    Returns:
        The autoencoder (scaling factor not yet measured), its progress, and whether any step ran
        in this call.
    """
    settings = recipe.vae
    vae = build_vae(recipe.sizes, recipe.seed)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=settings.learning_rate, fused=True)
    state, progress = open_stage(output, "vae", recipe.identity("vae"), resume)
    if state is not None:
        vae.load_state_dict(state["vae"])
        optimizer.load_state_dict(state["optimizer"])
    already_done = progress.step >= settings.steps

    def train_step(step: int) -> float:
        generator = step_generator(recipe.seed, "vae", step)
        for group in optimizer.param_groups:
            group["lr"] = warmup_rate(settings.learning_rate, settings.warmup_steps, step)
        loss = vae_loss(vae, random_crops(images, settings, generator), settings.kl_weight, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    def save(progress: StageProgress) -> None:
        state = {"vae": vae.state_dict(), "optimizer": optimizer.state_dict()}
        save_checkpoint(checkpoint_path(output, "vae"), state, progress.as_dict(), recipe.identity("vae"))

    run_steps("vae", settings.steps, progress, train_step, save, checkpoint_seconds, bar)
    return vae.eval(), progress, not already_done
