"""A timm model description (:mod:`bench_timm.architecture`) as a :class:`bench.BackboneInfo` (no torch).

The registered ids and the ``timm:<model>`` names both go through :func:`backbone_info`, so a
model has the same taps, weights check and factory whichever way it is named. Every timm ViT's
``embed`` is its final normed class token (the model's own pooled head output without a class
token) and ``pooled`` the model's own pooled head output (timm's ``global_pool``).
"""

from __future__ import annotations

from functools import partial

from bench import EMBED, POOLED, BackboneInfo, BenchError, TapInfo, vit_layers
from bench.weights import NO_WEIGHTS, RANDOM, RANDOM_NOTE, check_checkpoint, local_checkpoint
from bench_timm.architecture import CHECKPOINT_FILES, TimmConvNet, TimmSpec, TimmViT
from bench_timm.stages import stage_layers

FACTORY = "bench_timm.loaders:build_model"


def check_weights(weights: str, backbone_id: str) -> None:
    """Fail fast when ``weights`` (a hub id, file or folder) is neither here nor downloadable;
    ``"random"`` (seeded random weights) always passes.

    Raises:
        BenchError: naming the weights and how to get them.
    """
    if weights == NO_WEIGHTS:
        raise BenchError(
            f"timm publishes no pretrained weights for backbone {backbone_id!r}.",
            f"Pass a checkpoint file or folder with --weights {backbone_id}=FILE, or --weights random "
            "for seeded random weights, or name a model with a pretrained tag (`timm.list_pretrained()`).",
        )
    check_checkpoint(weights, backbone_id, CHECKPOINT_FILES)


NORMED_CLASS_TOKEN = "final normed class token (the last block's class token after the final norm)"
_POOLINGS = {
    "token": "the class token",
    "avg": "mean of the patch tokens",
    "max": "max over the patch tokens",
    "avgmax": "mean of the patch tokens' mean and max",
    "map": "attention pooling, MAP head",
}


def pooled_description(global_pool: str) -> str:
    """What ``pooled`` is for a model pooling with timm's ``global_pool``, in words."""
    return (
        f"timm's pooled head feature, forward_head pre-logits (global_pool={global_pool!r}: "
        f"{_POOLINGS.get(global_pool, global_pool)})"
    )


def timm_vit_layers(
    depth: int,
    width: int,
    patch: int,
    *,
    class_token: bool = True,
    global_pool: str = "token",
    pooled_dim: int | None = None,
) -> tuple[TapInfo, ...]:
    """The taps of a timm ViT: ``block<k>`` maps, ``block<k>.cls`` when it has a class token, ``embed``
    (the final normed class token; without one, the pooled head feature) and ``pooled`` (its own
    pooled head feature, ``pooled_dim`` channels, None: ``width``)."""
    pooled = TapInfo(POOLED, pooled_dim or width, 0, pooled_description(global_pool))
    embed = (
        TapInfo(EMBED, width, 0, NORMED_CLASS_TOKEN)
        if class_token
        else TapInfo(EMBED, pooled.channels, 0, f"no class token: {POOLED}, {pooled.description}")
    )
    return vit_layers(depth, width, patch, embed, class_token=class_token, pooled=pooled)


def vit_taps(spec: TimmViT) -> tuple[TapInfo, ...]:
    """The taps of ``spec`` (:func:`timm_vit_layers`)."""
    return timm_vit_layers(
        spec.depth,
        spec.width,
        spec.patch,
        class_token=spec.class_token,
        global_pool=spec.global_pool,
        pooled_dim=spec.pooled_dim,
    )


def convnet_taps(spec: TimmConvNet) -> tuple[TapInfo, ...]:
    """``stage<k>`` maps for every feature level (also counted from the end), then ``embed``."""
    embed = TapInfo(EMBED, spec.embed_dim, 0, spec.embed_what)
    return stage_layers(spec.channels, spec.strides, spec.modules, embed)


def backbone_info(spec: TimmSpec) -> BackboneInfo:
    """The registration of ``spec``: its taps, default weights, weights check and the shared factory."""
    layers = vit_taps(spec) if isinstance(spec, TimmViT) else convnet_taps(spec)
    return BackboneInfo(
        id=spec.id,
        target=FACTORY,
        description=spec.description,
        layers=layers,
        default_layer=EMBED,
        weights=spec.hub_id,
        image_size=spec.image_size,
        learnable_prompts=("visual",),
        note=RANDOM_NOTE if spec.hub_id == RANDOM else None,
        weights_check=partial(check_weights, backbone_id=spec.id),
        weights_location=partial(local_checkpoint, filenames=CHECKPOINT_FILES),
        licence=spec.licence,
    )
