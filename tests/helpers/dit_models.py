"""Tiny SD3 and FLUX models for the tests, and the layouts people have them in on disk: a
diffusers folder, and one file in the original key layout of Stability AI (MMDiT) and Black Forest
Labs (FLUX.1), written by the inverse of what a single-file loader converts."""

from __future__ import annotations

import re
from pathlib import Path

import torch

CPU = torch.device("cpu")


def tiny(backbone_id: str, image_size: int = 32, massive=None):
    from bench_dit.architecture import VARIANTS
    from bench_dit.loaders import random_model

    variant = VARIANTS[backbone_id]
    return random_model(variant, image_size=image_size, device=CPU, dtype=torch.float32, massive=massive)


def save_tiny(model, folder: Path, variant: str | None = None) -> None:
    """``model``'s parts as a diffusers folder (what the pipeline's save_pretrained writes; with
    ``variant``, only ``*.fp16.safetensors``-style files, as ``variant="fp16"`` downloads leave it)."""
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_config(model.vae.config)
    vae.load_state_dict({**vae.state_dict(), **model.vae.state_dict()})
    vae.save_pretrained(folder / "vae", variant=variant)
    model.transformer.save_pretrained(folder / "transformer", variant=variant)
    suffixes = ["", "_2", "_3"][: len(model.conditioner.encoders)]
    for suffix, encoder, tokenizer in zip(
        suffixes, model.conditioner.encoders, model.conditioner.tokenizers, strict=True
    ):
        encoder.save_pretrained(folder / f"text_encoder{suffix}", variant=variant)
        tokenizer.save_pretrained(folder / f"tokenizer{suffix}")


def _swap_halves(tensor: torch.Tensor) -> torch.Tensor:
    """(a, b) rows -> (b, a): diffusers' output norms modulate by (scale, shift), the originals by
    (shift, scale)."""
    first, second = tensor.chunk(2, dim=0)
    return torch.cat([second, first])


def _fuse(state: dict, names: list[str], fused: str, leaf: str, out: dict) -> None:
    out[f"{fused}.{leaf}"] = torch.cat([state.pop(f"{name}.{leaf}") for name in names])


def rename_all(state: dict, table: list[tuple[str, str]], out: dict) -> None:
    """Move every tensor of ``state`` whose name matches a (regex, replacement) of ``table``."""
    for key in list(state):
        for pattern, replacement in table:
            if re.fullmatch(pattern, key):
                out[re.sub(pattern, replacement, key)] = state.pop(key)
                break


MMDIT_NAMES = [
    (r"pos_embed\.pos_embed", "pos_embed"),
    (r"pos_embed\.proj\.(\w+)", r"x_embedder.proj.\1"),
    (r"time_text_embed\.timestep_embedder\.linear_1\.(\w+)", r"t_embedder.mlp.0.\1"),
    (r"time_text_embed\.timestep_embedder\.linear_2\.(\w+)", r"t_embedder.mlp.2.\1"),
    (r"time_text_embed\.text_embedder\.linear_1\.(\w+)", r"y_embedder.mlp.0.\1"),
    (r"time_text_embed\.text_embedder\.linear_2\.(\w+)", r"y_embedder.mlp.2.\1"),
    (r"context_embedder\.(\w+)", r"context_embedder.\1"),
    (r"proj_out\.(\w+)", r"final_layer.linear.\1"),
    (r"transformer_blocks\.(\d+)\.attn\.norm_q\.weight", r"joint_blocks.\1.x_block.attn.ln_q.weight"),
    (r"transformer_blocks\.(\d+)\.attn\.norm_k\.weight", r"joint_blocks.\1.x_block.attn.ln_k.weight"),
    (
        r"transformer_blocks\.(\d+)\.attn\.norm_added_q\.weight",
        r"joint_blocks.\1.context_block.attn.ln_q.weight",
    ),
    (
        r"transformer_blocks\.(\d+)\.attn\.norm_added_k\.weight",
        r"joint_blocks.\1.context_block.attn.ln_k.weight",
    ),
    (r"transformer_blocks\.(\d+)\.attn2\.norm_q\.weight", r"joint_blocks.\1.x_block.attn2.ln_q.weight"),
    (r"transformer_blocks\.(\d+)\.attn2\.norm_k\.weight", r"joint_blocks.\1.x_block.attn2.ln_k.weight"),
    (r"transformer_blocks\.(\d+)\.attn\.to_out\.0\.(\w+)", r"joint_blocks.\1.x_block.attn.proj.\2"),
    (r"transformer_blocks\.(\d+)\.attn2\.to_out\.0\.(\w+)", r"joint_blocks.\1.x_block.attn2.proj.\2"),
    (r"transformer_blocks\.(\d+)\.attn\.to_add_out\.(\w+)", r"joint_blocks.\1.context_block.attn.proj.\2"),
    (r"transformer_blocks\.(\d+)\.norm1\.linear\.(\w+)", r"joint_blocks.\1.x_block.adaLN_modulation.1.\2"),
    (r"transformer_blocks\.(\d+)\.ff\.net\.0\.proj\.(\w+)", r"joint_blocks.\1.x_block.mlp.fc1.\2"),
    (r"transformer_blocks\.(\d+)\.ff\.net\.2\.(\w+)", r"joint_blocks.\1.x_block.mlp.fc2.\2"),
    (
        r"transformer_blocks\.(\d+)\.ff_context\.net\.0\.proj\.(\w+)",
        r"joint_blocks.\1.context_block.mlp.fc1.\2",
    ),
    (r"transformer_blocks\.(\d+)\.ff_context\.net\.2\.(\w+)", r"joint_blocks.\1.context_block.mlp.fc2.\2"),
]
"""diffusers' SD3Transformer2DModel names -> Stability AI's MMDiT names (regex, replacement)."""


def mmdit_state(transformer) -> dict[str, torch.Tensor]:
    """An ``SD3Transformer2DModel``'s weights under Stability AI's original MMDiT names (no prefix)."""
    state = dict(transformer.state_dict())
    out: dict[str, torch.Tensor] = {}
    last = transformer.config.num_layers - 1
    for i in range(transformer.config.num_layers):
        block = f"transformer_blocks.{i}"
        norm = (
            state.pop(f"{block}.norm1_context.linear.weight"),
            state.pop(f"{block}.norm1_context.linear.bias"),
        )
        for leaf, value in zip(("weight", "bias"), norm, strict=True):  # the last block's is an output norm
            out[f"joint_blocks.{i}.context_block.adaLN_modulation.1.{leaf}"] = (
                _swap_halves(value) if i == last else value
            )
        for leaf in ("weight", "bias"):
            _fuse(
                state,
                [f"{block}.attn.to_{c}" for c in "qkv"],
                f"joint_blocks.{i}.x_block.attn.qkv",
                leaf,
                out,
            )
            _fuse(
                state,
                [f"{block}.attn.add_{c}_proj" for c in "qkv"],
                f"joint_blocks.{i}.context_block.attn.qkv",
                leaf,
                out,
            )
            if f"{block}.attn2.to_q.{leaf}" in state:
                _fuse(
                    state,
                    [f"{block}.attn2.to_{c}" for c in "qkv"],
                    f"joint_blocks.{i}.x_block.attn2.qkv",
                    leaf,
                    out,
                )
    for leaf in ("weight", "bias"):
        out[f"final_layer.adaLN_modulation.1.{leaf}"] = _swap_halves(state.pop(f"norm_out.linear.{leaf}"))
    rename_all(state, MMDIT_NAMES, out)
    assert not state, f"tensors without an MMDiT name: {sorted(state)}"
    return out


BFL_NAMES = [
    (r"x_embedder\.(\w+)", r"img_in.\1"),
    (r"context_embedder\.(\w+)", r"txt_in.\1"),
    (r"time_text_embed\.timestep_embedder\.linear_1\.(\w+)", r"time_in.in_layer.\1"),
    (r"time_text_embed\.timestep_embedder\.linear_2\.(\w+)", r"time_in.out_layer.\1"),
    (r"time_text_embed\.text_embedder\.linear_1\.(\w+)", r"vector_in.in_layer.\1"),
    (r"time_text_embed\.text_embedder\.linear_2\.(\w+)", r"vector_in.out_layer.\1"),
    (r"time_text_embed\.guidance_embedder\.linear_1\.(\w+)", r"guidance_in.in_layer.\1"),
    (r"time_text_embed\.guidance_embedder\.linear_2\.(\w+)", r"guidance_in.out_layer.\1"),
    (r"proj_out\.(\w+)", r"final_layer.linear.\1"),
    (r"transformer_blocks\.(\d+)\.norm1\.linear\.(\w+)", r"double_blocks.\1.img_mod.lin.\2"),
    (r"transformer_blocks\.(\d+)\.norm1_context\.linear\.(\w+)", r"double_blocks.\1.txt_mod.lin.\2"),
    (r"transformer_blocks\.(\d+)\.attn\.norm_q\.weight", r"double_blocks.\1.img_attn.norm.query_norm.scale"),
    (r"transformer_blocks\.(\d+)\.attn\.norm_k\.weight", r"double_blocks.\1.img_attn.norm.key_norm.scale"),
    (
        r"transformer_blocks\.(\d+)\.attn\.norm_added_q\.weight",
        r"double_blocks.\1.txt_attn.norm.query_norm.scale",
    ),
    (
        r"transformer_blocks\.(\d+)\.attn\.norm_added_k\.weight",
        r"double_blocks.\1.txt_attn.norm.key_norm.scale",
    ),
    (r"transformer_blocks\.(\d+)\.attn\.to_out\.0\.(\w+)", r"double_blocks.\1.img_attn.proj.\2"),
    (r"transformer_blocks\.(\d+)\.attn\.to_add_out\.(\w+)", r"double_blocks.\1.txt_attn.proj.\2"),
    (r"transformer_blocks\.(\d+)\.ff\.net\.0\.proj\.(\w+)", r"double_blocks.\1.img_mlp.0.\2"),
    (r"transformer_blocks\.(\d+)\.ff\.net\.2\.(\w+)", r"double_blocks.\1.img_mlp.2.\2"),
    (r"transformer_blocks\.(\d+)\.ff_context\.net\.0\.proj\.(\w+)", r"double_blocks.\1.txt_mlp.0.\2"),
    (r"transformer_blocks\.(\d+)\.ff_context\.net\.2\.(\w+)", r"double_blocks.\1.txt_mlp.2.\2"),
    (r"single_transformer_blocks\.(\d+)\.norm\.linear\.(\w+)", r"single_blocks.\1.modulation.lin.\2"),
    (r"single_transformer_blocks\.(\d+)\.attn\.norm_q\.weight", r"single_blocks.\1.norm.query_norm.scale"),
    (r"single_transformer_blocks\.(\d+)\.attn\.norm_k\.weight", r"single_blocks.\1.norm.key_norm.scale"),
    (r"single_transformer_blocks\.(\d+)\.proj_out\.(\w+)", r"single_blocks.\1.linear2.\2"),
]
"""diffusers' FluxTransformer2DModel names -> Black Forest Labs' names (regex, replacement)."""


def bfl_state(transformer) -> dict[str, torch.Tensor]:
    """A ``FluxTransformer2DModel``'s weights under Black Forest Labs' names (as flux1-dev.safetensors)."""
    state = dict(transformer.state_dict())
    out: dict[str, torch.Tensor] = {}
    for i in range(transformer.config.num_layers):
        block = f"transformer_blocks.{i}"
        for leaf in ("weight", "bias"):
            _fuse(
                state, [f"{block}.attn.to_{c}" for c in "qkv"], f"double_blocks.{i}.img_attn.qkv", leaf, out
            )
            _fuse(
                state,
                [f"{block}.attn.add_{c}_proj" for c in "qkv"],
                f"double_blocks.{i}.txt_attn.qkv",
                leaf,
                out,
            )
    for i in range(transformer.config.num_single_layers):
        block = f"single_transformer_blocks.{i}"
        names = [f"{block}.attn.to_q", f"{block}.attn.to_k", f"{block}.attn.to_v", f"{block}.proj_mlp"]
        for leaf in ("weight", "bias"):
            _fuse(state, names, f"single_blocks.{i}.linear1", leaf, out)
    for leaf in ("weight", "bias"):
        out[f"final_layer.adaLN_modulation.1.{leaf}"] = _swap_halves(state.pop(f"norm_out.linear.{leaf}"))
    rename_all(state, BFL_NAMES, out)
    assert not state, f"tensors without a Black Forest Labs name: {sorted(state)}"
    return out
