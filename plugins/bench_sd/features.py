"""Stable Diffusion as a feature extractor (Koley et al., CVPR 2024; DIFT by Tang et al.).

VAE-encode the image (posterior mean, deterministic), add DDPM noise at timestep t, run the UNet
once conditioned on a text embedding, and read the outputs of chosen blocks. The pass stops right
after the deepest requested block (a forward hook raises), so reading ``up1`` skips ``up2..``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from bench import BenchError, PromptCondition, read_block_outputs, seeded_noise, to_model_device
from bench_sd.conditioning import Conditioning


def tap_order(unet: torch.nn.Module) -> list[str]:
    """Tap names in forward order: down0.., mid, up0.."""
    return (
        [f"down{i}" for i in range(len(unet.down_blocks))]
        + ["mid"]
        + [f"up{i}" for i in range(len(unet.up_blocks))]
    )


def _tap_module(unet: torch.nn.Module, tap: str) -> torch.nn.Module:
    if tap == "mid":
        return unet.mid_block
    if tap.startswith("down"):
        return unet.down_blocks[int(tap[4:])]
    return unet.up_blocks[int(tap[2:])]


def unet_taps(
    unet: torch.nn.Module,
    sample: torch.Tensor,
    timestep: int,
    context: torch.Tensor,
    taps: Sequence[str],
    added: dict[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Outputs of the requested UNet blocks from one pass that stops after the deepest of them.

    Args:
        unet: a diffusers ``UNet2DConditionModel``.
        sample: noisy latents (B, 4, h, w).
        timestep: DDPM timestep.
        context: (B, 77, d) cross-attention conditioning.
        taps: names from :func:`tap_order`.
        added: SDXL's ``added_cond_kwargs`` (each (B, ...)), or None.

    Returns:
        ``{tap: (B, C, h', w')}``.
    """
    return read_block_outputs(
        taps,
        tap_order(unet),
        lambda tap: _tap_module(unet, tap),
        lambda: unet(sample, timestep, encoder_hidden_states=context, added_cond_kwargs=added or None),
        lambda tap, output: output[0] if isinstance(output, tuple) else output,
        "UNet",
    )


class StableDiffusionFeatures:
    """A frozen SD model (VAE encoder, UNet, text conditioning) that returns block features.

    Args:
        vae: diffusers ``AutoencoderKL`` (only the encoder is used; the decoder may be None).
        unet: diffusers ``UNet2DConditionModel``.
        conditioner: text -> :class:`Conditioning` (``ClipConditioner`` or ``DualClipConditioner``).
        alphas_cumprod: (num_train_timesteps,) cumulative products of the DDPM alphas.
        image_size: input resolution in pixels.
        weights: what was loaded, recorded in results.
        device, dtype: where and in which precision the models run. A VAE whose config asks for
            ``force_upcast`` (SDXL's overflows in fp16) stays in fp32.
    """

    def __init__(
        self,
        *,
        vae: torch.nn.Module,
        unet: torch.nn.Module,
        conditioner,
        alphas_cumprod: torch.Tensor,
        image_size: int,
        weights: str,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        upcast = dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
        self.vae_dtype = torch.float32 if upcast else dtype
        self.vae = vae.to(device=device, dtype=self.vae_dtype).eval().requires_grad_(False)
        self.unet = unet.to(device=device, dtype=dtype).eval().requires_grad_(False)
        if device.type == "cuda":
            self.unet.to(memory_format=torch.channels_last)
        self.conditioner = conditioner.to(device, dtype)
        self.alphas_cumprod = alphas_cumprod.to(torch.float64)
        self.image_size = image_size
        self.weights = weights
        self.device = device
        self.dtype = dtype
        self._text_cache: dict[str, Conditioning] = {}

    def compile(self) -> None:
        """``torch.compile`` the VAE encoder and each UNet block in place (``nn.Module.compile``).

        Block by block, so the hooks that read taps and stop the pass early keep working. Compiling
        costs minutes on a CPU; it pays off on long runs on a GPU.
        """
        blocks = [*self.unet.down_blocks, self.unet.mid_block, *self.unet.up_blocks, self.vae.encoder]
        for block in blocks:
            block.compile()

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """RGB images -> (B, 3, S, S) float32 in [-1, 1] (bicubic resize to ``image_size``)."""
        size = (self.image_size, self.image_size)
        arrays = [
            np.asarray(im.convert("RGB").resize(size, Image.BICUBIC), dtype=np.float32) for im in images
        ]
        # contiguous: CPU GroupNorm loses precision (and batch invariance) on the channels-last
        # strides a bare permute leaves
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
        return batch / 127.5 - 1.0

    @torch.inference_mode()
    def encode_text(self, text: str) -> Conditioning:
        """The UNet conditioning for ``text``, computed once per text."""
        if text not in self._text_cache:
            self._text_cache[text] = self.conditioner(text)
        return self._text_cache[text]

    def text_context(self, text: str) -> torch.Tensor:
        """(77, d) cross-attention context of ``text`` (a copy that autograd may use): where a
        learned textual prompt starts."""
        return self.encode_text(text).hidden_states[0].clone()

    def enable_activation_checkpointing(self) -> None:
        """Recompute UNet and VAE-encoder activations during backward instead of storing them
        (training prompts through the frozen model with less memory)."""
        self.unet.enable_gradient_checkpointing()
        self.vae.enable_gradient_checkpointing()

    def conditioning(self, prompt: PromptCondition) -> Conditioning:
        """The prompt's text conditioning, with its learned (77, d) context if it has one.

        One row shared by the batch; or, when the prompt carries per-image texts (sketch+text
        queries), one row per image from one text-encoder pass, each text's tokens followed by the
        learned context if there is one (``conditioning.text_then_learned``).
        """
        if prompt.item_texts is None:
            base, combine = self.encode_text(prompt.text), Conditioning.with_hidden_states
        else:
            base, combine = self.encode_texts(prompt.item_texts), Conditioning.with_learned_after_text
        if prompt.text_embedding is None:
            return base
        try:
            return combine(base, prompt.text_embedding)
        except ValueError as exc:
            raise BenchError(f"The textual prompt does not fit this backbone: {exc}.") from exc

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str]) -> Conditioning:
        """The UNet conditioning of each of ``texts`` (one row per text, one encoder pass, not cached:
        a dataset's captions are mostly distinct)."""
        return self.conditioner.encode(texts)

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in [-1, 1] -> VAE posterior mean times the scaling factor, (B, 4, S/8, S/8).

        Pixels on the host are copied to a CUDA device asynchronously (from pinned memory, as the
        extraction loop hands them, the copy overlaps queued work), then cast there.
        """
        pixels = to_model_device(pixels, self.device, self.vae_dtype)
        latents = self.vae.encode(pixels).latent_dist.mean
        return (latents * self.vae.config.scaling_factor).to(self.dtype)

    def draw_noise(
        self, latent_shape: Sequence[int], noise_samples: int, seeds: Sequence[int]
    ) -> torch.Tensor:
        """(B, N, *latent_shape) standard normal noise; image i's draws come from ``seeds[i]`` only.

        Drawn on the CPU whatever the device (:func:`bench.seeded_noise`), so the numbers do not
        depend on it; on CUDA they go over in one asynchronous copy.
        """
        return seeded_noise(latent_shape, noise_samples, seeds, device=self.device, dtype=self.dtype)

    def _check_timesteps(self, timesteps: Sequence[int]) -> None:
        steps = len(self.alphas_cumprod)
        for t in timesteps:
            if t is None or not 0 <= t < steps:
                raise BenchError(
                    f"Timestep {t} is outside this model's schedule.", f"Use --t in 0..{steps - 1}."
                )

    def features(
        self,
        pixels: torch.Tensor,
        taps: Sequence[str],
        *,
        timesteps: Sequence[int],
        noise_samples: int,
        noise_seeds: Sequence[int],
        condition: PromptCondition,
    ) -> dict[int, dict[str, torch.Tensor]]:
        """See ``bench.DiffusionBackbone.features``; tensors are (B, N, C, h, w).

        The image is encoded once; each timestep costs one truncated UNet pass over B*N samples.
        Per-image texts (``condition.item_texts``) give each image its own (77, d) context, repeated
        for its N draws, in that same pass; the noise still depends on ``noise_seeds`` alone.
        """
        self._check_timesteps(timesteps)
        latents = self.encode_image(pixels)
        batch, *latent_shape = latents.shape
        noise = self.draw_noise(latent_shape, noise_samples, noise_seeds)
        clean = latents[:, None].expand_as(noise)
        context, added = self.conditioning(condition).batched(batch, noise_samples)
        out: dict[int, dict[str, torch.Tensor]] = {}
        for t in timesteps:
            alpha_bar = float(self.alphas_cumprod[t])
            noisy = alpha_bar**0.5 * clean + (1.0 - alpha_bar) ** 0.5 * noise
            noisy = noisy.reshape(batch * noise_samples, *latent_shape)
            feats = unet_taps(self.unet, noisy, t, context, taps, added)
            out[t] = {tap: f.reshape(batch, noise_samples, *f.shape[1:]) for tap, f in feats.items()}
        return out
