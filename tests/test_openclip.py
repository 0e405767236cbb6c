"""The open_clip plugin: its registry entries, the image embedding, and clip-tiny through the CLI.

The tap machinery it shares with timm (shapes, block outputs, early exit, prompts, offline
weights) is tested for both tiny models in tests/test_timm.py.
"""

from __future__ import annotations

import open_clip
import pytest
import torch
from bench_openclip.architecture import CLIP_VITS
from bench_openclip.loaders import build_tiny, tiny_clip

from bench import PromptCondition
from bench.extraction.features import LoadedBackbone, backbone_features
from bench.results.schema import read_result
from tests.helpers.cli import run_bench
from tests.helpers.retrieval import specs

SMALL = ["--dataset-option", "num_unseen=3", "--dataset-option", "photos_per_class=4"]


def test_registered_backbones_match_open_clip(registry):
    for spec in CLIP_VITS:
        model = open_clip.get_model_config(spec.model_name)
        vision = model["vision_cfg"]
        shape = (
            vision["layers"],
            vision["width"],
            vision["patch_size"],
            model["embed_dim"],
            vision["image_size"],
        )
        assert shape == (spec.depth, spec.width, spec.patch, spec.embed_dim, spec.image_size), spec.id
        assert (
            open_clip.get_pretrained_cfg(spec.model_name, spec.pretrained)["hf_hub"].rstrip("/")
            == spec.hub_id
        )
        info = registry.backbones.get(spec.id)
        assert registry.backbones.owner(spec.id) == "openclip" and info.weights == spec.hub_id
        assert info.layer("embed").channels == spec.embed_dim and not info.accepts_text
    assert registry.backbones.owner("clip-tiny") == "openclip"


@pytest.mark.parametrize("image_size", [64, 96])
def test_embed_is_open_clips_own_encode_image(registry, image_size):
    info = registry.backbones.get("clip-tiny")
    model = build_tiny(
        info, weights="random", device=torch.device("cpu"), dtype=torch.float32, image_size=image_size
    )
    pixels = torch.randn(3, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
    embed = backbone_features(
        LoadedBackbone(info, model, "openclip"),
        pixels,
        modality="sketch",
        taps=["embed", "block-1"],
        timesteps=[None],
        noise_samples=1,
        noise_seeds=[0, 0, 0],
        prompt=PromptCondition(),
    )[None]["embed"]
    with torch.inference_mode():
        reference = tiny_clip(image_size).eval().encode_image(pixels)
    assert embed.shape == (3, 1, info.layer("embed").channels)
    torch.testing.assert_close(embed[:, 0], reference, rtol=0, atol=1e-5)


@pytest.mark.slow
def test_clip_tiny_runs_end_to_end(tmp_path):
    layers = ["--layer", "embed", "--layer", "block-1", "--pool", "gem"]
    args = ["run", "--backbone", "clip-tiny", "--dataset", "synthetic", *SMALL, *layers]
    result = run_bench(*args, "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (
        "│ synthetic │ clip-tiny │ embed" in result.stdout
        and "│ synthetic │ clip-tiny │ block-1" in result.stdout
    )
    written = [read_result(path, specs()) for path in sorted(tmp_path.rglob("*.json"))]
    assert sorted(r.config["layer"] for r in written) == ["block-1", "embed"]
    assert all(r.config["pool"] == "gem" and r.config["t"] is None for r in written)


@pytest.mark.slow
def test_text_prompt_with_an_image_encoder_is_a_clear_error():
    result = run_bench(
        "run", "--backbone", "clip-tiny", "--dataset", "synthetic", "--prompt", "text:a photo of"
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        "backbone 'clip-tiny'" in result.stderr
        and "do not depend on text" in result.stderr
        and "--prompt none" in result.stderr
    )
