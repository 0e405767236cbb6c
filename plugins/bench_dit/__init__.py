"""Built-in plugin: diffusion transformers as backbones: Stable Diffusion 3 / 3.5
(``SD3Transformer2DModel``) and FLUX.1 (``FluxTransformer2DModel``), their tiny twins, and the
``dit:<id>/massive-<mode><k>`` and ``dit:<id>/ditf`` family that turns on a massive-activation
handling (``dit:flux1-dev/ditf`` and the tiny twins' are registered, so ``bench list`` shows them).

Registers lazily: nothing here imports torch or diffusers.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from bench import BackboneFamily, BackboneInfo, hookimpl
from bench.weights import RANDOM, RANDOM_NOTE, local_diffusers_weights
from bench_dit.architecture import FLUX, FLUX_DEV_GUIDANCE, NUM_TIMESTEPS, VARIANTS, DiTVariant
from bench_dit.ditf import RECIPES as DITF_RECIPES
from bench_dit.ditf import DiTF
from bench_dit.names import EXAMPLE, FAMILY, USAGE, variant_of
from bench_dit.weights import check_weights

COMMON_FACTS = {
    "latent": "VAE posterior mean, (mean - shift_factor) x scaling_factor (deterministic)",
    "noise": (
        f"rectified flow x_t = (1 - sigma) x_0 + sigma eps with sigma = t/{NUM_TIMESTEPS} (no schedule "
        "shift); N draws per image from a seed of (run seed, image content)"
    ),
    "descriptor": (
        "per draw: the tap's image tokens as a (C, S/16, S/16) map, pooled and L2-normalised; mean over draws"
    ),
    "massive_activations": "off",
}
SD3_FACTS = {
    **COMMON_FACTS,
    "timestep": "transformer timestep input = 1000 sigma = t (as FlowMatchEulerDiscreteScheduler.timesteps)",
    "text": (
        "CLIP-L and CLIP-G penultimate hidden states (77 tokens, concatenated, zero-padded to T5's "
        "width), then T5 last hidden state; pooled = both CLIP projections; computed once per text"
    ),
}
FLUX_FACTS = {
    **COMMON_FACTS,
    "timestep": "transformer timestep input = sigma = t/1000 (FluxTransformer2DModel scales it by 1000)",
    "text": "T5 last hidden state (context) and CLIP-L pooled output; txt ids zero; computed once per text",
    "latent_packing": "2 x 2 latent patches packed into 64-channel tokens; img ids (0, row, column)",
}


def facts(variant: DiTVariant) -> dict[str, str]:
    """What extraction does for ``variant``, recorded in every results file."""
    if variant.family != FLUX:
        return dict(SD3_FACTS)
    guidance = (
        f"{FLUX_DEV_GUIDANCE} (FluxPipeline's default)" if variant.guidance else "none (no guidance input)"
    )
    return {**FLUX_FACTS, "guidance": guidance}


def backbone_info(variant: DiTVariant) -> BackboneInfo:
    """The registry entry of a diffusion transformer (layers from its config, no weights read)."""
    random = variant.weights == RANDOM
    return BackboneInfo(
        id=variant.id,
        target="bench_dit.loaders:build_tiny" if random else "bench_dit.loaders:build_pretrained",
        description=variant.description,
        layers=variant.layers,
        default_layer=variant.default_layer,
        weights=variant.weights,
        image_size=variant.image_size,
        num_timesteps=NUM_TIMESTEPS,
        accepts_text=True,
        note=RANDOM_NOTE if random else None,
        weights_check=None if random else partial(check_weights, backbone_id=variant.id),
        weights_location=None if random else partial(local_diffusers_weights, parts=variant.needed_parts),
        facts=facts(variant),
        learnable_prompts=("visual", "textual"),
        licence=variant.licence,
    )


def resolve_family_name(name: str) -> BackboneInfo:
    """``dit:<name>``: the registered backbone with the massive-activation handling ``name`` asks for
    (``massive-zero4``: its taps as they are, post-processed; ``ditf``: its taps described and read as
    DiTF reads them, FLUX.1-dev's default the tap of DiTF's paper setting)."""
    backbone_id = f"{FAMILY}:{name}"
    variant, handling = variant_of(backbone_id)
    base = backbone_info(variant)
    info = replace(
        base,
        id=backbone_id,
        description=f"{variant.id} with {handling.name.replace('-', ' ')}",
        weights_check=None if base.weights_check is None else partial(check_weights, backbone_id=backbone_id),
        facts={**base.facts, "massive_activations": handling.describe()},
    )
    if not isinstance(handling, DiTF):
        return info
    return replace(
        info,
        description=(
            f"{variant.id} read as DiTF reads it (block input, channels "
            f"{', '.join(map(str, handling.channels))} zeroed, LayerNorm, the block's AdaLN)"
        ),
        layers=handling.layers(variant),
        default_layer=handling.recipe.default_layer or base.default_layer,
    )


@hookimpl
def register_backbones(register) -> None:
    for variant in VARIANTS.values():
        register(backbone_info(variant))
    for model in DITF_RECIPES:  # listed, so that `bench list backbones` shows where DiTF applies
        register(resolve_family_name(f"{model}/{DiTF.name}"))


@hookimpl
def register_backbone_families(register) -> None:
    register(
        BackboneFamily(
            prefix=FAMILY,
            resolve="bench_dit:resolve_family_name",
            usage=USAGE,
            description=(
                "a registered SD3 / FLUX backbone, its massive activation channels zeroed or clipped per "
                f"image, or read as DiTF does (ditf; models with a channel list: {', '.join(DITF_RECIPES)})"
            ),
            example=EXAMPLE,
        )
    )
