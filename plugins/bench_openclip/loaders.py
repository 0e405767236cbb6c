"""Factories that build an :class:`OpenClipViTFeatures` (the lazy targets of the open_clip backbones).

Only the image tower (``model.visual``) is kept; the text tower is dropped after loading.
"""

from __future__ import annotations

from dataclasses import asdict

import torch

from bench import BackboneInfo, check_random, checkpoint_file, unreadable_checkpoint
from bench_openclip.architecture import CHECKPOINT_FILES, CLIP_VITS, TINY_CLIP_CONFIG
from bench_openclip.features import OpenClipViTFeatures, normalization_of

SPECS = {spec.id: spec for spec in CLIP_VITS}


def tiny_clip(image_size: int):
    """The ``clip-tiny`` network for ``image_size`` px inputs: an ``open_clip.CLIP`` built from
    ``TINY_CLIP_CONFIG`` with weights drawn from seed 0 (inside a forked RNG, so the caller's random
    state is untouched)."""
    import open_clip

    config = {**TINY_CLIP_CONFIG, "vision_cfg": {**TINY_CLIP_CONFIG["vision_cfg"], "image_size": image_size}}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return open_clip.CLIP(**config)


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


def build_pretrained(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> OpenClipViTFeatures:
    """A pretrained open_clip ViT from a hub id (local cache first) or a checkpoint file.

    The architecture, QuickGELU and preprocessing come from open_clip's configuration of the
    backbone's pretrained tag; position embeddings are resized to ``image_size`` by open_clip.
    """
    import open_clip

    spec = SPECS[info.id]
    path = checkpoint_file(weights, info.id, CHECKPOINT_FILES)
    tag = open_clip.get_pretrained_cfg(spec.model_name, spec.pretrained)
    try:
        model = open_clip.create_model(
            spec.model_name,
            pretrained=path,
            force_quick_gelu=tag.get("quick_gelu", False),
            force_image_size=image_size,
            force_preprocess_cfg={k: tag[k] for k in ("mean", "std", "interpolation") if k in tag},
        )
    except Exception as exc:
        # a corrupt or foreign file fails in many ways (IndexError, SafetensorError, RuntimeError, ...)
        expected = f"an open_clip checkpoint of {spec.model_name}"
        raise unreadable_checkpoint(weights, info.id, path, expected, exc) from exc
    return OpenClipViTFeatures(
        model=model.visual,
        depth=spec.depth,
        normalization=normalization_of(open_clip.get_model_preprocess_cfg(model)),
        image_size=image_size,
        weights=weights,
        device=device,
        dtype=dtype,
    )
