"""The trained autoencoder's outputs that the UNet stage reads: corpus latents and scaling factor.

``OUTPUT/latents.npy`` holds the posterior mean of every corpus image, (N, 4, S/8, S/8) float32,
unscaled; ``OUTPUT/vae/`` is the autoencoder as a diffusers folder with ``scaling_factor`` set to
1 / std of those latents, so that scaled latents have unit variance, as SD's 0.18215 was chosen.
``vae/`` is written last: its presence means both are complete.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL
from rich.progress import Progress

from bench_sdmini.pixels import to_model_input

_ENCODE_BATCH = 64


def encode_corpus(vae: AutoencoderKL, images: np.ndarray, bar: Progress) -> np.ndarray:
    """Posterior means of all ``images`` ((N, S, S, 3) uint8): (N, 4, S/8, S/8) float32, unscaled."""
    task = bar.add_task("encode latents", total=len(images), loss="")
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(images), _ENCODE_BATCH):
            batch = to_model_input(images[start : start + _ENCODE_BATCH])
            chunks.append(vae.encode(batch).latent_dist.mean.numpy())
            bar.advance(task, len(batch))
    return np.concatenate(chunks)


def unit_variance_scale(latents: np.ndarray) -> float:
    """1 / (standard deviation of every latent value), computed in float64."""
    return float(1.0 / latents.astype(np.float64).std())


def save_vae_outputs(output: Path, vae: AutoencoderKL, latents: np.ndarray) -> float:
    """Write ``latents.npy`` and ``vae/`` (with the measured scaling factor); returns that factor."""
    partial_latents = output / "latents.partial.npy"
    np.save(partial_latents, latents)
    os.replace(partial_latents, output / "latents.npy")
    scale = unit_variance_scale(latents)
    vae.register_to_config(scaling_factor=scale)
    partial_vae = output / "vae.partial"
    shutil.rmtree(partial_vae, ignore_errors=True)
    vae.save_pretrained(partial_vae)
    shutil.rmtree(output / "vae", ignore_errors=True)
    partial_vae.rename(output / "vae")
    return scale


def vae_outputs_complete(output: Path) -> bool:
    return (output / "vae").is_dir() and (output / "latents.npy").is_file()


def load_vae_outputs(output: Path) -> tuple[AutoencoderKL, np.ndarray]:
    """The trained autoencoder (float32) and the unscaled corpus latents (N, 4, S/8, S/8)."""
    return AutoencoderKL.from_pretrained(output / "vae"), np.load(output / "latents.npy")
