"""Prompt learning: `bench train`, the learned prompt file, `--prompt learned:FILE`, and bad input."""

from __future__ import annotations

import json

import pytest
import torch

from bench import SilentReporter
from bench.prompts.files import load_prompt, read_header
from bench.prompts.learnable import LearnablePrompt, border_mask
from bench.prompts.trainer import PromptTrainer, TrainSpec, plan_training, train_prompt
from tests.helpers.cli import REPO, run_bench

TINY = {"backbone": "sd-tiny", "dataset": "synthetic", "t": 200, "image_size": 64, "width": 8}
TINY_DATA = ["--dataset-option", "num_classes=8", "--dataset-option", "num_unseen=4"]
TINY_OPTIONS = {"num_classes": 8, "num_unseen": 4, "train_photos_per_class": 4}


def _backbone_state(backbone) -> dict[str, torch.Tensor]:
    modules = {"unet": backbone.unet, "vae": backbone.vae, "text": backbone.conditioner.text_encoder}
    return {
        f"{name}.{key}": value.detach().clone()
        for name, module in modules.items()
        for key, value in module.state_dict().items()
    }


def test_border_mask_marks_only_the_frame():
    mask = border_mask(8, 2)[0]
    assert mask.shape == (8, 8)
    assert mask[2:6, 2:6].sum() == 0 and mask.sum() == 64 - 16
    with pytest.raises(ValueError, match="border width"):
        border_mask(8, 5)


@pytest.mark.slow
def test_training_lowers_the_loss_and_changes_only_the_prompt(registry):
    spec = TrainSpec(
        **TINY, scheme="visual+textual", batch_size=4, steps_per_epoch=1, lr=0.1, dataset_options=TINY_OPTIONS
    )
    planned = plan_training(spec, registry)
    trainer = PromptTrainer(spec, planned.run, planned.parts, reporter=SilentReporter())
    assert planned.parts == ("visual", "textual")
    batch = trainer.sampler.epoch(1)[:4]
    before_backbone = _backbone_state(trainer.backbone.model)
    empty = trainer.backbone.model.text_context("")
    losses = []
    for _ in range(6):  # AdamW steps on one batch of training triplets
        loss = trainer.step_loss(batch, 1, 0)
        loss.backward()
        trainer.optimizer.step()
        trainer.optimizer.zero_grad()
        losses.append(loss.item())
    trainer.train_epoch(2)  # the epoch loop too
    with torch.no_grad():
        losses.append(trainer.step_loss(batch, 1, 0).item())

    # measured: 0.292 -> 0.155 after 8 steps (lr 0.1); the assertion leaves half of a 6-step drop
    assert losses[-1] < losses[0] - 0.05, losses
    after_backbone = _backbone_state(trainer.backbone.model)
    assert after_backbone.keys() == before_backbone.keys()
    assert all(torch.equal(before_backbone[k], after_backbone[k]) for k in before_backbone)
    assert not any(p.requires_grad for p in trainer.backbone.model.unet.parameters())
    learned = trainer.prompt.tensors()
    assert not torch.equal(learned["textual"], empty)  # the textual prompt moved from its start
    inside = learned["visual.sketch"][:, 8:-8, 8:-8]
    assert inside.abs().max() == 0 and learned["visual.sketch"].abs().max() > 0  # only the border


def test_prompt_file_round_trip(tmp_path, registry):
    spec = TrainSpec(**TINY, epochs=1, batch_size=2, steps_per_epoch=1, lr=0.05, dataset_options=TINY_OPTIONS)
    outcome = train_prompt(spec, plan_training(spec, registry), tmp_path / "prompt.safetensors")
    header, tensors = load_prompt(outcome.path)
    assert read_header(outcome.path) == header
    assert header["backbone"] == "sd-tiny" and header["t"] == 200 and header["layer"] == "up1"
    assert header["image_size"] == 64 and header["width"] == 8 and header["parts"] == ["visual", "textual"]
    assert header["training"]["lr"] == 0.05 and header["metrics"]["epochs_run"] == 1
    assert tensors["visual.photo"].shape == (3, 64, 64) and tensors["textual"].shape == (77, 32)
    restored = LearnablePrompt(
        ("visual", "textual"), image_size=64, width=8, empty_context=tensors["textual"]
    )
    restored.load_learned(tensors)
    assert all(torch.equal(restored.tensors()[k], tensors[k]) for k in tensors)
    checkpoint = tmp_path / "prompt.safetensors.ckpt"
    assert checkpoint.is_file()


@pytest.mark.slow
def test_bench_train_then_run_learned_prompt(tmp_path):
    """The issue's flow: `bench train` (default --t and --output), then `bench run --prompt learned:FILE`
    evaluates the prompt with the settings in its header."""
    train = ["train", "--backbone", "sd-tiny", "--dataset", "synthetic", "--image-size", "64", "--width", "8",
             "--steps-per-epoch", "1", "--batch-size", "2", "--val-split", "0.25", *TINY_DATA,
             "--json"]  # fmt: skip
    trained = run_bench(*train, "--epochs", "2", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    header = json.loads(trained.stdout)
    prompt = "prompts/sd-tiny_up1_t200_visual-textual.safetensors"  # t from configs/default.toml
    assert header["path"] == prompt and (tmp_path / prompt).is_file()
    assert len(header["history"]) == 2 and header["t"] == 200
    assert "val_mAP@all" in header["history"][0] and "val_mAP@all_best" in header["metrics"]
    assert "epoch 2/2: triplet loss" in trained.stderr

    run = (
        "run",
        "--prompt",
        f"learned:{prompt}",
        "--noise-samples",
        "1",
        "--output-dir",
        "results",
        "--json",
    )
    learned = run_bench(*run, cwd=tmp_path)
    assert learned.returncode == 0, learned.stderr
    assert "from the learned prompt's header: backbone sd-tiny\n" in learned.stderr
    (result,) = json.loads(learned.stdout)
    config = result["config"]
    assert (config["backbone"], config["layer"], config["t"], config["image_size"]) == (
        "sd-tiny",
        "up1",
        200,
        64,
    )
    assert config["dataset"] == "synthetic" and config["dataset_options"] == {
        "num_classes": 8,
        "num_unseen": 4,
    }

    resumed = run_bench(*train, "--epochs", "3", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    history = json.loads(resumed.stdout)["history"]
    assert [record["epoch"] for record in history] == [1, 2, 3]
    assert history[:2] == header["history"]  # epochs 1-2 come from the checkpoint


SD_RUN = ["run", "--backbone", "sd-tiny", "--t", "200", "--dataset", "synthetic"]
SD_TRAIN = ["train", "--backbone", "sd-tiny", "--t", "200", "--dataset", "synthetic", "--output", "x.st"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([*SD_RUN, "--prompt", "learned:/no/such.safetensors"], "does not exist"),
        ([*SD_RUN, "--prompt", "visual:16"], "takes no argument"),
        (
            [
                "train",
                "--backbone",
                "vit-tiny",
                "--dataset",
                "synthetic",
                "--prompt",
                "textual",
                "--output",
                "x.st",
            ],
            "the image features of backbone 'vit-tiny' do not depend on text",
        ),
        (
            [
                "train",
                "--plugin",
                str(REPO / "examples" / "hog_plugin.py"),
                "--backbone",
                "hog",
                "--dataset",
                "synthetic",
                "--prompt",
                "visual",
            ],
            "gradients cannot reach one through backbone 'hog' (its plugin declares none)",
        ),  # fmt: skip
        ([*SD_TRAIN, "--prompt", "none"], "has nothing to learn"),
        ([*SD_TRAIN, "--val-split", "1.5"], "--val-split = 1.5 (a number): allowed: a fraction"),
        (
            [*SD_TRAIN, "--train-fraction", "0"],
            "--train-fraction = 0.0 (a number): allowed: a fraction above",
        ),
        ([*SD_TRAIN, "--train-fraction", "1.5"], "--train-fraction = 1.5 (a number): allowed: a fraction"),
        ([*SD_TRAIN, "--train-fraction", "0.5", "--train-count", "2"], "the two settings exclude each other"),
        ([*SD_RUN, "--prompt", "visual", "--train-option", "train_fraction=0"], "train_fraction = 0 (an int"),
        ([*SD_TRAIN, "--resume"], "no checkpoint"),
        (
            ["train", "--backbone", "vit-tiny", "--dataset", "synthetic", "--probe", "linear",
             "--probe-dim", "0"],
            "--probe-dim = 0 (an integer): allowed: an integer from 1 to 1048576.",
        ),
    ],
)
def test_bad_prompt_and_training_input_is_one_clear_message(tmp_path, args, expected):
    result = run_bench(*args, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("--epochs", "0", "allowed: an integer from 1 to 100000."),
        ("--grad-accum", "0", "allowed: an integer from 1 to 65536."),
        ("--patience", "-1", "allowed: an integer from 0 to 100000."),
        ("--train-count", "0", "allowed: an integer from 1 to 2147483647."),
    ],
)
def test_a_training_range_is_checked_once_for_bench_train_config_files_and_python(
    tmp_path, option, value, allowed
):
    """``bench train``'s ranges were click's (rc 2, click's words, and --patience 0 refused where a
    config's train table allows it); the schema is now the one check, as for ``bench run``, and the
    help still shows each range (read from the schema)."""
    import re

    import bench

    setting = option[2:].replace("-", "_")
    typed = run_bench("train", "--backbone", "vit-tiny", "--dataset", "synthetic", "--prompt", "visual",
                      option, value, cwd=tmp_path)  # fmt: skip
    assert typed.returncode == 1 and "Traceback" not in typed.stderr
    assert f"the command line: {option} = {value} (an integer): {allowed}" in " ".join(typed.stderr.split())
    config = tmp_path / "train.toml"
    config.write_text(
        f'backbone = "vit-tiny"\ndataset = "synthetic"\nprompt = "visual"\n[train]\n{setting} = {value}\n'
    )
    from_file = run_bench("run", "--config", str(config), "--dry-run")
    assert (
        from_file.returncode == 1
        and f"train: {setting} = {value} (an integer): {allowed}" in from_file.stderr
    )
    with pytest.raises(bench.BenchError, match=re.escape(f"{setting} = {value} (an integer): {allowed}")):
        bench.run(
            backbone=("vit-tiny",), dataset=("synthetic",), prompt=("visual",), train={setting: int(value)}
        )
    shown = " ".join(run_bench("train", "--help").stdout.split())
    assert f"{option} INTEGER" in shown and "RANGE" not in shown
    assert allowed.replace("allowed", "Allowed") in shown


def test_corrupt_or_mismatched_prompt_file(tmp_path):
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    result = run_bench("run", "--backbone", "sd-tiny", "--t", "200", "--dataset", "synthetic",
                       "--prompt", f"learned:{corrupt}")  # fmt: skip
    assert result.returncode == 1 and "is not a learned prompt file" in result.stderr

    from bench.prompts.files import save_prompt

    prompt = save_prompt(
        tmp_path / "vit.safetensors",
        {"visual.sketch": torch.zeros(3, 56, 56), "visual.photo": torch.zeros(3, 56, 56)},
        {"backbone": "vit-tiny", "image_size": 56, "parts": ["visual"]},
    )
    result = run_bench(
        "run", "--backbone", "clip-tiny", "--dataset", "synthetic", "--prompt", f"learned:{prompt}"
    )
    assert result.returncode == 1
    assert "was trained for backbone 'vit-tiny', not 'clip-tiny'" in result.stderr
    result = run_bench("run", "--backbone", "vit-tiny", "--image-size", "112", "--dataset", "synthetic",
                       "--prompt", f"learned:{prompt}")  # fmt: skip
    assert result.returncode == 1 and "56 px visual prompt" in result.stderr


def test_empty_train_split_is_a_clear_error(registry):
    from bench import BenchError, ImageItem
    from bench.prompts.triplets import TripletSampler

    with pytest.raises(BenchError, match="has no sketch"):
        TripletSampler([], "same-class", seed=0)
    only_sketches = [ImageItem(f"s{i}", "sketch", "a") for i in range(3)]
    with pytest.raises(BenchError, match="has no sketch"):
        TripletSampler(only_sketches, "same-class", seed=0)


@pytest.mark.slow
def test_visual_prompt_on_real_dinov2_improves_train_split_map(tmp_path):
    """Measured on this setting: train-split mAP@all 0.2601 (no prompt) -> 0.2769 after 3 epochs
    (lr 0.01) and 0.2803 after 4 epochs (lr 0.05); the assertion keeps under a third of the gain."""
    result = run_bench(
        "train", "--backbone", "dinov2-vits14-imgfocus", "--dataset", "synthetic", "--prompt", "visual",
        "--image-size", "112", "--dataset-option", "num_classes=12", "--dataset-option", "num_unseen=4",
        "--dataset-option", "train_photos_per_class=6", "--epochs", "3", "--batch-size", "8", "--lr", "0.01",
        "--eval-train", "--output", str(tmp_path / "dino.safetensors"), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)["metrics"]
    assert metrics["train_mAP@all_after"] > metrics["train_mAP@all_before"] + 0.005, metrics


def test_bf16_autocast_and_activation_checkpointing_train_the_prompt(registry):
    spec = TrainSpec(
        **{**TINY, "image_size": 32, "width": 4},
        scheme="visual+textual",
        batch_size=2,
        lr=0.1,
        bf16=True,
        activation_checkpointing=True,
        dataset_options=TINY_OPTIONS,
    )
    planned = plan_training(spec, registry)
    trainer = PromptTrainer(spec, planned.run, planned.parts, reporter=SilentReporter())
    assert trainer.backbone.model.unet.is_gradient_checkpointing
    before = trainer.prompt.tensors()
    loss = trainer.step_loss(trainer.sampler.epoch(1)[:2], 1, 0)
    loss.backward()
    trainer.optimizer.step()
    assert torch.isfinite(loss) and loss.dtype == torch.float32
    after = trainer.prompt.tensors()
    assert all(not torch.equal(before[k], after[k]) for k in before)
