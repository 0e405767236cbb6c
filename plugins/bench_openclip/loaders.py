"""Factories of the open_clip backbones (the lazy targets of their registrations).

:func:`build_model` builds every open_clip tower, registered or named ``open_clip:<arch>/<tag>``,
with weights from a hub id (local cache first), a checkpoint file or folder, or ``"random"``; a
tiny test configuration is built from its model configuration with seeded random weights. Only the
image tower (``model.visual``) is kept; the text tower is dropped after loading.
"""

from __future__ import annotations

from dataclasses import asdict

import torch

from bench import BackboneInfo, PixelNormalization
from bench.weights import RANDOM, check_random, checkpoint_file, unreadable_checkpoint
from bench_openclip.architecture import (
    CHECKPOINT_FILES,
    CLIP_VITS,
    NEW_CLIP_VITS,
    TINY_CLIP_CONFIG,
    TINY_CLIP_VITS,
    ClipViT,
)
from bench_openclip.features import OpenClipViTFeatures, normalization_of

SPECS = {spec.id: spec for spec in (*CLIP_VITS, *NEW_CLIP_VITS, *TINY_CLIP_VITS)}
NAME_PREFIX = "open_clip:"
PREPROCESS_KEYS = ("mean", "std", "interpolation")


def spec_of(backbone_id: str) -> ClipViT:
    """The description of a registered open_clip backbone, or of an ``open_clip:<arch>/<tag>`` name."""
    if backbone_id.startswith(NAME_PREFIX):
        from bench_openclip.by_name import describe

        return describe(backbone_id.removeprefix(NAME_PREFIX))
    return SPECS[backbone_id]


def tiny_clip(image_size: int, config: dict = TINY_CLIP_CONFIG):
    """A tiny ``open_clip.CLIP`` for ``image_size`` px inputs built from model ``config`` (default
    ``clip-tiny``'s) with weights drawn from seed 0 (inside a forked RNG, so the caller's random
    state is untouched)."""
    import open_clip

    from bench_openclip.tiny import register_tiny_trunks

    register_tiny_trunks()
    config = {**config, "vision_cfg": {**config["vision_cfg"], "image_size": image_size}}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = open_clip.CLIP(**config)
    if hasattr(model.visual, "trunk"):  # TimmModel builds its trunk at the trunk's own size
        model.visual.set_input_size(image_size)
    return model


def build_tiny(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> OpenClipViTFeatures:
    """The ``clip-tiny`` backbone; ``weights`` must be ``"random"``."""
    from open_clip.transform import PreprocessCfg

    check_random(weights, info.id)
    return OpenClipViTFeatures(
        model=tiny_clip(image_size).visual,
        depth=TINY_CLIP_CONFIG["vision_cfg"]["layers"],
        normalization=normalization_of(asdict(PreprocessCfg())),
        image_size=image_size,
        weights="random (seed 0)",
        device=device,
        dtype=dtype,
    )


def pretrained_config(spec: ClipViT) -> dict:
    """open_clip's configuration of ``spec``'s pretrained tag (for a tiny model, of the tag of the
    model it mimics); empty without a tag."""
    import open_clip

    return dict(open_clip.get_pretrained_cfg(spec.model_name, spec.pretrained)) if spec.pretrained else {}


def normalization_for(spec: ClipViT) -> PixelNormalization:
    """The input normalisation of ``spec``: its tag's mean, std and filter over open_clip's defaults."""
    from open_clip.transform import PreprocessCfg

    tag = pretrained_config(spec)
    return normalization_of({**asdict(PreprocessCfg()), **{k: tag[k] for k in PREPROCESS_KEYS if k in tag}})


def create_network(spec: ClipViT, weights: str, backbone_id: str, image_size: int):
    """``spec``'s open_clip model for ``image_size`` px inputs with ``weights`` (``"random"``: seed 0)
    and the preprocessing of its pretrained tag. Position embeddings are resized by open_clip.

    Raises:
        BenchError: the weights are missing (naming them and how to get them) or unreadable.
    """
    import open_clip

    if spec.config is not None:
        check_random(weights, backbone_id)
        return tiny_clip(image_size, spec.config)
    tag = pretrained_config(spec)
    options = {
        "force_quick_gelu": tag.get("quick_gelu", False),
        "force_image_size": image_size,
        "force_preprocess_cfg": {k: tag[k] for k in PREPROCESS_KEYS if k in tag},
    }
    if weights == RANDOM:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return open_clip.create_model(spec.model_name, **options)
    path = checkpoint_file(weights, backbone_id, CHECKPOINT_FILES)
    try:
        return open_clip.create_model(spec.model_name, pretrained=path, **options)
    except Exception as exc:
        # a corrupt or foreign file fails in many ways (IndexError, SafetensorError, RuntimeError, ...)
        expected = f"an open_clip checkpoint of {spec.model_name}"
        raise unreadable_checkpoint(weights, backbone_id, path, expected, exc) from exc


def build_model(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> OpenClipViTFeatures:
    """An open_clip backbone (registered, or ``open_clip:<arch>/<tag>``) with ``weights``."""
    spec = spec_of(info.id)
    model = create_network(spec, weights, info.id, image_size)
    return OpenClipViTFeatures(
        model=model.visual,
        depth=spec.depth,
        normalization=normalization_for(spec),
        image_size=image_size,
        weights="random (seed 0)" if weights == RANDOM else weights,
        device=device,
        dtype=dtype,
    )
