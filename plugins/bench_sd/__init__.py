"""Built-in plugin: Stable Diffusion backbones and their layer selectors.

Registers lazily: nothing here imports torch or diffusers.
"""

from __future__ import annotations

from bench import BackboneInfo, LayerSelector, hookimpl
from bench_sd.architecture import SD15_UNET_CHANNELS, TINY_UNET_CONFIG, unet_layers

SD_FAMILY = ("sd-tiny", "sd15")


def _check(backbone_id: str):
    def check(weights: str) -> None:
        from bench_sd.weights import check_weights

        check_weights(weights, backbone_id)

    return check


@hookimpl
def register_backbones(register) -> None:
    register(
        BackboneInfo(
            id="sd-tiny",
            target="bench_sd.loaders:build_tiny",
            description="Stable Diffusion architecture in miniature, seeded random weights (no download)",
            layers=unet_layers(TINY_UNET_CONFIG["block_out_channels"]),
            default_layer="up1",
            weights="random",
            image_size=128,
            num_timesteps=1000,
            accepts_text=True,
            note="random weights (architecture check, not a model)",
        )
    )
    register(
        BackboneInfo(
            id="sd15",
            target="bench_sd.loaders:build_pretrained",
            description="Stable Diffusion v1.5 (stable-diffusion-v1-5/stable-diffusion-v1-5)",
            layers=unet_layers(SD15_UNET_CHANNELS),
            default_layer="up1",
            weights="stable-diffusion-v1-5/stable-diffusion-v1-5",
            image_size=512,
            num_timesteps=1000,
            accepts_text=True,
            weights_check=_check("sd15"),
        )
    )


@hookimpl
def register_layer_selectors(register) -> None:
    register(
        LayerSelector(
            id="coarse",
            taps=("up0", "up1"),
            description="decoder levels 1-2 (Koley et al.'s category-level choice)",
            backbones=SD_FAMILY,
        )
    )
    register(
        LayerSelector(
            id="fine",
            taps=("up2", "up3"),
            description="decoder levels 3-4 (Koley et al.'s fine-grained choice)",
            backbones=SD_FAMILY,
        )
    )
