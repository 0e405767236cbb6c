"""Diffusion transformers (SD3 / SD3.5, FLUX.1) as feature extractors.

VAE-encode the image (posterior mean, shifted and scaled as the pipelines do), add flow-matching
noise at the level ``--t`` names, run the transformer once conditioned on a text, and read the image
tokens of chosen blocks as maps. The pass stops right after the deepest requested block.

What ``--t`` means here: an integer t in 0..999 is the noise level sigma = t / 1000, and the noisy
latent is x_t = (1 - sigma) * x_0 + sigma * eps (rectified flow, as both models were trained). The
transformer is given the timestep its pipeline would give at that sigma: ``1000 * sigma`` = t for
SD3 (``FlowMatchEulerDiscreteScheduler.timesteps``), sigma for FLUX (whose forward multiplies by
1000). No schedule shift is applied: the shift (SD3's 3.0, FLUX's resolution-dependent mu) only
spaces the sampler's steps over sigma; the network is conditioned on sigma itself. So a given
``--t`` is the same noise level for every model and resolution (t = 0: the clean latent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from bench import BenchError, PromptCondition, seeded_noise, to_model_device
from bench_dit.architecture import FLUX, NUM_TIMESTEPS, STRIDE, TOKEN_LATENTS, DiTVariant
from bench_dit.conditioning import TextConditioning
from bench_dit.ditf import DiTF
from bench_dit.massive import MassiveActivations
from bench_dit.taps import block_taps


def sigma_of(t: int) -> float:
    """The flow-matching noise level of timestep ``t``: t / 1000 (0 = clean, 1 = pure noise)."""
    return t / NUM_TIMESTEPS


def noised(clean: torch.Tensor, noise: torch.Tensor, sigma: float) -> torch.Tensor:
    """Rectified-flow forward process: (1 - sigma) * clean + sigma * noise (same shapes)."""
    return (1.0 - sigma) * clean + sigma * noise


def pack_latents(latents: torch.Tensor) -> torch.Tensor:
    """FLUX's packing: (B, c, H, W) -> (B, H/2 * W/2, 4c), each token a 2 x 2 patch (row-major
    tokens; channel order c, dy, dx as ``FluxPipeline._pack_latents``)."""
    batch, channels, height, width = latents.shape
    patches = latents.reshape(batch, channels, height // 2, 2, width // 2, 2).permute(0, 2, 4, 1, 3, 5)
    return patches.reshape(batch, (height // 2) * (width // 2), channels * 4)


def image_ids(height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """FLUX's rotary position ids of an (height x width) token grid: (height * width, 3) rows
    (0, row, column), row-major."""
    rows = torch.arange(height, device=device, dtype=dtype)[:, None].expand(height, width)
    cols = torch.arange(width, device=device, dtype=dtype)[None, :].expand(height, width)
    return torch.stack([torch.zeros_like(rows), rows, cols], dim=-1).reshape(height * width, 3)


def check_image_size(variant: DiTVariant, image_size: int) -> None:
    """Raise unless ``image_size`` is a multiple of 16 within the model's positional embedding."""
    largest = variant.max_image_size
    if image_size % STRIDE or image_size < STRIDE or (largest is not None and image_size > largest):
        limit = f" and at most {largest}" if largest is not None else ""
        raise BenchError(
            f"Backbone {variant.id!r} cannot read {image_size}-pixel images.",
            f"Use an --image-size that is a multiple of {STRIDE} (8x VAE, 2 x 2 latents per token){limit}, "
            f"e.g. {variant.image_size}.",
        )


def transformer_call(
    transformer: torch.nn.Module,
    variant: DiTVariant,
    noisy: torch.Tensor,
    sigma: float,
    context: torch.Tensor,
    pooled: torch.Tensor,
) -> Callable[[], object]:
    """A call of the transformer on noisy latents at noise level ``sigma``, as its pipeline makes it.

    Args:
        noisy: (B', 16, h, w) noisy latents (h, w even).
        sigma: noise level in [0, 1).
        context: (B', L, d) text context; pooled: (B', p) pooled text embedding.

    SD3 gets the latents and timestep 1000 sigma; FLUX gets them packed into (B', h/2 * w/2, 64)
    tokens with their position ids (text ids zero), timestep sigma, and FLUX.1-dev its guidance.
    """
    samples, device, dtype = noisy.shape[0], noisy.device, noisy.dtype
    if variant.family != FLUX:
        timestep = torch.full((samples,), sigma * NUM_TIMESTEPS, device=device, dtype=dtype)
        return lambda: transformer(
            hidden_states=noisy,
            encoder_hidden_states=context,
            pooled_projections=pooled,
            timestep=timestep,
            return_dict=False,
        )
    height, width = noisy.shape[-2] // TOKEN_LATENTS, noisy.shape[-1] // TOKEN_LATENTS
    guidance = None if variant.guidance is None else torch.full((samples,), variant.guidance, device=device)
    return lambda: transformer(
        hidden_states=pack_latents(noisy),
        encoder_hidden_states=context,
        pooled_projections=pooled,
        timestep=torch.full((samples,), sigma, device=device, dtype=dtype),
        img_ids=image_ids(height, width, device, dtype),
        txt_ids=torch.zeros(context.shape[1], 3, device=device, dtype=dtype),
        guidance=None if guidance is None else guidance.to(dtype),
        return_dict=False,
    )


class DiffusionTransformerFeatures:
    """A frozen SD3 or FLUX model (VAE encoder, transformer, text encoders) returning block maps.

    Args:
        variant: the architecture (family, guidance, image-size limits).
        vae: diffusers ``AutoencoderKL`` with 16 latent channels (only the encoder is used).
        transformer: ``SD3Transformer2DModel`` or ``FluxTransformer2DModel``.
        conditioner: ``SD3Conditioner`` or ``FluxConditioner``.
        image_size: input resolution in pixels (a multiple of 16).
        weights: what was loaded, recorded in results.
        device, dtype: where and in which precision the models run; a VAE whose config asks for
            ``force_upcast`` stays in fp32 under fp16.
        massive: the massive-activation handling, or None (the default): a
            :class:`~bench_dit.massive.MassiveActivations` is applied to every tap's (B, N, C, h, w)
            draws; :class:`~bench_dit.ditf.DiTF` reads the taps itself (each block's input through
            its AdaLN).
    """

    def __init__(
        self,
        *,
        variant: DiTVariant,
        vae: torch.nn.Module,
        transformer: torch.nn.Module,
        conditioner,
        image_size: int,
        weights: str,
        device: torch.device,
        dtype: torch.dtype,
        massive: MassiveActivations | DiTF | None = None,
    ) -> None:
        check_image_size(variant, image_size)
        upcast = dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
        self.vae_dtype = torch.float32 if upcast else dtype
        self.vae = vae.to(device=device, dtype=self.vae_dtype).eval().requires_grad_(False)
        self.transformer = transformer.to(device=device, dtype=dtype).eval().requires_grad_(False)
        self.conditioner = conditioner.to(device, dtype)
        self.variant = variant
        self.image_size = image_size
        self.weights = weights
        self.device = device
        self.dtype = dtype
        self.massive = massive
        self._text_cache: dict[str, TextConditioning] = {}

    # -- optional capabilities ------------------------------------------------------------------

    def compile(self) -> None:
        """``torch.compile`` each transformer block and the VAE encoder in place (block by block, so
        the hooks that read taps and end the pass keep working)."""
        blocks = [
            *self.transformer.transformer_blocks,
            *getattr(self.transformer, "single_transformer_blocks", ()),
        ]
        for block in [*blocks, self.vae.encoder]:
            block.compile()

    def enable_activation_checkpointing(self) -> None:
        """Recompute transformer and VAE-encoder activations in the backward pass (``bench train``)."""
        self.transformer.enable_gradient_checkpointing()
        self.vae.enable_gradient_checkpointing()

    # -- inputs -----------------------------------------------------------------------------------

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """RGB images -> (B, 3, S, S) float32 in [-1, 1] (bicubic resize to ``image_size``)."""
        size = (self.image_size, self.image_size)
        arrays = [
            np.asarray(im.convert("RGB").resize(size, Image.BICUBIC), dtype=np.float32) for im in images
        ]
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
        return batch / 127.5 - 1.0

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in [-1, 1] -> (posterior mean - shift_factor) * scaling_factor, (B, 16, S/8, S/8)."""
        pixels = to_model_device(pixels, self.device, self.vae_dtype)
        mean = self.vae.encode(pixels).latent_dist.mean
        config = self.vae.config
        return ((mean - (config.shift_factor or 0.0)) * config.scaling_factor).to(self.dtype)

    def draw_noise(
        self, latent_shape: Sequence[int], noise_samples: int, seeds: Sequence[int]
    ) -> torch.Tensor:
        """(B, N, *latent_shape) standard normal noise; image i's draws come from ``seeds[i]`` only
        (drawn on the CPU, :func:`bench.seeded_noise`, so the numbers do not depend on the device;
        on CUDA they go over in one asynchronous copy)."""
        return seeded_noise(latent_shape, noise_samples, seeds, device=self.device, dtype=self.dtype)

    # -- text -------------------------------------------------------------------------------------

    @torch.inference_mode()
    def encode_text(self, text: str) -> TextConditioning:
        """The conditioning of ``text``, computed once per text and model (the empty prompt's first)."""
        if text not in self._text_cache:
            self._text_cache[text] = self.conditioner.encode([text])
        return self._text_cache[text]

    def text_context(self, text: str) -> torch.Tensor:
        """(L, d) context of ``text`` (a copy autograd may use): where a learned textual prompt
        starts. L = 77 + 256 for SD3, the T5 length for FLUX; d = 4096 for the real models."""
        return self.encode_text(text).context[0].clone()

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str]) -> TextConditioning:
        """One row per text from one encoder pass (per-image captions; not cached)."""
        return self.conditioner.encode(texts)

    def conditioning(self, prompt: PromptCondition) -> TextConditioning:
        """The prompt's text conditioning, with its learned (L, d) context if it has one."""
        if prompt.item_texts is not None:
            if prompt.text_embedding is not None:
                raise BenchError(
                    f"Backbone {self.variant.id!r} cannot combine per-image texts with a learned textual "
                    "prompt (its context joins several encoders' token sequences, with no place to append "
                    "learned tokens after a caption).",
                    "Use a visual-only prompt with --query-text, or drop --query-text.",
                )
            return self.encode_texts(prompt.item_texts)
        base = self.encode_text(prompt.text)
        if prompt.text_embedding is None:
            return base
        try:
            return base.with_context(prompt.text_embedding)
        except ValueError as exc:
            raise BenchError(f"The textual prompt does not fit backbone {self.variant.id!r}: {exc}.") from exc

    # -- features ---------------------------------------------------------------------------------

    def _check_timesteps(self, timesteps: Sequence[int]) -> None:
        for t in timesteps:
            if t is None or not 0 <= t < NUM_TIMESTEPS:
                raise BenchError(
                    f"Timestep {t} is outside the flow-matching range of {self.variant.id!r}.",
                    f"Use --t in 0..{NUM_TIMESTEPS - 1} (sigma = t / 1000).",
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
        """See ``bench.DiffusionBackbone.features``; tensors are (B, N, C, S/16, S/16).

        The image is encoded once; each timestep costs one truncated transformer pass over B * N
        samples. Per-image texts give each image its own context, repeated for its N draws.
        """
        self._check_timesteps(timesteps)
        latents = self.encode_image(pixels)
        batch, *latent_shape = latents.shape
        noise = self.draw_noise(latent_shape, noise_samples, noise_seeds)
        clean = latents[:, None].expand_as(noise)
        text = self.conditioning(condition)
        context, pooled = text.batched(batch, noise_samples)
        context, pooled = context.to(self.dtype), pooled.to(self.dtype)
        grid = (latent_shape[1] // TOKEN_LATENTS, latent_shape[2] // TOKEN_LATENTS)
        out: dict[int, dict[str, torch.Tensor]] = {}
        for t in timesteps:
            sigma = sigma_of(t)
            noisy = noised(clean, noise, sigma).reshape(batch * noise_samples, *latent_shape)
            forward = transformer_call(self.transformer, self.variant, noisy, sigma, context, pooled)
            out[t] = self._read_taps(forward, taps, grid, context.shape[1], batch)
        return out

    def _read_taps(
        self,
        forward: Callable[[], object],
        taps: Sequence[str],
        grid: tuple[int, int],
        text_tokens: int,
        images: int,
    ) -> dict[str, torch.Tensor]:
        """``{tap: (B, N, C, h, w)}`` from one pass of ``forward`` over B * N image-major samples."""
        if isinstance(self.massive, DiTF):
            return self.massive.read(self.transformer, forward, taps, grid=grid, images=images)
        maps = block_taps(self.transformer, forward, taps, grid=grid, text_tokens=text_tokens)
        draws = {tap: m.reshape(images, -1, *m.shape[1:]) for tap, m in maps.items()}
        return draws if self.massive is None else {tap: self.massive(m) for tap, m in draws.items()}
