"""``open_clip:<arch>/<pretrained tag>``: any open_clip ViT image tower as a backbone, without weights.

The model is built on the meta device (no memory, no weights) and its image tower read: open_clip's
own ``VisionTransformer`` (OpenAI, LAION, MetaCLIP) or a timm trunk (``TimmModel``: SigLIP, PE,
EVA-CLIP). Default weights, input size and licence-free facts come from the tag's pretrained
configuration; a name without a tag has no default weights (``--weights FILE`` or ``random``).
"""

from __future__ import annotations

import logging

import open_clip
import torch

from bench import BackboneInfo, BenchError, closest_match
from bench.weights import NO_WEIGHTS
from bench_openclip.architecture import ClipViT
from bench_openclip.features import tower_blocks, tower_has_class_token
from bench_openclip.registration import backbone_info

PREFIX = "open_clip"
LIST_HINT = '`python -c "import open_clip; print(open_clip.list_pretrained())"` lists them'


def _hub_repository(arch: str, tag: str) -> str:
    """The Hugging Face repository open_clip downloads ``arch``/``tag`` from (NO_WEIGHTS without a tag).

    Raises:
        BenchError: open_clip has no such architecture or tag, or the tag is not on the hub.
    """
    if arch not in open_clip.list_models():
        guess = closest_match(arch, open_clip.list_models())
        raise BenchError(
            f"open_clip has no architecture {arch!r}" + (f" (did you mean {guess!r}?)." if guess else "."),
            f"Use open_clip:<arch>/<pretrained tag>; {LIST_HINT}.",
        )
    if not tag:
        return NO_WEIGHTS
    tags = open_clip.list_pretrained_tags_by_model(arch)
    if tag not in tags:
        raise BenchError(
            f"open_clip has no pretrained tag {tag!r} for {arch!r}.",
            f"Its tags: {', '.join(tags) or '(none)'}.",
        )
    hub = open_clip.get_pretrained_cfg(arch, tag).get("hf_hub", "").strip("/")
    if not hub:
        raise BenchError(
            f"open_clip's {arch}/{tag} is not on the Hugging Face hub (only a URL).",
            "Download it with open_clip on a connected machine and pass the file with --weights FILE.",
        )
    return "/".join(hub.split("/")[:2])


def describe(name: str) -> ClipViT:
    """The taps, input size and default weights of ``<arch>/<tag>``, read from a meta-device build.

    Raises:
        BenchError: no such architecture or tag, or a tower that is not a Vision Transformer.
    """
    arch, _, tag = name.partition("/")
    hub_id = _hub_repository(arch, tag)
    logging.disable(logging.WARNING)  # open_clip warns that no weights were loaded: none were asked for
    try:
        with torch.device("meta"):
            model = open_clip.create_model(arch, device="meta")
    finally:
        logging.disable(logging.NOTSET)
    visual = model.visual
    blocks = tower_blocks(visual)
    if blocks is None:
        raise BenchError(
            f"open_clip {arch!r} has a {type(visual).__name__} image tower, not a Vision Transformer.",
            "Use a ViT architecture (ViT-*, EVA02-*, PE-Core-*, *SigLIP*), or write a plugin.",
        )
    if hasattr(visual, "trunk"):
        width, patch = visual.trunk.embed_dim, visual.trunk.patch_embed.patch_size[0]
    else:
        width, patch = visual.transformer.width, visual.conv1.kernel_size[0]
    image_size = open_clip.get_model_config(arch)["vision_cfg"].get("image_size", 224)
    return ClipViT(
        id=f"{PREFIX}:{name}",
        description=f"open_clip {arch}" + (f" {tag}" if tag else " (no pretrained tag)"),
        model_name=arch,
        pretrained=tag,
        hub_id=hub_id,
        depth=len(blocks),
        width=width,
        patch=patch,
        embed_dim=open_clip.get_model_config(arch)["embed_dim"],
        image_size=image_size if isinstance(image_size, int) else image_size[0],
        class_token=tower_has_class_token(visual),
    )


def resolve(name: str) -> BackboneInfo:
    """The backbone ``open_clip:<name>`` (the ``open_clip`` family's resolver)."""
    return backbone_info(describe(name))
