"""Which tensors of each pipeline part a single-file SD checkpoint leaves unset, or holds in excess.

diffusers' ``from_single_file`` converts the file's original (LDM) key names part by part and loads
the result non-strictly: a tensor the file lacks keeps its fresh random value (or, with accelerate
installed, stays uninitialised) without a word. This reruns the same converters of
``diffusers.loaders.single_file_utils`` on the file's tensor shapes (meta tensors: nothing is read
or allocated) and compares each part's converted names with the loaded model's.
"""

from __future__ import annotations

import torch

from bench.weights import INTACT_FILE_HINT, TensorGaps, model_gaps, tensor_shapes

OPEN_CLIP_PREFIXES = {
    "text_encoder": "cond_stage_model.model.",  # SD 2.x: OpenCLIP ViT-H text tower
    "text_encoder_2": "conditioner.embedders.1.model.",  # SDXL: OpenCLIP ViT-bigG text tower
}
"""Where a part held in OpenCLIP's layout sits in the file (SD 1.x and SDXL's first text encoder
use transformers' names, under ``cond_stage_model.transformer.`` or
``conditioner.embedders.0.transformer.``)."""


def _text_names(part: str, model: torch.nn.Module, checkpoint: dict) -> set[str]:
    from diffusers.loaders.single_file_utils import convert_ldm_clip_checkpoint, convert_open_clip_checkpoint

    prefix = OPEN_CLIP_PREFIXES[part]
    if any(key.startswith(prefix) for key in checkpoint):
        names = set(convert_open_clip_checkpoint(model, checkpoint, prefix=prefix))
    else:
        names = set(convert_ldm_clip_checkpoint(checkpoint))
    # transformers >= 5.6 flattens CLIPTextModel (no text_model. wrapper); diffusers strips the prefix then
    return names if hasattr(model, "text_model") else {name.removeprefix("text_model.") for name in names}


def checkpoint_shapes(file: str) -> dict[str, tuple[int, ...]]:
    """The name and shape of every tensor in ``file``, read before diffusers loads it (a
    ``.safetensors`` header, a memory-mapped weights-only ``.ckpt``).

    Raises:
        BenchError: the file is damaged, or holds Python objects besides tensors (never unpickled).
    """
    return tensor_shapes(file, "The single-file checkpoint", INTACT_FILE_HINT)


def single_file_gaps(
    shapes: dict[str, tuple[int, ...]], parts: dict[str, torch.nn.Module]
) -> dict[str, TensorGaps]:
    """``{part: gaps}`` for each loaded part (``unet``, ``vae``, ``text_encoder``[, ``text_encoder_2``])
    whose tensors converted from a file's ``shapes`` (:func:`checkpoint_shapes`) differ from its
    model's; parts that match are left out."""
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint

    checkpoint = {key: torch.empty(shape, device="meta") for key, shape in shapes.items()}
    found = {}
    for part, model in parts.items():
        if part == "unet":
            names = set(convert_ldm_unet_checkpoint(checkpoint, dict(model.config)))
        elif part == "vae":
            names = set(convert_ldm_vae_checkpoint(checkpoint, dict(model.config)))
        else:
            names = _text_names(part, model, checkpoint)
        gaps = model_gaps(model, names)
        if gaps:
            found[part] = gaps
    return found
