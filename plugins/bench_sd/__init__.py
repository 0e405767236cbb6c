"""Built-in plugin: Stable Diffusion backbones (sd-tiny, sd-mini, sd15, sd21, sd21-base, sd-turbo,
sdxl, sdxl-turbo), the noise-free CleanDIFT ones (cleandift-sd15, cleandift-sd21, cleandift-tiny)
and the paper's layer selectors.

Registers lazily: nothing here imports torch or diffusers.
"""

from __future__ import annotations

from functools import partial

from bench import BackboneInfo, LayerSelector, hookimpl
from bench.weights import RANDOM, RANDOM_NOTE
from bench_sd.architecture import EXTRACTOR_FACTS, VARIANTS, SDVariant
from bench_sd.cleandift import CLEANDIFT, CleanDiftVariant
from bench_sd.cleandift import FACTS as CLEANDIFT_FACTS
from bench_sd.cleandift import LICENCE as CLEANDIFT_LICENCE
from bench_sd.cleandift_weights import check_cleandift_weights, cleandift_location
from bench_sd.weights import check_weights, local_weights

NOTES = {
    "sd-tiny": RANDOM_NOTE,
    "sd-mini": "a miniature SD trained by this project on generated shapes (not Stable Diffusion)",
}


def backbone_info(variant: SDVariant) -> BackboneInfo:
    """The registry entry of an SD variant (layers from its UNet config)."""
    random = variant.weights == RANDOM
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
        # sd-tiny also reads a folder or a single file
        weights_check=partial(
            check_weights, backbone_id=variant.id, parts=variant.needed_parts, default=variant.weights
        ),
        weights_location=None if random else partial(local_weights, parts=variant.needed_parts),
        facts=EXTRACTOR_FACTS,
        learnable_prompts=("visual", "textual"),
        licence=variant.licence,
    )


def cleandift_info(spec: CleanDiftVariant) -> BackboneInfo:
    """The registry entry of a CleanDIFT backbone: an image encoder (no timestep, no noise draws,
    empty-prompt conditioning), with its SD variant's layers."""
    from functools import partial

    random = spec.unet_file is None
    return BackboneInfo(
        id=spec.id,
        target="bench_sd.cleandift_loader:build_cleandift",
        description=spec.description,
        layers=spec.sd.layers,
        default_layer=spec.sd.default_layer,
        weights=spec.default_weights,
        image_size=spec.sd.image_size,
        note=RANDOM_NOTE if random else None,
        weights_check=partial(check_cleandift_weights, backbone_id=spec.id),
        weights_location=None if random else partial(cleandift_location, backbone_id=spec.id),
        facts=CLEANDIFT_FACTS,
        learnable_prompts=("visual",),
        licence=None if random else CLEANDIFT_LICENCE,
    )


@hookimpl
def register_backbones(register) -> None:
    for variant in VARIANTS.values():
        register(backbone_info(variant))
    for spec in CLEANDIFT.values():
        register(cleandift_info(spec))


@hookimpl
def register_layer_selectors(register) -> None:
    register(
        LayerSelector(
            id="coarse",
            taps=("up0", "up1"),
            description="decoder levels 1-2 (Koley et al.'s category-level choice)",
            backbones=(*VARIANTS, *CLEANDIFT),
        )
    )
    register(
        LayerSelector(
            id="fine",
            taps=("up2", "up3"),
            description="decoder levels 3-4 (Koley et al.'s fine-grained choice)",
            backbones=(*VARIANTS, *CLEANDIFT),
        )
    )
