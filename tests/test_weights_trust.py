"""Weights load as they are or not at all: every loader refuses files that leave a tensor of the
model out (or hold others), naming them; a symlinked part is identified by what it points to; no
checkpoint file runs code; `bench train` checks its output and a resumed checkpoint before the
model loads."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from bench_sd.architecture import VARIANTS
from bench_sd.pipeline_parts import write_builtin_configs
from diffusers import AutoencoderKL
from safetensors.torch import load_file, save_file

import bench
from bench import BenchError
from bench.weights import weights_identity
from tests.helpers.cli import run_bench
from tests.helpers.dit_models import CPU, save_tiny, tiny
from tests.helpers.sd_checkpoints import single_file_state

SMALL = ["--dataset-option", "num_classes=4", "--dataset-option", "num_unseen=2", "--image-size", "64"]


def _edit(file: Path, drop: str | None = None, add: str | None = None) -> None:
    """Rewrite the safetensors ``file`` without the tensor ``drop`` and with a tensor ``add``."""
    state = load_file(str(file))
    if drop is not None:
        del state[drop]
    if add is not None:
        state[add] = torch.zeros(2)
    save_file(state, str(file))


def _refused(*args: str) -> str:
    """``bench ARGS`` fails with one message (no traceback); its stderr on one line."""
    result = run_bench(*args)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    return " ".join(result.stderr.split())


@pytest.fixture(scope="module")
def sd_tiny(tmp_path_factory) -> SimpleNamespace:
    """sd-tiny as a diffusers folder and as a single-file checkpoint (seeded random weights)."""
    root = tmp_path_factory.mktemp("sd-tiny")
    model = bench.load_backbone("sd-tiny", device="cpu", image_size=64).model
    folder = write_builtin_configs(VARIANTS["sd-tiny"], root / "folder")
    for part, module in (("unet", model.unet), ("text_encoder", model.conditioner.text_encoder)):
        module.save_pretrained(folder / part)
    vae = AutoencoderKL.from_config(model.vae.config)  # with the decoder the feature extractor drops
    vae.load_state_dict({**vae.state_dict(), **model.vae.state_dict()})
    vae.save_pretrained(folder / "vae")
    file = root / "sd-tiny.safetensors"
    save_file(single_file_state(model.unet, vae, model.conditioner.text_encoder), str(file))
    return SimpleNamespace(folder=folder, file=file)


# -- 2. weights that leave a tensor out (or hold others) are refused, naming it ------------------------


@pytest.mark.slow
def test_an_sd_folder_or_single_file_without_a_unet_tensor_is_refused_naming_it(sd_tiny, tmp_path):
    """Before: the folder ran with an uninitialised conv_in (values like 1e37), the single file
    with a fresh random one, both recorded under the weights' hash."""
    assert run_bench("run", "--backbone", "sd-tiny", "--weights", str(sd_tiny.folder), "--dataset",
                     "synthetic", *SMALL, "--output-dir", str(tmp_path / "ok")).returncode == 0  # fmt: skip
    missing, extra = tmp_path / "missing", tmp_path / "extra"
    for folder in (missing, extra):
        shutil.copytree(sd_tiny.folder, folder)
    _edit(missing / "unet" / "diffusion_pytorch_model.safetensors", drop="conv_in.weight")
    message = _refused("run", "--backbone", "sd-tiny", "--weights", str(missing), "--dataset", "synthetic")
    assert "The unet/ weights of" in message and "1 tensor missing (conv_in.weight)" in message
    _edit(extra / "vae" / "diffusion_pytorch_model.safetensors", add="encoder.extra.weight")
    with pytest.raises(BenchError, match=r"vae/ weights .* 1 tensor unexpected \(encoder\.extra\.weight\)"):
        bench.load_backbone("sd-tiny", weights=str(extra), device="cpu", image_size=64)

    file = tmp_path / "sd-tiny.safetensors"
    shutil.copy(sd_tiny.file, file)
    _edit(file, drop="model.diffusion_model.input_blocks.0.0.weight")
    message = _refused("run", "--backbone", "sd-tiny", "--weights", str(file), "--dataset", "synthetic")
    assert "The unet tensors of the single-file checkpoint" in message
    assert "1 tensor missing (conv_in.weight)" in message


def test_a_dit_folder_without_a_transformer_tensor_is_refused_naming_it(tmp_path, monkeypatch):
    from bench_dit.architecture import VARIANTS as DIT_VARIANTS
    from bench_dit.loaders import build_pretrained

    save_tiny(tiny("flux-tiny"), tmp_path)
    _edit(tmp_path / "transformer" / "diffusion_pytorch_model.safetensors", drop="proj_out.weight")
    monkeypatch.setitem(DIT_VARIANTS, "flux-test", replace(DIT_VARIANTS["flux-tiny"], id="flux-test"))
    with pytest.raises(BenchError, match=r"transformer/ weights .* 1 tensor missing \(proj_out\.weight\)"):
        build_pretrained(
            SimpleNamespace(id="flux-test"),
            weights=str(tmp_path),
            device=CPU,
            dtype=torch.float32,
            image_size=32,
        )


def test_a_timm_file_without_a_tensor_is_refused_though_the_classifier_is_dropped(tmp_path):
    """A tag with a classifier (ImageNet classes): timm drops the file's classifier for the
    headless network and loaded the rest non-strictly, so a missing block norm stayed random."""
    import timm

    name = "vit_tiny_patch16_224.augreg_in21k_ft_in1k"
    with torch.random.fork_rng():
        torch.manual_seed(0)
        source = timm.create_model(name, pretrained=False)
    state = {key: value.contiguous() for key, value in source.state_dict().items()}
    save_file(state, str(tmp_path / "complete.safetensors"))
    loaded = bench.load_backbone(f"timm:{name}", weights=str(tmp_path / "complete.safetensors"), device="cpu")
    assert isinstance(loaded.model.model.head, torch.nn.Identity)
    assert torch.equal(loaded.model.model.blocks[0].norm1.weight, source.blocks[0].norm1.weight)
    del state["blocks.0.norm1.weight"]
    save_file(state, str(tmp_path / "incomplete.safetensors"))
    with pytest.raises(
        BenchError, match=r"does not match the model: 1 tensor missing \(blocks\.0\.norm1\.weight\)"
    ):
        bench.load_backbone(f"timm:{name}", weights=str(tmp_path / "incomplete.safetensors"), device="cpu")


@pytest.mark.slow
def test_an_open_clip_file_without_a_tensor_names_it(tmp_path):
    """open_clip loads strictly; its error named no tensor ("Error(s) in loading state_dict for CLIP:")."""
    import open_clip

    state = open_clip.create_model("ViT-S-32").state_dict()
    del state["visual.ln_post.weight"]
    torch.save(state, tmp_path / "open_clip_pytorch_model.bin")
    message = _refused("run", "--backbone", "open_clip:ViT-S-32", "--weights", str(tmp_path), "--dataset",
                       "synthetic", "--layer", "embed", *SMALL)  # fmt: skip
    assert "does not match the model: 1 tensor missing (visual.ln_post.weight)" in message


def test_an_hf_folder_without_a_tensor_is_refused_but_a_full_clip_model_loads_its_tower(tmp_path):
    from transformers import CLIPConfig, CLIPModel, Dinov2Config, Dinov2Model

    sizes = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
    vision = {**sizes, "image_size": 64, "patch_size": 16}
    Dinov2Model(Dinov2Config(**vision)).save_pretrained(tmp_path / "dinov2")
    CLIPModel(
        CLIPConfig(text_config={**sizes, "vocab_size": 128}, vision_config=vision, projection_dim=24)
    ).save_pretrained(tmp_path / "clip")
    _edit(tmp_path / "dinov2" / "model.safetensors", drop="layernorm.weight")
    with pytest.raises(
        BenchError, match=r"\(Dinov2Model\) do not match the model: 1 tensor missing \(layernorm\.weight\)"
    ):
        bench.load_backbone(f"hf:{tmp_path / 'dinov2'}", device="cpu", image_size=64)
    bench.load_backbone(f"hf:{tmp_path / 'clip'}", device="cpu", image_size=64)  # text tower: not the model's
    _edit(tmp_path / "clip" / "model.safetensors", add="vision_model.extra.weight")
    with pytest.raises(BenchError, match=r"1 tensor unexpected \(vision_model\.extra\.weight\)"):
        bench.load_backbone(f"hf:{tmp_path / 'clip'}", device="cpu", image_size=64)


# -- 3. a symlinked part is identified by the content it points to -----------------------------------


def test_a_symlinked_weights_part_follows_its_target_into_the_identity(sd_tiny, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(sd_tiny.folder / "unet", elsewhere)
    folder = tmp_path / "weights"
    shutil.copytree(sd_tiny.folder, folder, ignore=shutil.ignore_patterns("unet"))
    (folder / "unet").symlink_to(elsewhere, target_is_directory=True)
    (folder / "vae" / "loop").symlink_to(folder, target_is_directory=True)  # a cycle is walked once
    memo = tmp_path / "memo.json"
    before = weights_identity(str(folder), memo)
    _edit(elsewhere / "diffusion_pytorch_model.safetensors", add="changed")
    assert weights_identity(str(folder), memo) != before


# -- 9. no checkpoint file runs code ------------------------------------------------------------------


class Payload:
    """Unpickled, creates the folder ``marker`` (what a planted checkpoint could do instead)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def _plant(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {"weight": Payload(marker)}}, path)
    return path


TRAIN = ["train", "--backbone", "sd-tiny", "--dataset", "synthetic", "--t", "200", "--image-size", "64",
         "--width", "8", "--steps-per-epoch", "1", "--batch-size", "2", "--epochs", "1",
         "--dataset-option", "num_classes=4", "--dataset-option", "num_unseen=2"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("where", ["sd single file", "cleandift unet", "timm file", "bench train --resume"])
def test_a_planted_checkpoint_runs_no_code_and_is_one_message(tmp_path, where):
    marker = tmp_path / "marker"
    if where == "bench train --resume":
        _plant(tmp_path / "prompt.safetensors.ckpt", marker)
        args = [*TRAIN, "--output", str(tmp_path / "prompt.safetensors"), "--resume"]
    else:
        backbone, name = {
            "sd single file": ("sd-tiny", "model.ckpt"),
            "cleandift unet": ("cleandift-tiny", "unet.ckpt"),
            "timm file": ("dino-vits16", "model.bin"),
        }[where]
        args = ["run", "--backbone", backbone, "--weights", str(_plant(tmp_path / name, marker))]
        args += (
            ["--dataset", "synthetic", "--t", "200"] if backbone == "sd-tiny" else ["--dataset", "synthetic"]
        )
    message = _refused(*args)
    assert not marker.exists()
    assert "posix.mkdir" in message  # the refused object, named


@pytest.mark.slow
def test_a_planted_sd_mini_training_checkpoint_runs_no_code(tmp_path):
    """`python -m bench_sdmini train --resume` unpickled its checkpoints with weights_only=False:
    the payload ran before the recipe check."""
    marker = tmp_path / "marker"
    _plant(tmp_path / "run" / "checkpoints" / "vae.pt", marker)
    args = ["-m", "bench_sdmini", "train", "--output", str(tmp_path / "run"), "--quick", "--resume",
            "--corpus-root", str(tmp_path / "corpus"), "--threads", "1", "--stage", "vae"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300)
    assert not marker.exists()
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert "holds Python objects besides tensors (posix.mkdir)" in " ".join(result.stderr.split())


# -- 14. bench train checks its output and what it resumes before the model loads --------------------


def test_an_unwritable_train_output_fails_before_the_backbone_loads(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    message = _refused(*TRAIN, "--output", str(tmp_path / "file" / "prompt.safetensors"))
    output = tmp_path / "file" / "prompt.safetensors"
    assert f"--output '{output}' cannot be written: '{tmp_path / 'file'}' is a file, not a folder" in message
    assert "loading backbone" not in message and "epoch 1/1" not in message


def test_resuming_a_foreign_checkpoint_is_one_message(tmp_path):
    output = tmp_path / "prompt.safetensors"
    torch.save({"model": {"weight": torch.zeros(2)}}, tmp_path / "prompt.safetensors.ckpt")
    message = _refused(*TRAIN, "--output", str(output), "--resume")
    assert "is not a checkpoint of bench train" in message and "loading backbone" not in message
    (tmp_path / "prompt.safetensors.ckpt").write_bytes(b"truncated")
    assert "cannot be read" in _refused(*TRAIN, "--output", str(output), "--resume")
