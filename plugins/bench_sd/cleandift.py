"""Noise-free diffusion features (CleanDIFT, Stracke et al., CVPR 2025) as data (no torch).

CleanDIFT fine-tunes an SD UNet to read clean latents: the image is VAE-encoded and the UNet runs
once on the clean latent, with no noise added and no noise draws, its timestep input held at one
value (the reference implementation's ``t_init``, 261; a "full" CleanDIFT checkpoint that stores
its learned ``timestep`` uses that), conditioned on the empty prompt. The released weights are
UNet state dicts (diffusers key names) in the hub repository ``CompVis/cleandift``, loaded onto the
base SD pipeline's VAE and text encoder. Registered as image encoders: ``--t`` and
``--noise-samples`` do not apply, and the seed changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench_sd.architecture import VARIANTS, SDVariant

HUB_REPO = "CompVis/cleandift"
CLEAN_TIMESTEP = 261
FULL_CHECKPOINT_PREFIX = "unet_feature_extractor_cleandift."
"""Key prefix of the UNet in CleanDIFT's "full" checkpoints (the training module's state dict)."""
LICENCE = "MIT (CleanDIFT UNet); the base model's licence applies to the rest"

FACTS = {
    "latent": "VAE posterior mean x scaling factor (deterministic)",
    "noise": "none: the UNet reads the clean latent (CleanDIFT); no timestep, no noise draws",
    "timestep_input": f"the UNet's timestep embedding is fed {CLEAN_TIMESTEP} (CleanDIFT's t_init) unless "
    "the checkpoint stores its learned timestep",
    "text": "the empty prompt",
    "descriptor": "tap output pooled and L2-normalised",
}


@dataclass(frozen=True)
class CleanDiftVariant:
    """A CleanDIFT backbone: the UNet weights and the SD architecture they fit.

    Attributes:
        id: backbone id.
        sd: the SD variant whose architecture and default base pipeline the UNet belongs to.
        unet_file: the UNet state dict in :data:`HUB_REPO` (None: the tiny random test model).
        description: one line for ``bench list``.
    """

    id: str
    sd: SDVariant
    unet_file: str | None
    description: str

    @property
    def default_weights(self) -> str:
        """``CompVis/cleandift+<base pipeline>``, or ``random`` for the tiny test model."""
        return "random" if self.unet_file is None else f"{HUB_REPO}+{self.sd.weights}"

    @property
    def base_weights(self) -> str:
        """The base pipeline read when ``--weights`` names only the UNet."""
        return "random" if self.unet_file is None else self.sd.weights


CLEANDIFT: dict[str, CleanDiftVariant] = {
    v.id: v
    for v in (
        CleanDiftVariant(
            "cleandift-sd15",
            VARIANTS["sd15"],
            "cleandift_sd15_unet.safetensors",
            "CleanDIFT SD 1.5: noise-free features from a UNet fine-tuned on clean images",
        ),
        CleanDiftVariant(
            "cleandift-sd21",
            VARIANTS["sd21"],
            "cleandift_sd21_unet.safetensors",
            "CleanDIFT SD 2.1 (768 px): noise-free features from a UNet fine-tuned on clean images",
        ),
        CleanDiftVariant(
            "cleandift-tiny",
            VARIANTS["sd-tiny"],
            None,
            "CleanDIFT extraction on sd-tiny's architecture (seeded random weights; a UNet checkpoint "
            "loads with --weights cleandift-tiny=UNET[+DIR])",
        ),
    )
}
