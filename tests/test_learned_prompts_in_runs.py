"""Learned prompts in runs: a prompt trained for another backbone says so, and a trained prompt
reused from ``<output-dir>/prompts/`` is part of the run's identity by its content."""

from __future__ import annotations

import json

from conftest import run_bench

from tests.test_input_files import good_header, write_prompt_file

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
