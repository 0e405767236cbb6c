"""Any model of timm, open_clip and transformers by name (``timm:``, ``open_clip:``, ``hf:``):
taps listed from the configuration, runs offline on local random weights (a file, a folder, the
Hugging Face cache layout), and missing weights reported in seconds as one message."""

from __future__ import annotations

import json
import time
from pathlib import Path

import open_clip
import pytest
import timm
import torch
from safetensors.torch import save_file
from transformers import (
    CLIPConfig,
    CLIPModel,
    Dinov2Config,
    Dinov2Model,
    DINOv3ViTConfig,
    DINOv3ViTModel,
    SiglipConfig,
    SiglipModel,
)

from bench.extraction.loading import load_backbone
from tests.helpers.cli import run_bench

CPU = torch.device("cpu")
SMALL = ["--dataset-option", "num_unseen=3", "--dataset-option", "photos_per_class=4"]
SIZES = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
VISION = {**SIZES, "image_size": 64, "patch_size": 16}
TEXT = {**SIZES, "vocab_size": 128, "max_position_embeddings": 16}


def _save(model: torch.nn.Module, folder: Path, processor: dict | None = None) -> Path:
    model.save_pretrained(folder)
    if processor is not None:
        (folder / "preprocessor_config.json").write_text(json.dumps(processor))
    return folder


@pytest.fixture(scope="module")
def hf_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny random models of the four transformers classes, saved as the hub holds them (a full CLIP
    and SigLIP model: text tower included)."""
    root = tmp_path_factory.mktemp("hf")
    torch.manual_seed(0)
    bilinear = {"image_mean": [0.4, 0.4, 0.4], "image_std": [0.2, 0.2, 0.2], "resample": 2}
    return {
        "dinov2": _save(
            Dinov2Model(Dinov2Config(**VISION)),
            root / "dinov2",
            {**bilinear, "size": {"shortest_edge": 80}, "do_center_crop": True, "crop_size": 64},
        ),
        "dinov3": _save(
            DINOv3ViTModel(DINOv3ViTConfig(**VISION, num_register_tokens=4)),
            root / "dinov3",
            {**bilinear, "size": {"height": 64, "width": 64}},
        ),
        "siglip": _save(SiglipModel(SiglipConfig(text_config=TEXT, vision_config=VISION)), root / "siglip"),
        "clip": _save(
            CLIPModel(CLIPConfig(text_config=TEXT, vision_config=VISION, projection_dim=24)), root / "clip"
        ),
    }


@pytest.mark.slow
def test_names_list_taps_from_the_configuration(registry):
    timm_info = registry.backbones.get("timm:vit_small_patch16_dinov3.lvd1689m")
    assert (timm_info.image_size, timm_info.weights) == (256, "timm/vit_small_patch16_dinov3.lvd1689m")
    assert timm_info.layer("block-1").stride == 16 and timm_info.layer("block-1.cls").channels == 384
    assert timm_info.licence == "dinov3-license" and registry.backbones.owner(timm_info.id) == "timm"
    convnext = registry.backbones.get("timm:convnext_tiny.dinov3_lvd1689m")
    assert [
        (t.channels, t.stride) for t in convnext.layers if t.name.startswith("stage") and "-" not in t.name
    ] == [
        (96, 4),
        (192, 8),
        (384, 16),
        (768, 32),
    ]
    siglip = registry.backbones.get("open_clip:ViT-B-16-SigLIP2/webli")
    assert siglip.weights == "timm/ViT-B-16-SigLIP2" and siglip.layer("block0.cls") is None
    assert siglip.layer("embed").channels == 768 and registry.backbones.owner(siglip.id) == "openclip"


def test_unknown_models_are_clear_errors(registry):
    from bench import BenchError

    with pytest.raises(BenchError, match="timm has no model 'vit_smal_patch16_dinov3'.*did you mean"):
        registry.backbones.get("timm:vit_smal_patch16_dinov3")
    with pytest.raises(BenchError, match="no pretrained tag 'nope'.*\nIts tags: lvd1689m"):
        registry.backbones.get("timm:vit_small_patch16_dinov3.nope")
    with pytest.raises(BenchError, match="no pretrained tag 'nope' for 'ViT-B-16-SigLIP2'.\nIts tags: webli"):
        registry.backbones.get("open_clip:ViT-B-16-SigLIP2/nope")
    with pytest.raises(BenchError, match="Also accepted: .*hf:<repo id>, open_clip:<arch>/<tag>, timm:"):
        registry.backbones.get("timmm:vit_small_patch16_dinov3")


@pytest.mark.parametrize(
    ("kind", "cls", "registers", "embed", "size", "interpolation"),
    [
        ("dinov2", True, 0, 32, 64, "bilinear"),
        ("dinov3", True, 4, 32, 64, "bilinear"),
        ("siglip", False, 0, 32, 64, "bicubic"),
        ("clip", True, 0, 24, 64, "bicubic"),
    ],
)
def test_hf_encoders_read_their_blocks_and_embedding(
    registry, hf_models, kind, cls, registers, embed, size, interpolation
):
    """``block<k>`` is hidden_states[k + 1] after the class and register tokens, ``.cls`` its first
    token, ``embed`` the model's own pooled output; preprocessing follows the processor config."""
    info = registry.backbones.get(f"hf:{hf_models[kind]}")
    assert (info.layer("block0.cls") is not None) == cls and info.layer("embed").channels == embed
    assert info.image_size == size
    loaded = load_backbone(info, "hf", weights=info.weights, device=CPU, dtype=torch.float32, image_size=size)
    assert loaded.model.normalization.interpolation == interpolation
    pixels = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    out = loaded.model.features(pixels, ["block0", "block-1", "embed", *(["block0.cls"] if cls else [])])
    with torch.inference_mode():
        reference = loaded.model.model(
            pixel_values=pixels, output_hidden_states=True, **loaded.model.forward_kwargs
        )
    prefix = int(cls) + registers
    expected = reference.hidden_states[1][:, prefix:].reshape(2, 4, 4, -1).permute(0, 3, 1, 2)
    torch.testing.assert_close(out["block0"], expected)
    assert out["block-1"].shape == (2, 32, 4, 4) and out["embed"].shape == (2, embed)
    pooled = reference.image_embeds if kind == "clip" else reference.pooler_output
    torch.testing.assert_close(out["embed"], pooled)
    if cls:
        torch.testing.assert_close(out["block0.cls"], reference.hidden_states[1][:, 0])


def test_hf_pass_stops_after_the_deepest_requested_block(registry, hf_models):
    info = registry.backbones.get(f"hf:{hf_models['dinov3']}")
    loaded = load_backbone(info, "hf", weights=info.weights, device=CPU, dtype=torch.float32, image_size=64)
    calls: list[int] = []
    handle = loaded.model.blocks[1].register_forward_hook(lambda *args: calls.append(1))
    try:
        loaded.model.features(torch.randn(1, 3, 64, 64), ["block0"])
        assert calls == []
        loaded.model.features(torch.randn(1, 3, 64, 64), ["block0", "embed"])
        assert calls == [1]
    finally:
        handle.remove()


def _hub_cache(home: Path, repo_id: str, source: Path) -> None:
    """Lay ``source``'s files out as ``hf download repo_id`` leaves them under ``HF_HOME``."""
    repo = home / "hub" / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    for file in source.iterdir():
        (snapshot / file.name).write_bytes(file.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)


@pytest.mark.slow
def test_hf_runs_offline_from_a_folder_and_from_the_cache_layout(tmp_path, hf_models):
    _hub_cache(tmp_path / "home", "someone/tiny-dinov3", hf_models["dinov3"])
    env = {"HF_HOME": str(tmp_path / "home")}
    backbones = ["--backbone", "hf:someone/tiny-dinov3", "--backbone", f"hf:{hf_models['siglip']}"]
    args = ["run", *backbones, "--layer", "embed", "--dataset", "synthetic", *SMALL, "--json"]
    result = run_bench(*args, "--output-dir", str(tmp_path / "out"), env=env)
    assert result.returncode == 0, result.stderr
    runs = {run["config"]["backbone"]: run for run in json.loads(result.stdout)}
    assert set(runs) == {"hf:someone/tiny-dinov3", f"hf:{hf_models['siglip']}"}


@pytest.mark.slow
def test_timm_and_open_clip_names_run_offline_on_local_weights(tmp_path):
    """The issue's own command: a DINOv3 name with ``--weights FILE`` (the real ViT-S/16 shape,
    random weights) and an open_clip architecture from a folder, at a small resolution."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        dinov3 = timm.create_model("vit_small_patch16_dinov3", pretrained=False, num_classes=0)
        clip = open_clip.create_model("ViT-S-32")
    save_file(dinov3.state_dict(), str(tmp_path / "dinov3.safetensors"))
    (tmp_path / "clip").mkdir()
    torch.save(clip.state_dict(), tmp_path / "clip" / "open_clip_pytorch_model.bin")
    runs = {}
    for name, weights in [
        ("timm:vit_small_patch16_dinov3.lvd1689m", tmp_path / "dinov3.safetensors"),
        ("open_clip:ViT-S-32", tmp_path / "clip"),
    ]:
        args = [
            "run",
            "--backbone",
            name,
            "--weights",
            str(weights),
            "--image-size",
            "64",
            "--layer",
            "embed",
        ]
        result = run_bench(
            *args, "--dataset", "synthetic", *SMALL, "--json", "--output-dir", str(tmp_path / "out")
        )
        assert result.returncode == 0, result.stderr
        runs[name] = json.loads(result.stdout)[0]
    assert all(0 <= run["metrics"]["mAP@all"] <= 1 for run in runs.values())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backbone", "named"),
    [
        ("timm:vit_small_patch16_dinov3.lvd1689m", "timm/vit_small_patch16_dinov3.lvd1689m"),
        ("dinov3-vits16", "timm/vit_small_patch16_dinov3.lvd1689m"),
        ("siglip2-vitb16", "timm/ViT-B-16-SigLIP2"),
        ("open_clip:ViT-B-16-SigLIP2/webli", "timm/ViT-B-16-SigLIP2"),
        ("hf:facebook/dinov3-vits16-pretrain-lvd1689m", "facebook/dinov3-vits16-pretrain-lvd1689m"),
    ],
)
def test_missing_weights_fail_in_seconds_with_one_message(tmp_path, backbone, named):
    started = time.monotonic()
    result = run_bench(
        "run", "--backbone", backbone, "--dataset", "synthetic", env={"HF_HOME": str(tmp_path)}
    )
    assert time.monotonic() - started < 60  # seconds, not minutes of retries (generous: a loaded CI box)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert repr(named) in result.stderr and f"hf download {named}" in result.stderr
