"""Stable Diffusion as a feature extractor (Koley et al., CVPR 2024; DIFT by Tang et al.).

VAE-encode the image (posterior mean, deterministic), add DDPM noise at timestep t, run the UNet
once conditioned on a text embedding, and read the outputs of chosen blocks. The pass stops right
after the deepest requested block (a forward hook raises), so reading ``up1`` skips ``up2..``.
Noise, timesteps, conditioning and tap reading are ``bench.DiffusionBackboneBase``'s; this module
says which blocks are taps and how the UNet is called.
"""

from __future__ import annotations

import torch

from bench import DDPMSchedule, DenoiserInputs, DiffusionBackboneBase


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


def _block_map(output: object) -> torch.Tensor:
    """A UNet block's (B, C, h, w) output (down blocks return it with their residuals)."""
    return output[0] if isinstance(output, tuple) else output


class StableDiffusionFeatures(DiffusionBackboneBase):
    """A frozen SD model (VAE encoder, UNet, text conditioning) that returns block features.

    Args:
        vae: diffusers ``AutoencoderKL`` (only the encoder is used; the decoder may be None).
        unet: diffusers ``UNet2DConditionModel``.
        conditioner: texts -> :class:`Conditioning` (``ClipConditioner`` or ``DualClipConditioner``).
        alphas_cumprod: (num_train_timesteps,) cumulative products of the DDPM alphas.
        image_size, weights, device, dtype: as for ``bench.DiffusionBackboneBase`` (a VAE whose
            config asks for ``force_upcast``, SDXL's, stays in fp32 under fp16).
    """

    denoiser_name = "UNet"

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
        super().__init__(
            denoiser=unet,
            vae=vae,
            conditioner=conditioner,
            schedule=DDPMSchedule(alphas_cumprod.to(torch.float64)),
            image_size=image_size,
            weights=weights,
            device=device,
            dtype=dtype,
        )
        if device.type == "cuda":
            self.unet.to(memory_format=torch.channels_last)

    @property
    def unet(self) -> torch.nn.Module:
        """The UNet (the denoiser)."""
        return self.denoiser

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        """(num_train_timesteps,) float64 cumulative products of the DDPM alphas."""
        return self.schedule.alphas_cumprod

    def tap_order(self) -> list[str]:
        return tap_order(self.unet)

    def tap_module(self, tap: str) -> torch.nn.Module:
        return _tap_module(self.unet, tap)

    def forward(self, inputs: DenoiserInputs) -> object:
        """One UNet call as SD's pipelines make it: ``inputs.conditioning`` is (context (B', 77, d),
        SDXL's ``added_cond_kwargs`` or None/{})."""
        context, added = inputs.conditioning
        return self.unet(
            inputs.noisy, inputs.timestep, encoder_hidden_states=context, added_cond_kwargs=added or None
        )

    def read_tap(self, tap: str, output: object, inputs: DenoiserInputs) -> torch.Tensor:
        return _block_map(output)
