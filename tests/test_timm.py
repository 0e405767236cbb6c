"""The timm plugin and the ViT runtime it shares with open_clip: taps, shapes, early exit, weights."""

from __future__ import annotations

import json
import time
from functools import partial

import pytest
import timm
import torch
from bench_openclip.loaders import build_model as build_clip_model
from bench_openclip.loaders import build_tiny as build_clip_tiny
from bench_timm.architecture import TIMM_VITS
from bench_timm.loaders import build_model
from bench_timm.loaders import build_tiny as build_vit_tiny
from safetensors.torch import save_file

import bench
from bench import BenchError, PromptCondition
from bench.extraction.features import LoadedBackbone, backbone_features
from tests.helpers.cli import run_bench

CPU = torch.device("cpu")
NO_PROMPT = PromptCondition()
SMALL = ["--dataset-option", "num_unseen=3", "--dataset-option", "photos_per_class=4"]
TIMM_IDS = {"dino-vits8", "dino-vits16", "dino-vitb16", "dinov2-vits14", "dinov2-vitb14", "dinov2-vitl14"}


def _build(registry, backbone_id: str):
    """The tiny ViT ``backbone_id`` at its registered size, with the module list of its blocks."""
    info = registry.backbones.get(backbone_id)
    build = build_vit_tiny if backbone_id == "vit-tiny" else build_clip_tiny
    model = build(info, weights="random", device=CPU, dtype=torch.float32, image_size=info.image_size)
    features = LoadedBackbone(info, model, registry.backbones.owner(backbone_id))
    blocks = model.model.blocks if backbone_id == "vit-tiny" else model.model.transformer.resblocks
    return info, features, blocks


def _extract(features, pixels, taps, prompt: PromptCondition = NO_PROMPT):
    return backbone_features(
        features,
        pixels,
        modality="photo",
        taps=taps,
        timesteps=[None],
        noise_samples=3,
        noise_seeds=[0] * len(pixels),
        prompt=prompt,
    )[None]


def test_registered_backbones_match_timm(registry):
    assert TIMM_IDS | {"vit-tiny", "dinov2-vits14-imgfocus"} <= set(registry.backbones.ids())
    for spec in TIMM_VITS:
        config = timm.get_pretrained_cfg(spec.model_name)
        assert config.hf_hub_id == spec.hub_id
        assert config.input_size == (3, spec.image_size, spec.image_size)
        with torch.device("meta"):
            model = timm.create_model(spec.model_name, pretrained=False, num_classes=0)
        assert (len(model.blocks), model.embed_dim, model.patch_embed.patch_size[0]) == (
            spec.depth,
            spec.width,
            spec.patch,
        )
        info = registry.backbones.get(spec.id)
        assert registry.backbones.owner(spec.id) == "timm"
        assert model.global_pool == spec.global_pool  # what ``pooled`` reads
        assert info.layer("embed").channels == spec.width and len(info.layers) == 4 * spec.depth + 2


def test_embed_is_timms_own_class_token(registry):
    _, features, _ = _build(registry, "vit-tiny")
    pixels = torch.randn(3, 3, 56, 56, generator=torch.Generator().manual_seed(0))
    embed = _extract(features, pixels, ["embed"])["embed"]
    with torch.inference_mode():
        reference = features.model.model.forward_features(pixels)[:, 0]
    assert embed.shape == (3, 1, 64)
    torch.testing.assert_close(embed[:, 0], reference, rtol=0, atol=1e-5)


@pytest.mark.parametrize("backbone_id", ["vit-tiny", "clip-tiny"])
def test_every_listed_layer_has_the_documented_shape(registry, backbone_id):
    info, features, _ = _build(registry, backbone_id)
    size = info.image_size
    out = _extract(features, torch.randn(2, 3, size, size), info.layer_names)
    for layer in info.layers:
        side = size // layer.stride if layer.stride else None
        expected = (2, 1, layer.channels, side, side) if side else (2, 1, layer.channels)
        assert out[layer.name].shape == expected, layer.name


@pytest.mark.parametrize("backbone_id", ["vit-tiny", "clip-tiny"])
def test_block_taps_are_the_block_outputs(registry, backbone_id):
    """``block<k>`` is block k's output patch tokens in row-major map layout, ``.cls`` its class token,
    and the negative name reads the same block."""
    info, features, blocks = _build(registry, backbone_id)
    size = info.image_size
    pixels = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    seen: list[torch.Tensor] = []
    handle = blocks[0].register_forward_hook(lambda module, args, output: seen.append(output))
    try:
        out = _extract(features, pixels, ["block0", "block-2", "block0.cls", "block-2.cls"])
    finally:
        handle.remove()
    tokens = seen[0]  # (B, 1 + h * w, C)
    side = size // info.layer("block0").stride
    expected_map = tokens[:, 1:].reshape(2, side, side, -1).permute(0, 3, 1, 2)
    torch.testing.assert_close(out["block0"][:, 0], expected_map)
    torch.testing.assert_close(out["block0.cls"][:, 0], tokens[:, 0])
    assert torch.equal(out["block0"], out["block-2"]) and torch.equal(out["block0.cls"], out["block-2.cls"])


@pytest.mark.parametrize("backbone_id", ["vit-tiny", "clip-tiny"])
def test_the_pass_stops_after_the_deepest_requested_block(registry, backbone_id):
    info, features, blocks = _build(registry, backbone_id)
    calls: list[str] = []
    handle = blocks[-1].register_forward_hook(lambda *args: calls.append("last"))
    pixels = torch.randn(1, 3, info.image_size, info.image_size)
    try:
        _extract(features, pixels, ["block0", "block0.cls"])
        assert calls == []
        _extract(features, pixels, ["block0", "embed"])
        assert calls == ["last"]
    finally:
        handle.remove()


def test_prompts_a_vision_transformer_takes(registry):
    """Text cannot condition an image encoder; a visual prompt is added to the pixels."""
    _, features, _ = _build(registry, "vit-tiny")
    pixels = torch.randn(1, 3, 56, 56, generator=torch.Generator().manual_seed(2))
    with pytest.raises(BenchError, match="cannot be conditioned on text"):
        _extract(features, pixels, ["embed"], PromptCondition(text="a photo of"))
    border = torch.zeros(3, 56, 56)
    border[:, :4] = 0.5
    prompted = _extract(features, pixels, ["embed"], PromptCondition(visual={"photo": border}))
    torch.testing.assert_close(prompted["embed"], _extract(features, pixels + border, ["embed"])["embed"])


def test_pretrained_loader_reads_a_checkpoint_file_at_another_size(registry, tmp_path):
    """``--weights ID=FILE`` loads a timm checkpoint; timm resizes its position embeddings."""
    spec = next(spec for spec in TIMM_VITS if spec.id == "dino-vits16")
    source = timm.create_model(spec.model_name, pretrained=False, num_classes=0)
    save_file(source.state_dict(), str(tmp_path / "model.safetensors"))
    info = registry.backbones.get(spec.id)
    model = build_model(info, weights=str(tmp_path), device=CPU, dtype=torch.float32, image_size=64)
    features = LoadedBackbone(info, model, "timm")
    assert features.model.normalization.mean == (0.485, 0.456, 0.406)
    assert torch.equal(features.model.model.blocks[3].mlp.fc1.weight, source.blocks[3].mlp.fc1.weight)
    out = _extract(features, torch.randn(1, 3, 64, 64), ["block-1", "embed"])
    assert out["block-1"].shape == (1, 1, 384, 4, 4) and out["embed"].shape == (1, 1, 384)


def _listed_head_taps(backbone: str) -> list[dict]:
    result = run_bench("list", "layers", "--backbone", backbone, "--json")
    assert result.returncode == 0, result.stderr
    return [
        {key: layer[key] for key in ("name", "channels", "description")}
        for layer in json.loads(result.stdout)["layers"]
        if layer["name"] in ("embed", "pooled")
    ]


@pytest.mark.slow
def test_embed_and_pooled_mean_the_same_whichever_name_builds_the_model(registry, tmp_path):
    """``dinov3-vits16`` and ``timm:vit_small_patch16_dinov3.lvd1689m`` on the same weights give the
    same ``embed`` (the final normed class token, as timm's ``forward_features(x)[:, 0]``) and the
    same ``pooled`` (timm's own head pooling, the patch-token mean: ``model(x)`` without a head), and
    ``bench list layers`` describes them alike."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        reference = timm.create_model("vit_small_patch16_dinov3", num_classes=0, img_size=64)
    save_file(reference.state_dict(), str(tmp_path / "dinov3.safetensors"))
    pixels = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = {"embed": reference.eval().forward_features(pixels)[:, 0], "pooled": reference(pixels)}
    assert (expected["embed"] - expected["pooled"]).abs().max() > 0.1  # two different features
    for name in ("dinov3-vits16", "timm:vit_small_patch16_dinov3.lvd1689m"):
        loaded = bench.load_backbone(
            name, weights=str(tmp_path / "dinov3.safetensors"), image_size=64, device="cpu", registry=registry
        )
        with torch.inference_mode():
            out = loaded.model.features(pixels, ["embed", "pooled"])
        for tap, value in expected.items():
            torch.testing.assert_close(out[tap], value, rtol=0, atol=1e-5, msg=f"{name} {tap}")
    named, by_name = (
        _listed_head_taps(name) for name in ("dinov3-vits16", "timm:vit_small_patch16_dinov3.lvd1689m")
    )
    assert named == by_name and [tap["name"] for tap in named] == ["embed", "pooled"]
    assert named[0]["description"].startswith("final normed class token")
    assert "global_pool='avg'" in named[1]["description"]


@pytest.mark.slow
def test_vit_tiny_runs_end_to_end(tmp_path):
    layers = ["--layer", "embed", "--layer", "block-1", "--layer", "block0.cls+block-1.cls"]
    args = ["run", "--backbone", "vit-tiny", "--dataset", "synthetic", *SMALL, *layers, "--json"]
    result = run_bench(*args, "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    runs = {run["config"]["layer"]: run for run in json.loads(result.stdout)}
    assert set(runs) == {"embed", "block-1", "block0.cls+block-1.cls"}
    assert all(run["config"]["t"] is None for run in runs.values())
    assert all(run["runtime"]["group_configurations"] == 3 for run in runs.values())  # one extraction
    assert runs["embed"]["backbone_note"].startswith("random weights")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backbone_id", "hub_id"),
    [
        ("dinov2-vits14", "timm/vit_small_patch14_dinov2.lvd142m"),
        ("clip-vit-b32", "timm/vit_base_patch32_clip_224.openai"),
    ],
)
def test_missing_weights_fail_in_seconds_with_one_message(tmp_path, backbone_id, hub_id):
    """timm (an OSError offline) and open_clip (a RuntimeError) fail the same way, before loading."""
    started = time.monotonic()
    result = run_bench(
        "run", "--backbone", backbone_id, "--dataset", "synthetic", env={"HF_HOME": str(tmp_path)}
    )
    assert time.monotonic() - started < 30
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"Weights '{hub_id}' for backbone '{backbone_id}' are not available" in result.stderr
    assert f"hf download {hub_id}" in result.stderr and f"--weights {backbone_id}=FILE" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("backbone_id", ["dino-vits16", "clip-vit-b32"])
def test_unusable_checkpoint_files_are_clear_errors(registry, tmp_path, backbone_id):
    info = registry.backbones.get(backbone_id)
    build = build_model if registry.backbones.owner(backbone_id) == "timm" else build_clip_model
    load = partial(build, info, device=CPU, dtype=torch.float32, image_size=info.image_size)
    with pytest.raises(BenchError, match="does not exist"):
        load(weights=str(tmp_path / "no-such.safetensors"))
    with pytest.raises(BenchError, match="holds no checkpoint"):
        load(weights=str(tmp_path))
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"not a checkpoint" * 64)
    with pytest.raises(
        BenchError, match=f"Could not load the weights '{corrupt}' of backbone '{backbone_id}'"
    ):
        load(weights=str(corrupt))
