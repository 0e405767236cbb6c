"""An open_clip tower description (:mod:`bench_openclip.architecture`) as a :class:`bench.BackboneInfo`.

The registered ids and the ``open_clip:<arch>/<tag>`` names both go through :func:`backbone_info`
(no torch imported here).
"""

from __future__ import annotations

from functools import partial

from bench import EMBED, BackboneInfo, BenchError, TapInfo, vit_layers
from bench.weights import NO_WEIGHTS, RANDOM, RANDOM_NOTE, check_checkpoint, local_checkpoint
from bench_openclip.architecture import CHECKPOINT_FILES, PROJECTED_EMBEDDING, ClipViT

FACTORY = "bench_openclip.loaders:build_model"


def check_weights(weights: str, backbone_id: str) -> None:
    """Fail fast when ``weights`` (a hub id, file or folder) is neither here nor downloadable;
    ``"random"`` always passes.

    Raises:
        BenchError: naming the weights and how to get them.
    """
    if weights == NO_WEIGHTS:
        raise BenchError(
            f"Backbone {backbone_id!r} names no pretrained tag, so it has no default weights.",
            'Name one (open_clip:<arch>/<tag>; `python -c "import open_clip; '
            'print(open_clip.list_pretrained())"` lists them), pass the checkpoint with --weights FILE, '
            "or --weights random.",
        )
    check_checkpoint(weights, backbone_id, CHECKPOINT_FILES)


def tower_layers(
    depth: int,
    width: int,
    patch: int,
    embed_dim: int,
    *,
    class_token: bool = True,
    embed_what: str = PROJECTED_EMBEDDING,
) -> tuple[TapInfo, ...]:
    """The taps of a ViT image tower: ``block<k>`` maps, ``block<k>.cls`` when it has a class token,
    and ``embed`` (``embed_dim`` channels, ``embed_what`` in words)."""
    embed = TapInfo(EMBED, embed_dim, 0, embed_what)
    return vit_layers(depth, width, patch, embed, class_token=class_token)


def tower_taps(spec: ClipViT) -> tuple[TapInfo, ...]:
    """The taps of ``spec`` (:func:`tower_layers`)."""
    return tower_layers(
        spec.depth,
        spec.width,
        spec.patch,
        spec.embed_dim,
        class_token=spec.class_token,
        embed_what=spec.embed_what,
    )


def backbone_info(spec: ClipViT) -> BackboneInfo:
    """The registration of ``spec``: its taps, default weights, weights check and the shared factory."""
    named = f" (open_clip {spec.model_name} {spec.pretrained})" if spec.config is None else ""
    return BackboneInfo(
        id=spec.id,
        target=FACTORY,
        description=spec.description + named,
        layers=tower_taps(spec),
        default_layer=EMBED,
        weights=spec.hub_id,
        image_size=spec.image_size,
        learnable_prompts=("visual",),
        note=RANDOM_NOTE if spec.hub_id == RANDOM else None,
        weights_check=partial(check_weights, backbone_id=spec.id),
        weights_location=partial(local_checkpoint, filenames=CHECKPOINT_FILES),
        licence=spec.licence,
    )
