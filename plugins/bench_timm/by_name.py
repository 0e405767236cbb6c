"""``timm:<model>[.<tag>]``: any timm ViT or CNN as a backbone, described without weights.

The architecture is built on the meta device (no memory, no weights) and read: a model with
``blocks`` and a ``patch_embed`` is a ViT (taps ``block<k>``, ``block<k>.cls`` when it has a class
token); any other with timm's feature extraction (``feature_info`` and ``forward_intermediates``:
ResNet, VGG, EfficientNet, RegNet, ConvNeXt, ...) a CNN whose taps ``stage<k>`` are its feature
levels, checked by one pass on the meta device. The default weights, input size and licence come
from the pretrained configuration of the tag (timm's default tag when none is given).
"""

from __future__ import annotations

import math

import timm
import torch

from bench import BackboneInfo, BenchError, closest_match
from bench.weights import NO_WEIGHTS
from bench_timm.architecture import TimmConvNet, TimmSpec, TimmViT, cnn_embed_what
from bench_timm.features import has_class_token
from bench_timm.registration import backbone_info

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
    not_vit = ""
    if hasattr(model, "blocks") and hasattr(model, "patch_embed"):
        try:
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
        except (AttributeError, TypeError, IndexError) as exc:  # blocks and patch_embed, another layout
            not_vit = f" (it has blocks and a patch embedding, but {_first_line(exc)})"
    if hasattr(model, "feature_info") and hasattr(model, "forward_intermediates"):
        channels, strides, modules, embed_dim = feature_levels(model, name, size)
        return TimmConvNet(
            id=backbone_id,
            model_name=name,
            hub_id=hub_id,
            channels=channels,
            strides=strides,
            modules=modules,
            embed_dim=embed_dim,
            image_size=size,
            description=description,
            embed_what=cnn_embed_what(type(model).__name__, model.num_features, embed_dim),
            licence=licence,
            create_kwargs=kwargs,
        )
    raise BenchError(
        f"timm model {name!r} ({type(model).__name__}) is neither a Vision Transformer of timm's "
        f"VisionTransformer layout{not_vit} nor a CNN with timm's feature extraction (feature_info and "
        "forward_intermediates), so sbir-bench does not know its taps.",
        "Use a ViT (vit_*, eva*, *dinov3*, *siglip*) or a CNN (resnet*, vgg*, efficientnet*, regnet*, "
        "convnext*, ...), or write a plugin.",
    )


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def feature_levels(
    model: torch.nn.Module, name: str, size: int
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[str, ...], int]:
    """Channels, strides and modules of a meta-device CNN's feature levels (timm's ``feature_info``),
    and the channels of its pre-logits feature, checked by one pass of ``forward_intermediates`` on a
    (1, 3, ``size``, ``size``) meta input: it must give one map per level with the level's channels
    and a stride within a factor of sqrt(2) of the level's reduction (unpadded convolutions, as in
    Inception, make maps a little smaller than size / reduction).

    Raises:
        BenchError: the pass fails on the meta device, or disagrees with ``feature_info``.
    """
    levels = [(level["num_chs"], level["reduction"], level["module"]) for level in model.feature_info]
    pixels = torch.empty(1, 3, size, size, device="meta")
    try:
        final, maps = model.eval().forward_intermediates(pixels, output_fmt="NCHW")
        embed_dim = model.forward_head(final, pre_logits=True).shape[-1]
    except Exception as exc:  # a model's own assertion or shape error, whatever its type
        raise BenchError(
            f"timm model {name!r} ({type(model).__name__}) could not be read at {size} px on the meta "
            f"device: {_first_line(exc)}",
            "Use another timm model, or write a plugin for this one.",
        ) from exc
    measured = [(int(item.shape[1]), size / item.shape[-1]) for item in maps]
    agrees = len(measured) == len(levels) and all(
        width == level[0] and abs(math.log2(stride / level[1])) <= 0.5
        for (width, stride), level in zip(measured, levels, strict=False)
    )
    if not agrees:
        listed = ", ".join(f"{width} ch / {reduction} px" for width, reduction, _ in levels)
        got = ", ".join(f"{width} ch / {stride:g} px" for width, stride in measured)
        raise BenchError(
            f"timm model {name!r} ({type(model).__name__}) lists feature levels ({listed}) that its "
            f"forward_intermediates does not give at {size} px ({got}), so sbir-bench cannot name its taps.",
            "Use another timm model, or write a plugin for this one.",
        )
    channels, strides, modules = (tuple(column) for column in zip(*levels, strict=True))
    return channels, strides, modules, int(embed_dim)


def resolve(name: str) -> BackboneInfo:
    """The backbone ``timm:<name>`` (the ``timm`` family's resolver)."""
    return backbone_info(describe(name))
