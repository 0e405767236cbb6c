"""A diffusion transformer read from a single-file checkpoint, as model sites distribute them.

Stability AI ships SD3 / SD3.5 as one ``.safetensors`` file in the original MMDiT key layout
(``joint_blocks.<i>.x_block.attn.qkv.weight``, often under ``model.diffusion_model.``, sometimes
with the VAE and text encoders in the same file); Black Forest Labs ships FLUX.1 as one file in its
own layout (``double_blocks.<i>.img_attn.qkv.weight``, ``single_blocks.<i>.linear1.weight``).
Files converted to diffusers' key names (``transformer_blocks.<i>.attn.to_q.weight``) are read too.

Only the transformer comes from the file: the VAE, the text encoders, the tokenizers and the
transformer's ``config.json`` come from a diffusers folder of the same model (``FILE+DIR``, or the
backbone's cached default weights). Other tensors in the file (a bundled VAE or CLIP) are ignored.

SD3 files are converted by diffusers' own converter (it reads every width from the tensors). FLUX
files are converted here: diffusers' FLUX converter assumes FLUX.1's width (3072), so it cannot read
a smaller model; this one takes every split size from the tensors (tested equal to diffusers' at
FLUX.1's width).

Tensors (no torch at import): the file's tensors keep their dtype until the model is cast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bench import BenchError
from bench.weights import INTACT_FILE_HINT, load_complete, read_state_dict, tensor_shapes
from bench_dit.architecture import FLUX, SD3, VARIANTS, DiTVariant

TRANSFORMER_PREFIX = "model.diffusion_model."
"""Prefix of the transformer's keys in a checkpoint that bundles other parts (LDM convention)."""

FLUX_RENAMES: tuple[tuple[str, str], ...] = (
    ("time_in.in_layer", "time_text_embed.timestep_embedder.linear_1"),
    ("time_in.out_layer", "time_text_embed.timestep_embedder.linear_2"),
    ("vector_in.in_layer", "time_text_embed.text_embedder.linear_1"),
    ("vector_in.out_layer", "time_text_embed.text_embedder.linear_2"),
    ("guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1"),
    ("guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2"),
    ("txt_in", "context_embedder"),
    ("img_in", "x_embedder"),
    ("final_layer.linear", "proj_out"),
)
"""Black Forest Labs' module names -> diffusers' for the modules outside the blocks."""

FLUX_DOUBLE_RENAMES: tuple[tuple[str, str], ...] = (
    ("img_mod.lin", "norm1.linear"),
    ("txt_mod.lin", "norm1_context.linear"),
    ("img_attn.norm.query_norm.scale", "attn.norm_q.weight"),
    ("img_attn.norm.key_norm.scale", "attn.norm_k.weight"),
    ("txt_attn.norm.query_norm.scale", "attn.norm_added_q.weight"),
    ("txt_attn.norm.key_norm.scale", "attn.norm_added_k.weight"),
    ("img_mlp.0", "ff.net.0.proj"),
    ("img_mlp.2", "ff.net.2"),
    ("txt_mlp.0", "ff_context.net.0.proj"),
    ("txt_mlp.2", "ff_context.net.2"),
    ("img_attn.proj", "attn.to_out.0"),
    ("txt_attn.proj", "attn.to_add_out"),
)
"""Inside ``double_blocks.<i>`` -> ``transformer_blocks.<i>``."""

FLUX_SINGLE_RENAMES: tuple[tuple[str, str], ...] = (
    ("modulation.lin", "norm.linear"),
    ("norm.query_norm.scale", "attn.norm_q.weight"),
    ("norm.key_norm.scale", "attn.norm_k.weight"),
    ("linear2", "proj_out"),
)
"""Inside ``single_blocks.<i>`` -> ``single_transformer_blocks.<i>``."""

FLUX_FUSED: dict[str, tuple[str, ...]] = {
    "img_attn.qkv": ("attn.to_q", "attn.to_k", "attn.to_v"),
    "txt_attn.qkv": ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"),
    "linear1": ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"),
}
"""Fused projections (rows stacked in this order) -> diffusers' separate ones. ``linear1`` of a
single block stacks q, k, v (the model width each) and the MLP input (the remaining rows)."""

FLUX_SHIFT_SCALE = "final_layer.adaLN_modulation.1"
"""The output norm's modulation: (shift, scale) rows in the original, (scale, shift) in diffusers."""

_BLOCK_KINDS = (
    "double_blocks",
    "single_blocks",
    "joint_blocks",
    "transformer_blocks",
    "single_transformer_blocks",
)
_BLOCK = re.compile(rf"^({'|'.join(_BLOCK_KINDS)})\.(\d+)\.")


@dataclass(frozen=True)
class FileLayout:
    """What a checkpoint's key names say about the transformer in it.

    Attributes:
        family: ``"sd3"``, ``"flux"``, or None when no transformer block is in the file.
        original: the original key layout (True) or diffusers' (False).
        joint_blocks: number of joint / double-stream blocks.
        single_blocks: number of single-stream blocks (FLUX; 0 for SD3).
        other_tensors: tensors that are not the transformer's (a bundled VAE or text encoder).
    """

    family: str | None
    original: bool
    joint_blocks: int
    single_blocks: int
    other_tensors: int


def checkpoint_keys(file: str) -> list[str]:
    """The tensor names in ``file`` (``.safetensors``: read from the header only; ``.ckpt``: a
    memory-mapped, weights-only load).

    Raises:
        BenchError: the file is damaged, or holds Python objects besides tensors (never unpickled).
    """
    return list(tensor_shapes(file, "The checkpoint", INTACT_FILE_HINT))


_OTHER_PARTS = frozenset({"first_stage_model", "cond_stage_model", "text_encoders", "conditioner", "vae"})
"""Top-level names of the parts a bundled checkpoint holds besides the transformer."""


def transformer_keys(keys: list[str]) -> dict[str, str]:
    """The transformer's tensor names in a checkpoint -> the same without the LDM prefix. A file
    using the prefix has the transformer under it only; a file without it holds the transformer
    at top level, besides the bundled parts (VAE, text encoders) under their own names."""
    if any(key.startswith(TRANSFORMER_PREFIX) for key in keys):
        return {key: key[len(TRANSFORMER_PREFIX) :] for key in keys if key.startswith(TRANSFORMER_PREFIX)}
    return {key: key for key in keys if key.split(".", 1)[0] not in _OTHER_PARTS}


def layout_of(keys: list[str]) -> FileLayout:
    """The transformer layout of a checkpoint with tensor names ``keys``."""
    own = list(transformer_keys(keys).values())
    blocks: dict[str, set[int]] = {}
    for key in own:
        if match := _BLOCK.match(key):
            blocks.setdefault(match[1], set()).add(int(match[2]))
    count = {name: len(found) for name, found in blocks.items()}
    other = len(keys) - len(own)
    if "joint_blocks" in count:
        return FileLayout(SD3, True, count["joint_blocks"], 0, other)
    if "double_blocks" in count:
        return FileLayout(FLUX, True, count["double_blocks"], count.get("single_blocks", 0), other)
    if "transformer_blocks" in count:
        single = count.get("single_transformer_blocks", 0)
        family = FLUX if single or any(k.startswith("x_embedder.") for k in own) else SD3
        return FileLayout(family, False, count["transformer_blocks"], single, other)
    return FileLayout(None, False, 0, 0, other)


def _describe(layout: FileLayout) -> str:
    if layout.family is None:
        return "no SD3 or FLUX transformer blocks"
    name = "an SD3 / SD3.5 MMDiT" if layout.family == SD3 else "a FLUX.1 transformer"
    single = f" and {layout.single_blocks} single-stream" if layout.family == FLUX else ""
    return f"{name} with {layout.joint_blocks} joint{single} blocks"


def check_layout(file: str, variant: DiTVariant, backbone_id: str) -> FileLayout:
    """Refuse (before any model loads) a file whose transformer is not ``variant``'s architecture,
    naming the registered backbone it fits.

    Raises:
        BenchError: the file is unreadable, holds no transformer, or one of another architecture.
    """
    layout = layout_of(checkpoint_keys(file))
    if _blocks(layout) == _blocks(variant):
        return layout
    fits = [v.id for v in VARIANTS.values() if _blocks(v) == _blocks(layout) and v.id != variant.id]
    wanted = FileLayout(variant.family, True, variant.joint_blocks, variant.single_blocks, 0)
    raise BenchError(
        f"The checkpoint {file!r} holds {_describe(layout)}, not {variant.id}'s ({_describe(wanted)}).",
        f"Use --backbone {fits[0]} with this file."
        if fits
        else "Pass a transformer checkpoint of this backbone.",
    )


def _blocks(model: FileLayout | DiTVariant) -> tuple[str | None, int, int]:
    return model.family, model.joint_blocks, model.single_blocks


def read_transformer_state(file: str) -> dict:
    """The transformer's tensors of ``file``, keyed without the LDM prefix. From a
    ``.safetensors`` file only those tensors are read (a bundled VAE or T5 is never loaded)."""
    if Path(file).suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(file, framework="pt") as handle:
            own = transformer_keys(list(handle.keys()))
            return {name: handle.get_tensor(key) for key, name in own.items()}
    tensors = read_state_dict(file, "The checkpoint", INTACT_FILE_HINT, mmap=True)
    return {own: tensors[key] for key, own in transformer_keys(list(tensors)).items()}


def _renamed(key: str, renames: tuple[tuple[str, str], ...]) -> str | None:
    for original, new in renames:
        if key == original or key.startswith(original + "."):
            return new + key[len(original) :]
    return None


def flux_to_diffusers(state: dict) -> dict:
    """Black Forest Labs' FLUX.1 key layout -> diffusers' ``FluxTransformer2DModel`` names.

    Split sizes come from the tensors: the model width is ``img_in``'s output size, a single
    block's MLP input is what ``linear1`` holds beyond q, k and v.

    Raises:
        KeyError: a tensor this layout does not know (named in the message).
    """
    import torch

    width = state["img_in.weight"].shape[0]
    converted: dict = {}
    for key, value in state.items():
        if key.startswith(FLUX_SHIFT_SCALE + "."):
            shift, scale = value.chunk(2, dim=0)
            converted["norm_out.linear" + key[len(FLUX_SHIFT_SCALE) :]] = torch.cat([scale, shift])
            continue
        match = _BLOCK.match(key)
        if match is None:
            new = _renamed(key, FLUX_RENAMES)
            if new is None:
                raise KeyError(f"unknown FLUX tensor {key!r}")
            converted[new] = value
            continue
        kind, index, rest = match[1], match[2], key[match.end() :]
        stream = "transformer_blocks" if kind == "double_blocks" else "single_transformer_blocks"
        prefix = f"{stream}.{index}."
        module, _, leaf = rest.rpartition(".")
        if module in FLUX_FUSED:
            names = FLUX_FUSED[module]
            sizes = [width] * 3 + [value.shape[0] - 3 * width] * (len(names) - 3)
            for name, part in zip(names, torch.split(value, sizes, dim=0), strict=True):
                converted[f"{prefix}{name}.{leaf}"] = part.clone()
            continue
        new = _renamed(rest, FLUX_DOUBLE_RENAMES if kind == "double_blocks" else FLUX_SINGLE_RENAMES)
        if new is None:
            raise KeyError(f"unknown FLUX tensor {key!r}")
        converted[prefix + new] = value
    return converted


def to_diffusers(state: dict, layout: FileLayout) -> dict:
    """A transformer state dict in diffusers' names, from either layout."""
    if not layout.original:
        return state
    if layout.family == FLUX:
        return flux_to_diffusers(state)
    from diffusers.loaders.single_file_utils import convert_sd3_transformer_checkpoint_to_diffusers

    return convert_sd3_transformer_checkpoint_to_diffusers(dict(state))


def load_transformer(file: str, config_dir: str, variant: DiTVariant, model_class: type, backbone_id: str):
    """``variant``'s transformer (``model_class``, in eval mode) with the weights of ``file``
    (already accepted by :func:`check_layout`) in their stored dtype (the diffusion base casts it)
    and the config of ``config_dir/transformer``; built on the meta device, so only the file's
    transformer tensors take memory.

    Raises:
        BenchError: the file does not fit the config (missing or unexpected tensors, shapes).
    """
    import torch

    state = read_transformer_state(file)  # its layout was checked against the backbone by check_layout
    try:
        state = to_diffusers(state, layout_of(list(state)))
    except (KeyError, ValueError, RuntimeError) as exc:
        raise BenchError(
            f"The checkpoint {file!r} is not a complete {variant.id} transformer: {exc}.",
            "Pass the transformer file as its publisher distributes it, or a diffusers folder.",
        ) from exc
    config = model_class.load_config(config_dir, subfolder="transformer")
    with torch.device("meta"):
        model = model_class.from_config(config)
    load_complete(
        model,
        state,
        f"The transformer tensors of {file!r} (with the config in {config_dir})",
        f"Check that the file and --weights {backbone_id}=FILE+DIR are the same model, and that the "
        "file is complete (a truncated download or an edited file leaves tensors out).",
        assign=True,
    )
    return model.eval()
