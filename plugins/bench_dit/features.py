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
``--t`` is the same noise level for every model and resolution (t = 0: the clean latent;
``bench.RectifiedFlowSchedule``). Noise, timesteps, conditioning and tap reading are
``bench.DiffusionBackboneBase``'s; this module says which blocks are taps and how the transformer
is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch

from bench import BenchError, DenoiserInputs, DiffusionBackboneBase, RectifiedFlowSchedule
from bench_dit.architecture import FLUX, NUM_TIMESTEPS, STRIDE, TOKEN_LATENTS, DiTVariant
from bench_dit.ditf import DiTF
from bench_dit.massive import MassiveActivations
from bench_dit.taps import image_tokens, tap_module, tap_order, tokens_to_map


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


def run_transformer(
    transformer: torch.nn.Module,
    variant: DiTVariant,
    noisy: torch.Tensor,
    sigma: float,
    context: torch.Tensor,
    pooled: torch.Tensor,
) -> object:
    """One call of the transformer on noisy latents at noise level ``sigma``, as its pipeline makes it.

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
        return transformer(
            hidden_states=noisy,
            encoder_hidden_states=context,
            pooled_projections=pooled,
            timestep=timestep,
            return_dict=False,
        )
    height, width = noisy.shape[-2] // TOKEN_LATENTS, noisy.shape[-1] // TOKEN_LATENTS
    guidance = None if variant.guidance is None else torch.full((samples,), variant.guidance, device=device)
    return transformer(
        hidden_states=pack_latents(noisy),
        encoder_hidden_states=context,
        pooled_projections=pooled,
        timestep=torch.full((samples,), sigma, device=device, dtype=dtype),
        img_ids=image_ids(height, width, device, dtype),
        txt_ids=torch.zeros(context.shape[1], 3, device=device, dtype=dtype),
        guidance=None if guidance is None else guidance.to(dtype),
        return_dict=False,
    )


class DiffusionTransformerFeatures(DiffusionBackboneBase):
    """A frozen SD3 or FLUX model (VAE encoder, transformer, text encoders) returning block maps.

    Args:
        variant: the architecture (family, guidance, image-size limits).
        vae: diffusers ``AutoencoderKL`` with 16 latent channels (only the encoder is used).
        transformer: ``SD3Transformer2DModel`` or ``FluxTransformer2DModel``.
        conditioner: ``SD3Conditioner`` or ``FluxConditioner``.
        image_size: input resolution in pixels (a multiple of 16).
        weights, device, dtype: as for ``bench.DiffusionBackboneBase`` (a VAE whose config asks for
            ``force_upcast`` stays in fp32 under fp16).
        massive: the massive-activation handling, or None (the default): a
            :class:`~bench_dit.massive.MassiveActivations` is applied to every tap's (B, N, C, h, w)
            draws; :class:`~bench_dit.ditf.DiTF` reads the taps itself (each block's input through
            its AdaLN).
    """

    denoiser_name = "transformer"

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
        super().__init__(
            denoiser=transformer,
            vae=vae,
            conditioner=conditioner,
            schedule=RectifiedFlowSchedule(NUM_TIMESTEPS),
            image_size=image_size,
            weights=weights,
            device=device,
            dtype=dtype,
        )
        self.variant = variant
        self.massive = massive

    @property
    def transformer(self) -> torch.nn.Module:
        """The transformer (the denoiser)."""
        return self.denoiser

    def tap_order(self) -> list[str]:
        return tap_order(self.transformer)

    def tap_module(self, tap: str) -> torch.nn.Module:
        return tap_module(self.transformer, tap)

    def forward(self, inputs: DenoiserInputs) -> object:
        context, pooled = (part.to(self.dtype) for part in inputs.conditioning)
        sigma = self.schedule.sigma(inputs.timestep)
        return run_transformer(self.transformer, self.variant, inputs.noisy, sigma, context, pooled)

    def read_tap(self, tap: str, output: object, inputs: DenoiserInputs) -> torch.Tensor:
        text_tokens = inputs.conditioning[0].shape[1]
        return tokens_to_map(image_tokens(output, text_tokens), *_grid(inputs.noisy))

    def read_taps(self, inputs: DenoiserInputs, taps: Sequence[str], images: int) -> dict[str, torch.Tensor]:
        """``{tap: (B, N, C, h, w)}``, the massive-activation handling applied to each image's draws
        (or the taps read as DiTF reads them)."""
        if isinstance(self.massive, DiTF):
            forward = partial(self.forward, inputs)
            return self.massive.read(self.transformer, forward, taps, grid=_grid(inputs.noisy), images=images)
        draws = super().read_taps(inputs, taps, images)
        return draws if self.massive is None else {tap: self.massive(m) for tap, m in draws.items()}


def _grid(noisy: torch.Tensor) -> tuple[int, int]:
    """(h, w) image tokens per column and row of (B', c, H, W) latents: 2 x 2 latents per token."""
    return noisy.shape[-2] // TOKEN_LATENTS, noisy.shape[-1] // TOKEN_LATENTS
