"""Built-in plugin: Stable Diffusion backbones (sd-tiny, sd-mini, sd15, sd21, sd21-base, sd-turbo,
sdxl) and the paper's layer selectors.

Registers lazily: nothing here imports torch or diffusers.
"""

from __future__ import annotations

from collections.abc import Callable

from bench import BackboneInfo, LayerSelector, hookimpl
from bench_sd.architecture import EXTRACTOR_FACTS, VARIANTS, SDVariant

RANDOM_NOTE = "random weights (architecture check, not a model)"
NOTES = {
    "sd-tiny": RANDOM_NOTE,
    "sd-mini": "a miniature SD trained by this project on generated shapes (not Stable Diffusion)",
}


def _weights_check(variant: SDVariant) -> Callable[[str], None]:
    def check(weights: str) -> None:
        from bench_sd.weights import check_weights

        check_weights(weights, variant.id, variant.needed_parts)

    return check


def _weights_location(variant: SDVariant) -> Callable[[str], str | None]:
    def location(weights: str) -> str | None:
        from bench_sd.weights import local_weights

        return local_weights(weights, variant.needed_parts)

    return location


def backbone_info(variant: SDVariant) -> BackboneInfo:
    """The registry entry of an SD variant (layers from its UNet config)."""
    random = variant.weights == "random"
    return BackboneInfo(
        id=variant.id,
        target="bench_sd.loaders:build_tiny" if random else "bench_sd.loaders:build_pretrained",
        description=variant.description,
        layers=variant.layers,
        default_layer=variant.default_layer,
        weights=variant.weights,
        image_size=variant.image_size,
        num_timesteps=1000,
        accepts_text=True,
        note=NOTES.get(variant.id),
        weights_check=None if random else _weights_check(variant),
        weights_location=None if random else _weights_location(variant),
        facts=EXTRACTOR_FACTS,
        learnable_prompts=("visual", "textual"),
    )


@hookimpl
def register_backbones(register) -> None:
    for variant in VARIANTS.values():
        register(backbone_info(variant))


@hookimpl
def register_layer_selectors(register) -> None:
    register(
        LayerSelector(
            id="coarse",
            taps=("up0", "up1"),
            description="decoder levels 1-2 (Koley et al.'s category-level choice)",
            backbones=tuple(VARIANTS),
        )
    )
    register(
        LayerSelector(
            id="fine",
            taps=("up2", "up3"),
            description="decoder levels 3-4 (Koley et al.'s fine-grained choice)",
            backbones=tuple(VARIANTS),
        )
    )
