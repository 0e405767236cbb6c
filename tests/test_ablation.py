"""Ablation studies: YAML configs, one-factor variants, learned prompts trained inside a run, and the
leaderboard's study table (the paper-ablation preset end to end)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench import BenchError
from bench.config.files import load_config
from bench.config.run_config import SweepSpec, spec_from_mapping
from bench.plan.ablation import ablation_variants
from tests.helpers.cli import run_bench

STUDY = {"name": "s", "vary": {"t": [0, 273], "prompt": ["none", "visual"], "noise_samples": [1, 6]}}


def test_variants_change_one_axis_each_and_the_base_runs_once():
    base = SweepSpec(backbone=("sd-tiny",), dataset=("synthetic",), t=(273,), prompt=("visual",),
                     noise_samples=6, ablation=STUDY)  # fmt: skip
    variants = ablation_variants(base)
    described = [(v.t, v.prompt, v.noise_samples, [(tag["axis"], tag["base"]) for tag in tags])
                 for v, tags in variants]  # fmt: skip
    assert described == [  # the base first
        ((273,), ("visual",), 6, [("t", True), ("prompt", True), ("noise_samples", True)]),
        ((0,), ("visual",), 6, [("t", False)]),
        ((273,), ("none",), 6, [("prompt", False)]),
        ((273,), ("visual",), 1, [("noise_samples", False)]),
    ]
    assert all(not variant.ablation for variant, _ in variants)


def test_a_base_with_two_values_on_a_varied_axis_is_a_clear_error():
    with pytest.raises(BenchError, match="has 2 values of t"):
        ablation_variants(SweepSpec(t=(0, 273), ablation=STUDY))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"name": "s", "vary": {"seed": [1, 2]}}, "ablation.vary.seed is not an allowed key"),
        ({"vary": {"t": [1]}}, "ablation.name is missing (required)"),
        ({"name": "s", "vary": {"t": 5}}, "ablation.vary.t = 5 (an integer): should be a list"),
        ({"name": "s", "vary": {"t": []}}, "ablation.vary.t = [] (a list): should have at least 1 item"),
        ({"name": "s", "vary": {}, "extra": 1}, "ablation.extra is not a valid key"),
    ],
)
def test_malformed_studies_are_clear_errors(table, message):
    with pytest.raises(BenchError, match=re.escape(message)):
        spec_from_mapping({"t": [0], "ablation": table}, "study.toml")


def test_yaml_config_reads_like_toml(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("backbone: sd-tiny\nt: [50, 200]\ntrain: {epochs: 2}\n")
    spec = load_config(str(path))
    assert spec.backbone == ("sd-tiny",) and spec.t == (50, 200) and spec.train == {"epochs": 2}
    assert load_config("paper-ablation").ablation["name"] == "Koley et al. ablation"
    path.write_text("backbone: [sd-tiny\n")
    with pytest.raises(BenchError, match="Could not read config"):
        load_config(str(path))


def test_a_study_says_so_when_it_is_planned(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("backbone: sd-tiny\nt: 200\ndataset: synthetic\nablation: {name: s, vary: {t: [50]}}\n")
    result = run_bench("run", "--config", str(path), "--dry-run", "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "1 configuration(s) in an ablation study of 1 sweep(s);" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--train-option", "epoch=2"], "unknown training setting(s): epoch"),
        (["--train-option", "lr=fast"], "--train-option: lr = 'fast' (text): allowed: a number above 0"),
        (["--train-option", "lr=nan"], "--train-option: lr = nan (a number): allowed: a number above 0"),
        (["--train-option", "epochs"], "--train-option 'epochs' is not KEY=VALUE"),
    ],
)
def test_bad_training_settings_in_a_run(args, message):
    result = run_bench("run", "--backbone", "sd-tiny", "--t", "200", "--dataset", "synthetic",
                       "--prompt", "visual", *args)  # fmt: skip
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_paper_ablation_preset_end_to_end(tmp_path):
    """The preset trains 8 prompts (3 schemes at the base, the fine layer, 4 other timesteps), runs 10
    distinct configurations, and the leaderboard renders them as one study table of 13 rows."""
    out, cache = tmp_path / "results", tmp_path / "cache"
    args = (
        "run",
        "--config",
        "paper-ablation",
        "--output-dir",
        str(out),
        "--cache-dir",
        str(cache),
        "--json",
    )
    first = run_bench(*args)
    assert first.returncode == 0, first.stderr
    results = json.loads(first.stdout)
    assert len(results) == 10
    assert sum(len(r["ablation"]) for r in results) == 13  # 4 prompts + 2 layers + 5 t + 2 noise
    assert len(list((out / "prompts").glob("*.safetensors"))) == 8
    learned = [r for r in results if r["config"]["prompt"] != "none"]
    assert all(Path(r["extractor"]["prompt_file"]).is_file() for r in learned)
    assert all(r["config"]["train"]["steps_per_epoch"] == 2 for r in learned)

    again = run_bench(*args)
    assert again.returncode == 0, again.stderr
    assert "training the" not in again.stderr and "trained before" in again.stderr
    assert all(r["runtime"]["cache_misses"] == 0 for r in json.loads(again.stdout))
    assert [r["metrics"] for r in json.loads(again.stdout)] == [r["metrics"] for r in results]

    board = tmp_path / "board.md"
    rendered = run_bench("leaderboard", str(out), "--output", str(board))
    assert rendered.returncode == 0, rendered.stderr
    text = board.read_text()
    table = text.split("### Ablation study: Koley et al. ablation (varies prompt, layer, t, noise_samples)")[
        1
    ]
    rows = [
        line for line in table.split("\n\n")[2].splitlines() if line.startswith("| ") and "---" not in line
    ]
    assert len(rows) == 1 + 13  # header + one row per (factor, setting)
    assert "| prompt | visual+textual (base) |" in table and "| noise draws | 1 |" in table
