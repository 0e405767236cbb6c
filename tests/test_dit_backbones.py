"""Diffusion transformers (plugin ``dit``): SD3 / SD3.5 and FLUX.1 as backbones.

The real architectures are checked on torch's meta device (every listed tap's shape from one pass
through the real config; the conditioning path through the real CLIP-L/G and T5-XXL configs), the
tiny twins run end to end through the command line, and weights are found in a folder and in the
Hugging Face cache layout offline, or reported missing in seconds.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from bench import BenchError, PromptCondition
from tests.helpers.cli import run_bench
from tests.helpers.dit_models import CPU, save_tiny, tiny

REAL = ("sd3-medium", "sd35-medium", "sd35-large", "flux1-dev", "flux1-schnell")
TINY = ("sd3-tiny", "flux-tiny")
SMALL = ["--dataset-option", "num_unseen=3", "--dataset-option", "photos_per_class=3", "--image-size", "32"]
META = torch.device("meta")


# -- the registry, without torch ------------------------------------------------------------------


def test_registered_ids_weights_and_taps_from_the_configs(registry):
    expected = {
        "sd3-medium": ("stabilityai/stable-diffusion-3-medium-diffusers", 24, 0, 1536),
        "sd35-medium": ("stabilityai/stable-diffusion-3.5-medium", 24, 0, 1536),
        "sd35-large": ("stabilityai/stable-diffusion-3.5-large", 38, 0, 2432),
        "flux1-dev": ("black-forest-labs/FLUX.1-dev", 19, 38, 3072),
        "flux1-schnell": ("black-forest-labs/FLUX.1-schnell", 19, 38, 3072),
        "sd3-tiny": ("random", 4, 0, 32),
        "flux-tiny": ("random", 2, 2, 32),
    }
    for backbone_id, (weights, joint, single, width) in expected.items():
        info = registry.backbones.get(backbone_id)
        assert registry.backbones.owner(backbone_id) == "dit"
        assert info.weights == weights and info.num_timesteps == 1000 and info.accepts_text
        names = [f"jb{i}" for i in range(joint)] + [f"sb{i}" for i in range(single)]
        assert list(info.layer_names) == names
        assert {(layer.channels, layer.stride) for layer in info.layers} == {(width, 16)}
        assert info.default_layer == names[len(names) // 2]
        assert info.learnable_prompts == ("visual", "textual")
        assert (info.licence is None) == (weights == "random")
        assert "sigma = t/1000" in info.facts["noise"] and info.facts["massive_activations"] == "off"
    assert registry.backbones.get("flux1-dev").facts["guidance"].startswith("3.5")
    assert registry.backbones.get("flux1-schnell").facts["guidance"].startswith("none")


def test_massive_activation_names_resolve_to_their_own_backbone(registry):
    info = registry.backbones.get("dit:sd35-large/massive-zero4")
    assert info.layers == registry.backbones.get("sd35-large").layers
    assert "the 4 channels of largest mean |activation|" in info.facts["massive_activations"]
    assert info.weights_check is not None and info.weights == "stabilityai/stable-diffusion-3.5-large"
    for bad, said in [
        ("dit:sd35-larg/massive-zero4", "Did you mean dit:sd35-large"),
        ("dit:sd3-tiny", "Use --backbone sd3-tiny"),
        ("dit:sd3-tiny/massive-half4", "massive-zero<k> or massive-clip<k>"),
        ("dit:sd3-tiny/massive-zero0", "k >= 1"),
    ]:
        with pytest.raises(BenchError, match=re.escape(said)):
            registry.backbones.get(bad)


def test_docs_table_lists_every_dit_backbone_as_bench_list_does(registry):
    listed = run_bench("list", "backbones", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["id"]: row for row in json.loads(listed.stdout)["backbones"]}
    doc = (Path(__file__).resolve().parents[1] / "docs" / "backbones.md").read_text(encoding="utf-8")
    table = doc.split("**Diffusion transformers**")[1].split("\n\n")[1]
    documented = set()
    for line in table.splitlines()[2:]:
        ids, weights, size, taps, _ = (cell.strip() for cell in line.strip("|").split("|"))
        for name in re.findall(r"`([^`]+)`", ids):
            documented.add(name)
            assert str(rows[name]["image_size"]) == size, name
            if rows[name]["weights"] != "random":
                assert f"`{rows[name]['weights']}`" == weights, name
            info = registry.backbones.get(name)
            first, last = info.layer_names[0], info.layer_names[-1]
            assert taps.startswith(first) and last in taps and str(info.layers[0].channels) in taps, name
    assert documented == {*REAL, *TINY}


# -- the real architectures on the meta device ----------------------------------------------------


def _meta_transformer(backbone_id: str):
    from bench_dit.architecture import VARIANTS
    from bench_dit.loaders import transformer_class

    variant = VARIANTS[backbone_id]
    with META:
        return variant, transformer_class(variant)(**variant.transformer)


@pytest.mark.parametrize("backbone_id", REAL)
def test_the_listed_taps_are_the_blocks_of_the_real_architecture(registry, backbone_id):
    """The layer table (from the config, no torch) names every block the real model builds."""
    from bench_dit.taps import tap_order

    variant, transformer = _meta_transformer(backbone_id)
    info = registry.backbones.get(backbone_id)
    assert tap_order(transformer) == list(info.layer_names)
    assert {layer.channels for layer in info.layers} == {transformer.inner_dim}
    assert (transformer.config.get("guidance_embeds") or False) == (variant.guidance is not None)


@pytest.mark.slow
@pytest.mark.parametrize("backbone_id", REAL)
def test_every_listed_tap_of_the_real_architecture_has_its_shape_on_meta(registry, backbone_id):
    """One pass through each real transformer (no weights) reads every listed tap: SD3 Medium's
    joint blocks, SD3.5 Medium's with dual attention, SD3.5 Large's widest ones, FLUX.1's double-
    and single-stream blocks (schnell without the guidance input)."""
    from bench_dit.features import DiffusionTransformerFeatures

    from bench import DenoiserInputs

    variant, transformer = _meta_transformer(backbone_id)
    info = registry.backbones.get(backbone_id)
    size = 128  # pixels: 16 x 16 latents, 8 x 8 tokens
    model = DiffusionTransformerFeatures(  # no VAE or text encoders: read_taps takes latents and conditioning
        variant=variant,
        vae=None,
        transformer=transformer,
        conditioner=torch.nn.Identity(),
        image_size=size,
        weights="meta",
        device=META,
        dtype=torch.float32,
    )
    latents = torch.empty(1, 16, size // 8, size // 8, device=META)
    context = torch.empty(1, variant.context_tokens, 4096, device=META)
    pooled = torch.empty(1, variant.transformer["pooled_projection_dim"], device=META)
    with torch.no_grad():
        maps = model.read_taps(DenoiserInputs(latents, 300, (context, pooled)), info.layer_names, 1)
    assert set(maps) == set(info.layer_names)
    for layer in info.layers:
        cells = size // layer.stride
        assert tuple(maps[layer.name].shape) == (1, 1, layer.channels, cells, cells)


@pytest.mark.slow
def test_the_real_text_encoders_give_the_contexts_the_transformers_take():
    """SD3's CLIP-L + CLIP-G + T5-XXL and FLUX's CLIP-L + T5-XXL, real configs on meta."""
    from bench_dit.architecture import CLIP_G_CONFIG, CLIP_L_CONFIG, T5_XXL_CONFIG, VARIANTS
    from bench_dit.loaders import conditioner
    from transformers import (
        ByT5Tokenizer,
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        T5Config,
        T5EncoderModel,
    )

    with META:
        clip_l = CLIPTextModelWithProjection(CLIPTextConfig(**CLIP_L_CONFIG))
        clip_g = CLIPTextModelWithProjection(CLIPTextConfig(**CLIP_G_CONFIG))
        clip_l_pooled = CLIPTextModel(CLIPTextConfig(**CLIP_L_CONFIG))
        t5 = T5EncoderModel(T5Config(**T5_XXL_CONFIG))
    tokenizer = ByT5Tokenizer()  # ids only; the encoders never read them on meta
    sd3, flux = VARIANTS["sd35-large"], VARIANTS["flux1-dev"]
    with torch.no_grad():
        sd3_text = conditioner(sd3, [tokenizer] * 3, [clip_l, clip_g, t5]).encode([""])
        flux_text = conditioner(flux, [tokenizer] * 2, [clip_l_pooled, t5]).encode([""])
    assert tuple(sd3_text.context.shape) == (1, 77 + 256, sd3.transformer["joint_attention_dim"])
    assert tuple(sd3_text.pooled.shape) == (1, sd3.transformer["pooled_projection_dim"])
    assert tuple(flux_text.context.shape) == (1, 512, flux.transformer["joint_attention_dim"])
    assert tuple(flux_text.pooled.shape) == (1, flux.transformer["pooled_projection_dim"])


# -- flow matching, packing, massive activations ---------------------------------------------------


def test_flux_packing_and_ids_match_the_flux_pipeline():
    from bench_dit.features import image_ids, pack_latents
    from diffusers import FluxPipeline

    from bench import RectifiedFlowSchedule

    latents = torch.randn(2, 16, 6, 4)
    assert torch.equal(pack_latents(latents), FluxPipeline._pack_latents(latents, 2, 16, 6, 4))
    expected = FluxPipeline._prepare_latent_image_ids(2, 3, 2, CPU, torch.float32)
    assert torch.equal(image_ids(3, 2, CPU, torch.float32), expected)
    clean, noise, schedule = torch.ones(3), torch.zeros(3), RectifiedFlowSchedule(1000)
    assert schedule.sigma(0) == 0.0 and schedule.sigma(250) == 0.25
    assert torch.allclose(schedule.noised(clean, noise, 250), torch.full((3,), 0.75))


def test_massive_channels_are_zeroed_or_clipped_per_image():
    from bench_dit.massive import MassiveActivations

    maps = torch.randn(2, 2, 6, 3, 3)  # (images, noise draws, channels, h, w)
    maps[0, :, 4] += 100.0  # image 0's massive channel
    maps[0, 1, 2] += 150.0  # larger in draw 1 alone, smaller over both draws
    maps[1, :, 1] -= 50.0  # image 1's
    zeroed = MassiveActivations("zero", 1)(maps)
    assert torch.all(zeroed[0, :, 4] == 0) and torch.all(zeroed[1, :, 1] == 0)
    keep = torch.ones(2, 2, 6, dtype=torch.bool)
    keep[0, :, 4] = keep[1, :, 1] = False
    assert torch.equal(zeroed[keep], maps[keep])
    clipped = MassiveActivations("clip", 1)(maps)
    for image, channel in ((0, 4), (1, 1)):
        others = maps[image].abs()[:, torch.arange(6) != channel].max()  # over both draws
        assert clipped[image, :, channel].abs().max() <= others + 1e-6
    assert torch.equal(MassiveActivations("zero", 1)(maps[1:]), zeroed[1:])  # per image


def test_massive_channels_are_chosen_per_image_over_all_its_noise_draws():
    """``dit:<id>/massive-zero<k>`` zeroes, in every noise draw of an image, the same k channels: those
    of largest mean |activation| over all the image's draws and positions of the plain model's map."""
    from bench_dit.massive import MassiveActivations

    kwargs = {"timesteps": [900], "noise_samples": 4, "noise_seeds": [1, 2], "condition": PromptCondition()}
    pixels = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    raw = tiny("flux-tiny").features(pixels, ["sb0"], **kwargs)[900]["sb0"]  # (B, N, C, h, w)
    handled = tiny("flux-tiny", massive=MassiveActivations("zero", 2)).features(pixels, ["sb0"], **kwargs)
    handled = handled[900]["sb0"]
    chosen = torch.zeros(raw.shape[:3], dtype=torch.bool)  # (B, N, C)
    for image, channels in enumerate(raw.abs().mean(dim=(1, 3, 4)).topk(2, dim=1).indices):
        chosen[image, :, channels] = True
    assert torch.all(handled[chosen] == 0)
    torch.testing.assert_close(handled[~chosen], raw[~chosen], rtol=0, atol=1e-5)


# -- the tiny twins ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("backbone_id", TINY)
def test_tiny_twins_run_end_to_end_on_every_tap(tmp_path, registry, backbone_id):
    taps = registry.backbones.get(backbone_id).layer_names
    layers = [arg for tap in taps for arg in ("--layer", tap)]
    handling = "massive-zero2" if backbone_id == "flux-tiny" else "ditf"
    extra = ["--backbone", f"dit:{backbone_id}/{handling}"]
    args = ["run", "--backbone", backbone_id, *extra, *layers, "--t", "300", "--noise-samples", "2"]
    result = run_bench(
        *args, "--dataset", "synthetic", *SMALL, "--json", "--output-dir", str(tmp_path / "out"),
        "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)
    assert sorted({run["config"]["layer"] for run in runs}) == sorted(taps)
    for run in runs:
        assert run["metrics"]["mAP@all"] > 0
        extractor = run["extractor"]
        assert "sigma = t/1000" in extractor["noise"] and "shift_factor" in extractor["latent"]
        massive = run["config"]["backbone"].startswith("dit:")
        assert (extractor["massive_activations"] != "off") == massive
    by = {(r["config"]["backbone"], r["config"]["layer"]): r["metrics"]["mAP@all"] for r in runs}
    assert any(by[(backbone_id, tap)] != by[(extra[1], tap)] for tap in taps)


def test_one_pass_stops_after_the_deepest_tap_and_noise_follows_the_seed():
    model = tiny("flux-tiny")
    calls: list[str] = []
    hooks = [
        model.transformer.single_transformer_blocks[1].register_forward_hook(lambda *a: calls.append("sb1")),
        model.transformer.norm_out.register_forward_hook(lambda *a: calls.append("norm_out")),
    ]
    pixels = torch.rand(2, 3, 32, 32) * 2 - 1
    kwargs = {"timesteps": [0, 600], "noise_samples": 2, "condition": PromptCondition()}
    try:
        first = model.features(pixels, ["jb1", "sb0"], noise_seeds=[5, 6], **kwargs)
    finally:
        for hook in hooks:
            hook.remove()
    assert calls == []  # neither the last single block nor the output head ran
    assert tuple(first[600]["sb0"].shape) == (2, 2, 32, 2, 2)
    alone = model.features(pixels[1:], ["sb0"], noise_seeds=[6], **kwargs)
    assert torch.allclose(alone[600]["sb0"][0], first[600]["sb0"][1], atol=1e-5)  # batch-independent
    assert torch.allclose(first[0]["sb0"][:, 0], first[0]["sb0"][:, 1])  # t = 0: no noise


def test_empty_prompt_is_encoded_once_and_gradients_reach_both_prompts():
    model = tiny("sd3-tiny")
    encoded: list[int] = []
    encode = model.conditioner.encode
    model.conditioner.encode = lambda texts: encoded.append(len(texts)) or encode(texts)
    context = model.text_context("")
    assert tuple(context.shape) == (77 + 16, 32)  # CLIP tokens + the twin's 16 T5 tokens
    model.text_context("")
    assert encoded == [1]  # computed once, then cached
    learned = context.clone().requires_grad_(True)
    pixels = (torch.rand(1, 3, 32, 32) * 2 - 1).requires_grad_(True)
    condition = PromptCondition(text_embedding=learned)
    out = model.features(
        pixels, ["jb1"], timesteps=[400], noise_samples=1, noise_seeds=[0], condition=condition
    )
    out[400]["jb1"].square().mean().backward()
    assert learned.grad.abs().sum() > 0 and pixels.grad.abs().sum() > 0
    with pytest.raises(BenchError, match="per-image texts with a learned textual prompt"):
        model.conditioning(PromptCondition(text_embedding=learned, item_texts=("a",)))
    with pytest.raises(BenchError, match="does not fit"):
        model.conditioning(PromptCondition(text_embedding=torch.zeros(77, 32)))


def test_image_sizes_the_tokens_cannot_tile_are_refused():
    from bench_dit.architecture import VARIANTS
    from bench_dit.features import check_image_size

    check_image_size(VARIANTS["sd3-medium"], 3072)
    for variant, size in [("sd3-medium", 40), ("sd3-medium", 3088), ("flux1-dev", 8)]:
        with pytest.raises(BenchError, match="multiple of 16"):
            check_image_size(VARIANTS[variant], size)


# -- weights on disk ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_loads_a_diffusers_folder_and_the_hub_cache_layout_offline(tmp_path, monkeypatch):
    """The pretrained loader reads a folder, one holding only fp16-variant files, and a hub id from
    the Hugging Face cache layout (plain, or pinned to a branch or commit); each loaded model gives
    the random twin's features."""
    import huggingface_hub.constants
    from bench_dit.architecture import VARIANTS
    from bench_dit.loaders import build_pretrained

    repo_id = "someone/tiny-sd3"
    model = tiny("sd3-tiny")
    snapshot = tmp_path / "hub" / "models--someone--tiny-sd3" / "snapshots" / ("0" * 40)
    save_tiny(model, snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setitem(VARIANTS, "sd3-test", replace(VARIANTS["sd3-tiny"], id="sd3-test", weights=repo_id))
    pixels = torch.rand(2, 3, 32, 32) * 2 - 1
    kwargs = {"timesteps": [500], "noise_samples": 1, "noise_seeds": [1, 2], "condition": PromptCondition()}
    expected = model.features(pixels, ["jb3"], **kwargs)[500]["jb3"]
    info = SimpleNamespace(id="sd3-test")
    variant_folder = tmp_path / "fp16-only"
    save_tiny(model, variant_folder, variant="fp16")
    assert (variant_folder / "transformer" / "diffusion_pytorch_model.fp16.safetensors").is_file()
    assert not (variant_folder / "transformer" / "diffusion_pytorch_model.safetensors").exists()
    for weights in (repo_id, f"{repo_id}@main", f"{repo_id}@{'0' * 40}", str(snapshot), str(variant_folder)):
        loaded = build_pretrained(info, weights=weights, device=CPU, dtype=torch.float32, image_size=32)
        assert torch.allclose(loaded.features(pixels, ["jb3"], **kwargs)[500]["jb3"], expected, atol=1e-5)


def test_missing_weights_are_reported_in_seconds_with_the_model_id(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    start = time.monotonic()
    result = run_bench("run", "--backbone", "flux1-dev", "--t", "200")  # HF_HUB_OFFLINE=1 (conftest)
    assert time.monotonic() - start < 30
    assert result.returncode != 0 and "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert "'black-forest-labs/FLUX.1-dev'" in message and "'flux1-dev'" in message
    assert "hf download black-forest-labs/FLUX.1-dev" in message and "--backbone flux-tiny" in message
    assert "FLUX.1-dev Non-Commercial License" in message


def test_incomplete_or_foreign_folders_are_refused_before_loading(tmp_path):
    partial = tmp_path / "partial"
    (partial / "transformer").mkdir(parents=True)
    result = run_bench(
        "run", "--backbone", "sd35-medium", "--t", "200", "--weights", f"sd35-medium={partial}"
    )
    assert result.returncode != 0
    message = " ".join(result.stderr.split())
    assert "lacks the subfolders vae, text_encoder" in message and "tokenizer_3" in message
    from bench_dit.architecture import SD3, VARIANTS

    for part in VARIANTS["sd3-medium"].needed_parts:
        (partial / part).mkdir(exist_ok=True)
    large = {**VARIANTS["sd35-large"].transformer, "_class_name": "SD3Transformer2DModel"}
    (partial / "transformer" / "config.json").write_text(json.dumps(large), encoding="utf-8")
    result = run_bench("run", "--backbone", "sd3-medium", "--t", "200", "--weights", f"sd3-medium={partial}")
    assert result.returncode != 0 and VARIANTS["sd3-medium"].family == SD3
    assert "Use --backbone sd35-large with these weights" in " ".join(result.stderr.split())


def test_the_diffusion_plugins_register_and_check_weights_without_torch(tmp_path):
    """SD's and DiT's registrations bind torch-free weights functions (bench --help stays fast):
    building the registry, locating and checking weights import neither torch nor diffusers."""
    import subprocess
    import sys

    code = (
        "import sys, bench\n"
        "from bench.registry.manager import load_plugins\n"
        "registry = load_plugins().build_registry()\n"
        "for backbone in ('sd15', 'sd3-medium', 'dit:flux1-dev/ditf'):\n"
        "    info = registry.backbones.get(backbone)\n"
        f"    assert info.weights_location({str(tmp_path)!r}) is None\n"
        "    try:\n"
        f"        info.weights_check({str(tmp_path / 'absent')!r})\n"
        "    except bench.BenchError as exc:\n"
        "        assert 'does not exist' in str(exc), exc\n"
        "    else:\n"
        "        raise AssertionError(f'{backbone}: an absent folder was accepted')\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
