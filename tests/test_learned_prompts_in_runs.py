"""Learned prompts in runs: a prompt trained for another backbone says so, and a trained prompt
reused from ``<output-dir>/prompts/`` is part of the run's identity by its content."""

from __future__ import annotations

import json

import pytest

from tests.helpers.cli import run_bench
from tests.helpers.input_files import good_header, write_prompt_file

SMALL = ["--dataset-option", "num_classes=4", "--dataset-option", "num_unseen=2", "--workers", "0"]
TRAINING = ["--prompt", "visual", "--train-option", "epochs=1", "--train-option", "steps_per_epoch=1"]


def test_a_learned_prompt_trained_for_another_backbone_says_so(tmp_path):
    path = write_prompt_file(tmp_path / "p.safetensors", good_header())  # sd-tiny up1, t 200
    result = run_bench("run", "--prompt", f"learned:{path}", "--backbone", "vit-tiny",
                       "--output-dir", str(tmp_path / "out"))  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    stderr = " ".join(result.stderr.split())
    assert f"Learned prompt {str(path)!r} was trained for backbone 'sd-tiny', not 'vit-tiny'." in stderr
    assert "Use it with --backbone sd-tiny" in stderr and "Unknown layer" not in stderr


def _changed(path) -> None:
    """The prompt file with other values of the same shapes, its header kept (as a hand edit would)."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), "pt") as opened:
        metadata = opened.metadata()
    tensors = load_file(str(path))
    save_file({name: value + 0.25 for name, value in tensors.items()}, str(path), metadata=metadata)


@pytest.mark.slow
def test_a_reused_trained_prompt_is_in_the_run_identity_by_its_content(tmp_path):
    run = ["run", "--backbone", "vit-tiny", "--dataset", "synthetic", *TRAINING, *SMALL, "--json",
           "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    first = run_bench(*run)
    assert first.returncode == 0, first.stderr
    trained = json.loads(first.stdout)[0]
    content, prompt_file = trained["config"]["prompt_content"], trained["extractor"]["prompt_file"]
    assert len(content) == 16 and int(content, 16) >= 0
    results_file = tmp_path / "out" / "synthetic" / f"{trained['name']}.json"
    written = results_file.read_bytes()

    unchanged = run_bench(*run, "--skip-existing")
    assert unchanged.returncode == 0 and "skipping" in unchanged.stderr, unchanged.stderr
    assert json.loads(unchanged.stdout)[0]["name"] == trained["name"]

    _changed(prompt_file)
    rerun = run_bench(*run, "--skip-existing")
    assert rerun.returncode == 0, rerun.stderr
    assert "trained before" in rerun.stderr and "skipping" not in rerun.stderr
    changed = json.loads(rerun.stdout)[0]
    assert changed["config"]["prompt_content"] != content and changed["name"] != trained["name"]
    assert results_file.read_bytes() == written  # the first prompt's results are kept
    assert len(list((tmp_path / "out" / "synthetic").glob("*.json"))) == 2


@pytest.mark.slow
def test_trained_prompts_of_a_sweep_share_its_leaderboard_rows_and_ablation_table(tmp_path):
    """Each (layer, dataset) trains its own prompt, so their content hashes differ: the leaderboard
    still pivots one configuration across datasets and crosses the layers in one ablation table."""
    out = tmp_path / "out"
    run = run_bench("run", "--backbone", "vit-tiny", "--dataset", "synthetic", "--dataset", "synthetic-fg",
                    "--layer", "embed", "--layer", "block-1", *TRAINING, *SMALL, "--output-dir", str(out),
                    "--cache-dir", str(tmp_path / "cache"))  # fmt: skip
    assert run.returncode == 0, run.stderr
    board = tmp_path / "board.md"
    assert run_bench("leaderboard", str(out), "--output", str(board)).returncode == 0
    text = board.read_text(encoding="utf-8")
    across = text.split("## Across benchmarks", 1)[1].split("\n## ", 1)[0]
    pivot = [line for line in across.splitlines() if line.startswith("| ") and "`vit-tiny`" in line]
    assert len(pivot) == 2  # a row per layer, with a value on each dataset
    assert all(float(cell) >= 0 for line in pivot for cell in line.strip("| ").split(" | ")[2:4])
    assert "### Ablation: vit-tiny, layer" in text
    assert "Prompt_content" not in text and "| prompt_content" not in text
    assert text.count("prompt_content `") == 4  # each run's footnote names its prompt


def _vit_tiny_visual_prompt(folder):
    """A visual prompt file for vit-tiny at 56 px whose header names layer embed and synthetic."""
    import torch

    from bench.prompts.files import save_prompt

    return save_prompt(
        folder / "p.safetensors",
        {"visual.sketch": torch.full((3, 56, 56), 0.1), "visual.photo": torch.zeros(3, 56, 56)},
        {"backbone": "vit-tiny", "image_size": 56, "parts": ["visual"], "layer": "embed",
         "dataset": "synthetic"},
    )  # fmt: skip


def test_the_command_line_and_python_plan_a_learned_prompt_the_same(tmp_path):
    """``bench run --prompt learned:FILE`` and ``bench.run(prompt=...)`` build one request and plan it
    by one path: both take the settings the user did not set from the file's header (backbone,
    layer, dataset), so they run the same configuration and give the same numbers. (``bench.run``
    used to plan the default config's backbones with the file instead, and refuse it.)"""

    import bench

    prompt = _vit_tiny_visual_prompt(tmp_path)
    cache = ["--cache-dir", str(tmp_path / "cache")]
    typed = run_bench("run", "--prompt", f"learned:{prompt}", *SMALL, *cache, "--json",
                      "--output-dir", str(tmp_path / "cli"))  # fmt: skip
    assert typed.returncode == 0, typed.stderr
    python = bench.run(
        prompt=(f"learned:{prompt}",),
        dataset_options={"num_classes": 4, "num_unseen": 2},
        workers=0,
        cache_dir=str(tmp_path / "cache"),
        output_dir=str(tmp_path / "python"),
    )
    cli = json.loads(typed.stdout)
    assert [result.config for result in python] == [result["config"] for result in cli]
    assert python[0].config["backbone"] == "vit-tiny" and python[0].config["layer"] == "embed"
    assert [result.metrics for result in python] == [result["metrics"] for result in cli]


class _Lines:
    """A reporter that keeps its status lines (progress bars show nothing)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def status(self, message: str) -> None:
        self.lines.append(message)

    def progress(self, description, total, unit="img"):
        from bench.api.reporting import SilentReporter

        return SilentReporter().progress(description, total, unit)


def test_python_runs_report_what_a_learned_prompts_header_filled(tmp_path):
    """``bench.run`` filled the settings from a trained file's header silently, where ``bench run``
    prints them: it now sends the same lines to its reporter, and a setting nothing uses warns."""

    import bench

    prompt = _vit_tiny_visual_prompt(tmp_path)
    reporter = _Lines()
    with pytest.warns(UserWarning, match="--noise-samples 3 does not apply to vit-tiny"):
        bench.run(
            prompt=(f"learned:{prompt}",),
            dataset_options={"num_classes": 4, "num_unseen": 2},
            noise_samples=3,
            workers=0,
            limit=4,
            cache_dir=str(tmp_path / "cache"),
            output_dir=str(tmp_path / "python"),
            reporter=reporter,
        )
    for line in (
        "from the learned prompt's header: backbone vit-tiny",
        "from the learned prompt's header: layer embed",
        "from the learned prompt's header: image_size 56",
    ):
        assert line in reporter.lines
    typed = run_bench("run", "--prompt", f"learned:{prompt}", *SMALL, "--noise-samples", "3", "--dry-run")
    for line in reporter.lines[:3]:
        assert line in typed.stderr  # the same words as the command line's
