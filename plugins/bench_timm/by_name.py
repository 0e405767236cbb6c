"""``timm:<model>[.<tag>]``: any timm ViT or staged CNN as a backbone, described without weights.

The architecture is built on the meta device (no memory, no weights) and read: a model with
``blocks`` and a ``patch_embed`` is a ViT (taps ``block<k>``, ``block<k>.cls`` when it has a class
token), one with ``stages`` and ``feature_info`` a staged CNN (taps ``stage<k>``). The default
weights, input size and licence come from the pretrained configuration of the tag (timm's default
tag when none is given).
"""

from __future__ import annotations

import timm
import torch

from bench import BackboneInfo, BenchError, closest_match
from bench_timm.architecture import TimmConvNet, TimmSpec, TimmViT
from bench_timm.features import has_class_token
from bench_timm.registration import NO_WEIGHTS, backbone_info

PREFIX = "timm"


def _checked_config(name: str):
    """timm's pretrained configuration of ``name`` (None when the architecture has none).

    Raises:
        BenchError: timm has no such architecture or tag.
    """
    arch, _, tag = name.partition(".")
    if not timm.is_model(arch):
        guess = closest_match(arch, timm.list_models())
        raise BenchError(
            f"timm has no model {arch!r}" + (f" (did you mean {guess!r}?)." if guess else "."),
            "Name a timm architecture, optionally with a pretrained tag: timm:<model>[.<tag>]; "
            "`python -c \"import timm; print(timm.list_pretrained('*dinov3*'))\"` lists them.",
        )
    try:
        return timm.get_pretrained_cfg(name)
    except RuntimeError:  # an unknown tag
        tags = [n.partition(".")[2] for n in timm.list_pretrained(f"{arch}.*")]
        raise BenchError(
            f"timm has no pretrained tag {tag!r} for {arch!r}.",
            f"Its tags: {', '.join(tags) or '(none)'}; or drop the tag for random weights.",
        ) from None


def describe(name: str, create_kwargs: dict | None = None) -> TimmSpec:
    """The taps, input size and default weights of timm model ``name`` (``arch[.tag]``), read from
    its architecture built on the meta device.

    Raises:
        BenchError: timm has no such model, or it is neither a ViT nor a staged CNN.
    """
    config = _checked_config(name)
    kwargs = dict(create_kwargs or {})
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False, num_classes=0, **kwargs)
    hub_id = config.hf_hub_id if config is not None and config.hf_hub_id else NO_WEIGHTS
    size = config.input_size[-1] if config is not None else 224
    licence = config.license if config is not None else None
    backbone_id = f"{PREFIX}:{name}"
    description = f"timm {type(model).__name__} {name}"
    if hasattr(model, "blocks") and hasattr(model, "patch_embed"):
        return TimmViT(
            id=backbone_id,
            model_name=name,
            hub_id=hub_id,
            depth=len(model.blocks),
            width=model.embed_dim,
            patch=model.patch_embed.patch_size[0],
            image_size=size,
            description=description,
            class_token=has_class_token(model),
            global_pool=model.global_pool,
            pooled_dim=getattr(model, "head_hidden_size", model.num_features),
            licence=licence,
            create_kwargs=kwargs,
        )
    if hasattr(model, "stages") and hasattr(model, "forward_intermediates"):
        info = model.feature_info
        return TimmConvNet(
            id=backbone_id,
            model_name=name,
            hub_id=hub_id,
            channels=tuple(stage["num_chs"] for stage in info),
            strides=tuple(stage["reduction"] for stage in info),
            embed_dim=model.num_features,
            image_size=size,
            description=description,
            licence=licence,
            create_kwargs=kwargs,
        )
    raise BenchError(
        f"timm model {name!r} ({type(model).__name__}) is neither a Vision Transformer nor a CNN with "
        "stages, so sbir-bench does not know its taps.",
        "Use a ViT (vit_*, eva*, *dinov3*, *siglip*) or a ConvNeXt (convnext*), or write a plugin.",
    )


def resolve(name: str) -> BackboneInfo:
    """The backbone ``timm:<name>`` (the ``timm`` family's resolver)."""
    return backbone_info(describe(name))
