"""``hf:<repo id or folder>``: a transformers vision encoder described from its configuration.

The repository's ``config.json`` (from the folder, or the Hugging Face cache) is read with
``transformers.AutoConfig``: nothing is built and no weights are read. Its ``model_type`` picks
the encoder kind (:data:`bench_hf.architecture.KINDS`).
"""

from __future__ import annotations

from functools import partial

from bench import EMBED, BackboneInfo, BenchError, TapInfo, vit_layers
from bench_hf.architecture import KINDS, HFEncoder
from bench_hf.preprocessing import read_preprocessing
from bench_hf.sources import check_weights, local_weights, model_folder

PREFIX = "hf"
FACTORY = "bench_hf.loaders:build_model"


def describe(name: str) -> HFEncoder:
    """What ``hf:<name>`` is, from its configuration files.

    Raises:
        BenchError: the files are not here (naming the model and how to get them), or the model
            type is not a supported vision encoder.
    """
    from transformers import AutoConfig

    backbone_id = f"{PREFIX}:{name}"
    folder = model_folder(name, backbone_id)
    config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
    kind = KINDS.get(config.model_type)
    if kind is None:
        raise BenchError(
            f"Backbone {backbone_id!r} is a {config.model_type!r} model, not a supported vision encoder.",
            f"Supported model types: {', '.join(sorted(KINDS))}; use timm:<model> or open_clip:<arch>/<tag> "
            "for others, or write a plugin.",
        )
    vision = config.vision_config if kind.vision_config else config
    embed_dim = getattr(config, "projection_dim", None) if kind.embed_output == "image_embeds" else None
    preprocessing = read_preprocessing(folder, kind, vision.image_size)
    return HFEncoder(
        id=backbone_id,
        source=name,
        kind=kind,
        model_type=config.model_type,
        depth=vision.num_hidden_layers,
        width=vision.hidden_size,
        patch=vision.patch_size,
        registers=getattr(vision, "num_register_tokens", 0) or 0,
        embed_dim=embed_dim or vision.hidden_size,
        image_size=preprocessing.image_size,
        mean=preprocessing.mean,
        std=preprocessing.std,
        interpolation=preprocessing.interpolation,
    )


def taps(encoder: HFEncoder) -> tuple[TapInfo, ...]:
    """``block<k>`` maps (class and register tokens dropped), ``block<k>.cls`` when the model has a
    class token, and ``embed``."""
    embed = TapInfo(EMBED, encoder.embed_dim, 0, encoder.kind.embed_what)
    return vit_layers(
        encoder.depth, encoder.width, encoder.patch, embed, class_token=encoder.kind.class_token
    )


def resolve(name: str) -> BackboneInfo:
    """The backbone ``hf:<name>`` (the ``hf`` family's resolver)."""
    encoder = describe(name)
    registers = f", {encoder.registers} register tokens" if encoder.registers else ""
    return BackboneInfo(
        id=encoder.id,
        target=FACTORY,
        description=f"transformers {encoder.kind.model_class} ({encoder.model_type}{registers}) from {name}",
        layers=taps(encoder),
        default_layer=EMBED,
        weights=name,
        image_size=encoder.image_size,
        learnable_prompts=("visual",),
        weights_check=partial(check_weights, backbone_id=encoder.id),
        weights_location=local_weights,
    )
