"""Stage 2: train the UNet and the text encoder jointly on the precomputed latents (resumable).

The text encoder gets its gradient from the diffusion loss through the cross-attention context,
as the text-to-image LDM of Rombach et al. (2022) trained its transformer text encoder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from bench_sd.tokenizer import CONTEXT_LENGTH, clip_tokenizer
from diffusers import UNet2DConditionModel
from diffusers.training_utils import EMAModel
from rich.progress import Progress
from transformers import CLIPTextModel

from bench_sdmini.architecture import build_denoiser, noise_schedule
from bench_sdmini.checkpoints import checkpoint_path, open_stage, save_checkpoint
from bench_sdmini.loop import StageProgress, run_steps, step_generator, warmup_rate
from bench_sdmini.recipe import Recipe


def caption_tokens(captions: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token ids of the corpus captions, as the toolkit's conditioner makes them (padded to 77).

    Returns:
        ``(ids, index, empty)``: (U, 77) int64 ids of the U distinct captions, (N,) int64 index of
        each corpus image's caption into them, and (77,) ids of the empty prompt.
    """
    distinct = sorted(set(captions))
    position = {text: i for i, text in enumerate(distinct)}
    tokenized = clip_tokenizer()(
        [*distinct, ""], padding="max_length", max_length=CONTEXT_LENGTH, truncation=True, return_tensors="pt"
    ).input_ids
    index = torch.tensor([position[text] for text in captions], dtype=torch.int64)
    return tokenized[:-1], index, tokenized[-1]


def train_unet(
    recipe: Recipe,
    latents: np.ndarray,
    scaling_factor: float,
    captions: list[str],
    output: Path,
    *,
    resume: bool,
    checkpoint_seconds: float,
    bar: Progress,
) -> tuple[UNet2DConditionModel, CLIPTextModel, StageProgress]:
    """Train (or resume) UNet + text encoder to ``recipe.unet.steps`` steps.

    Args:
        latents: (N, 4, h, w) unscaled posterior means of the corpus images.
        scaling_factor: the autoencoder's latent scale (latents x scale have unit variance).
        captions: the N corpus captions.

    Returns:
        A UNet and text encoder holding the EMA weights, and the stage's progress.
    """
    settings = recipe.unet
    latent_size = latents.shape[-1]
    unet, text_encoder = build_denoiser(recipe.sizes, latent_size, recipe.seed)
    parameters = [*unet.parameters(), *text_encoder.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=settings.learning_rate, fused=True)
    ema = EMAModel(parameters, decay=settings.ema_decay, use_ema_warmup=True, power=2 / 3, foreach=True)
    state, progress = open_stage(output, "unet", recipe.identity("unet"), resume)
    if state is not None:
        unet.load_state_dict(state["unet"])
        text_encoder.load_state_dict(state["text_encoder"])
        optimizer.load_state_dict(state["optimizer"])
        ema.load_state_dict(state["ema"])

    scaled = torch.from_numpy(latents) * scaling_factor
    ids, caption_index, empty = caption_tokens(captions)
    schedule = noise_schedule()
    timesteps = schedule.config.num_train_timesteps

    def train_step(step: int) -> float:
        generator = step_generator(recipe.seed, "unet", step)
        batch = torch.randint(len(scaled), (settings.batch_size,), generator=generator)
        clean = scaled[batch]
        noise = torch.randn(clean.shape, generator=generator)
        t = torch.randint(0, timesteps, (settings.batch_size,), generator=generator)
        dropped = torch.rand(settings.batch_size, generator=generator) < settings.caption_dropout
        tokens = torch.where(dropped[:, None], empty[None], ids[caption_index[batch]])
        context = text_encoder(tokens).last_hidden_state  # (B, 77, text_width)
        predicted = unet(schedule.add_noise(clean, noise, t), t, encoder_hidden_states=context).sample
        loss = F.mse_loss(predicted, noise)
        for group in optimizer.param_groups:
            group["lr"] = warmup_rate(settings.learning_rate, settings.warmup_steps, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, settings.max_grad_norm)
        optimizer.step()
        ema.step(parameters)
        return loss.item()

    def save(progress: StageProgress) -> None:
        state = {
            "unet": unet.state_dict(),
            "text_encoder": text_encoder.state_dict(),
            "optimizer": optimizer.state_dict(),
            "ema": ema.state_dict(),
        }
        save_checkpoint(checkpoint_path(output, "unet"), state, progress.as_dict(), recipe.identity("unet"))

    run_steps("unet", settings.steps, progress, train_step, save, checkpoint_seconds, bar)
    ema_unet, ema_text_encoder = build_denoiser(recipe.sizes, latent_size, recipe.seed)
    ema.copy_to([*ema_unet.parameters(), *ema_text_encoder.parameters()])
    return ema_unet.eval(), ema_text_encoder.eval(), progress
