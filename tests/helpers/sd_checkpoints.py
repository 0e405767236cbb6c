"""Stable Diffusion models as one checkpoint file in the original (LDM) key layout, written by the
inverse of what diffusers' single-file loader converts."""

from __future__ import annotations

import re

import torch

from tests.helpers.dit_models import rename_all

# diffusers -> original Stable Diffusion (LDM) key names, the inverse of what diffusers'
# from_single_file converts; enough for sd-tiny's UNet, VAE and CLIP text encoder.
RESNET_NAMES = [
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
]


VAE_ATTENTION_NAMES = [
    ("group_norm", "norm"),
    ("to_q", "q"),
    ("to_k", "k"),
    ("to_v", "v"),
    ("to_out.0", "proj_out"),
]


def _renamed(rest: str, names: list[tuple[str, str]]) -> str:
    for new, old in names:
        if rest.startswith(new + "."):
            return old + rest[len(new) :]
    return rest


def ldm_unet_key(key: str, per_block: int, attention_up: list[bool]) -> str:
    from diffusers.loaders.single_file_utils import DIFFUSERS_TO_LDM_MAPPING

    fixed = {
        **DIFFUSERS_TO_LDM_MAPPING["unet"]["layers"],
        **DIFFUSERS_TO_LDM_MAPPING["unet"]["addition_embed_type"],
    }
    if key in fixed:
        return fixed[key]
    if m := re.match(r"(down|up)_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        side, block, kind, j, rest = m[1], int(m[2]), m[3], int(m[4]), m[5]
        index = block * (per_block + 1) + j + (1 if side == "down" else 0)
        name = "input_blocks" if side == "down" else "output_blocks"
        return (
            f"{name}.{index}.0.{_renamed(rest, RESNET_NAMES)}"
            if kind == "resnets"
            else f"{name}.{index}.1.{rest}"
        )
    if m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
        return f"input_blocks.{(int(m[1]) + 1) * (per_block + 1)}.0.op.{m[2]}"
    if m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
        block = int(m[1])
        after = 2 if attention_up[block] else 1  # the upsampler follows the block's attention, if any
        return f"output_blocks.{block * (per_block + 1) + per_block}.{after}.conv.{m[2]}"
    if m := re.match(r"mid_block\.resnets\.(\d+)\.(.*)", key):
        return f"middle_block.{2 * int(m[1])}.{_renamed(m[2], RESNET_NAMES)}"
    if m := re.match(r"mid_block\.attentions\.0\.(.*)", key):
        return f"middle_block.1.{m[1]}"
    raise KeyError(key)


def ldm_vae_key(key: str, levels: int) -> str:
    from diffusers.loaders.single_file_utils import DIFFUSERS_TO_LDM_MAPPING

    if key in DIFFUSERS_TO_LDM_MAPPING["vae"]:
        return DIFFUSERS_TO_LDM_MAPPING["vae"][key]
    coder, rest = key.split(".", 1)
    if m := re.match(r"(down|up)_blocks\.(\d+)\.(resnets|downsamplers|upsamplers)\.(\d+)\.(.*)", rest):
        side, block, kind, j, tail = m[1], int(m[2]), m[3], int(m[4]), m[5]
        level = block if side == "down" else levels - 1 - block
        if kind == "resnets":
            return f"{coder}.{side}.{level}.block.{j}.{tail.replace('conv_shortcut', 'nin_shortcut')}"
        return f"{coder}.{side}.{level}.{side}sample.{tail}"
    if m := re.match(r"mid_block\.resnets\.(\d+)\.(.*)", rest):
        return f"{coder}.mid.block_{int(m[1]) + 1}.{m[2].replace('conv_shortcut', 'nin_shortcut')}"
    if m := re.match(r"mid_block\.attentions\.0\.(.*)", rest):
        return f"{coder}.mid.attn_1.{_renamed(m[1], VAE_ATTENTION_NAMES)}"
    raise KeyError(key)


OPEN_CLIP_NAMES = [
    (r"text_model\.embeddings\.token_embedding\.weight", "token_embedding.weight"),
    (r"text_model\.embeddings\.position_embedding\.weight", "positional_embedding"),
    (r"text_model\.final_layer_norm\.(\w+)", r"ln_final.\1"),
    (
        r"text_model\.encoder\.layers\.(\d+)\.self_attn\.out_proj\.(\w+)",
        r"transformer.resblocks.\1.attn.out_proj.\2",
    ),
    (r"text_model\.encoder\.layers\.(\d+)\.layer_norm1\.(\w+)", r"transformer.resblocks.\1.ln_1.\2"),
    (r"text_model\.encoder\.layers\.(\d+)\.layer_norm2\.(\w+)", r"transformer.resblocks.\1.ln_2.\2"),
    (r"text_model\.encoder\.layers\.(\d+)\.mlp\.fc1\.(\w+)", r"transformer.resblocks.\1.mlp.c_fc.\2"),
    (r"text_model\.encoder\.layers\.(\d+)\.mlp\.fc2\.(\w+)", r"transformer.resblocks.\1.mlp.c_proj.\2"),
]
"""transformers' CLIPTextModel names -> OpenCLIP's (regex, replacement), q/k/v fused separately."""


def open_clip_text_state(text_encoder, prefix: str = "cond_stage_model.model.") -> dict[str, torch.Tensor]:
    """A CLIPTextModel under OpenCLIP's names (under ``prefix``), as SD 2.x checkpoints hold their
    OpenCLIP ViT-H text encoder and SDXL ones their ViT-bigG: q, k, v stacked into one ``in_proj``,
    the projection (if any) as a (width, projection) matrix."""
    state = {  # transformers 5 names the text model's tensors without the "text_model." prefix
        (k if k.startswith(("text_model.", "text_projection.")) else "text_model." + k): v
        for k, v in text_encoder.state_dict().items()
        if not k.endswith("position_ids")
    }
    out = {}
    if "text_projection.weight" in state:
        out["text_projection"] = state.pop("text_projection.weight").T
    for i in range(text_encoder.config.num_hidden_layers):
        attention = f"text_model.encoder.layers.{i}.self_attn"
        for leaf in ("weight", "bias"):
            fused = [state.pop(f"{attention}.{c}_proj.{leaf}") for c in "qkv"]
            out[f"transformer.resblocks.{i}.attn.in_proj_{leaf}"] = torch.cat(fused)
    rename_all(state, OPEN_CLIP_NAMES, out)
    assert not state, sorted(state)
    return {prefix + key: value for key, value in out.items()}


def single_file_state(
    unet, vae, text_encoder, open_clip: bool = False, text_encoder_2=None
) -> dict[str, torch.Tensor]:
    """One state dict with the original SD key names, as model sites distribute checkpoints: the
    text encoder as SD 1.x holds it (transformers' names under ``cond_stage_model.transformer.``)
    or, with ``open_clip``, as SD 2.x does; with ``text_encoder_2``, both as SDXL holds them
    (``conditioner.embedders.0.transformer.`` and OpenCLIP names under ``conditioner.embedders.1.model.``)."""
    attention_up = [kind.startswith("CrossAttn") for kind in unet.config.up_block_types]
    state = {
        "model.diffusion_model." + ldm_unet_key(k, unet.config.layers_per_block, attention_up): v
        for k, v in unet.state_dict().items()
    }
    levels = len(vae.config.down_block_types)
    state |= {"first_stage_model." + ldm_vae_key(k, levels): v for k, v in vae.state_dict().items()}
    if open_clip:
        state |= open_clip_text_state(text_encoder)
    else:
        first = (
            "conditioner.embedders.0.transformer."
            if text_encoder_2 is not None
            else "cond_stage_model.transformer."
        )
        for key, value in text_encoder.state_dict().items():
            key = key if key.startswith("text_model.") else "text_model." + key
            state[first + key] = value
    if text_encoder_2 is not None:
        state |= open_clip_text_state(text_encoder_2, "conditioner.embedders.1.model.")
    return {key: value.contiguous() for key, value in state.items()}
