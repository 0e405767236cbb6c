"""sd-mini, the shipped miniature SD, behaves like a trained model: tests a random model cannot pass.

Measured (this session, `bench run --backbone sd-mini --layer up0 --t 50`, 2 noise draws, default
synthetic benchmarks): mAP@all 0.216 against a chance level of 0.183 (sd-tiny, random: 0.18);
synthetic-fg Acc@1 26.04 against a chance level of 8.33 (12 photos per class gallery)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bench
from tests.helpers.cli import run_bench

MAP_MARGIN = 0.02  # above chance; measured +0.033
ACC1_FLOOR = 2 * 100 / 12  # twice chance; measured 26.04
SETTINGS = {"layer": "up0", "t": 50, "noise_samples": 2}


@pytest.fixture(scope="module")
def registry():
    registry = bench.plugin_registry()
    if "sd-mini" not in registry.backbones:
        pytest.skip("the sd-mini weights are not in plugins/bench_sd/weights/")
    return registry


def chance_map(queries, gallery, draws: int = 50) -> float:
    """Mean mAP@all of seeded random descriptors on these splits (the chance level)."""
    rng = np.random.default_rng(0)
    values = [
        bench.score(rng.standard_normal((len(queries), 64)), rng.standard_normal((len(gallery), 64)),
                    queries, gallery, task="zs-sbir", metrics=["mAP@all"])["mAP@all"]
        for _ in range(draws)
    ]  # fmt: skip
    return float(np.mean(values))


def split_descriptors(backbone, dataset, registry):
    queries, gallery = dataset.split("query"), dataset.split("gallery")
    q = bench.descriptors(backbone, queries, dataset=dataset, registry=registry, **SETTINGS)
    g = bench.descriptors(backbone, gallery, dataset=dataset, registry=registry, **SETTINGS)
    return queries, gallery, q, g


@pytest.mark.slow
def test_sd_mini_beats_chance_and_the_random_model_on_categories(registry):
    dataset = bench.open_dataset("synthetic", registry=registry)
    scores = {}
    for backbone_id in ("sd-mini", "sd-tiny"):
        backbone = bench.load_backbone(backbone_id, device="cpu", registry=registry)
        queries, gallery, q, g = split_descriptors(backbone, dataset, registry)
        scores[backbone_id] = bench.score(q, g, queries, gallery, dataset="synthetic")["mAP@all"]
    chance = chance_map(queries, gallery)
    assert scores["sd-mini"] >= chance + MAP_MARGIN, (scores, chance)
    assert scores["sd-mini"] > scores["sd-tiny"] + MAP_MARGIN / 2, scores


@pytest.mark.slow
def test_sd_mini_finds_the_photo_a_sketch_was_drawn_from(registry, tmp_path):
    results = bench.run(
        "default", backbone=("sd-mini",), dataset=("synthetic-fg",), layer=("up0",), t=(50,),
        output_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"), registry=registry,
    )  # fmt: skip
    assert results[0].metrics["Acc@1"] >= ACC1_FLOOR, results[0].metrics


# The prompt study of docs/sd-mini.md, cut to fit a test: a visual+textual prompt trained with
# `bench train` for one epoch (192 triplets of the seen classes) at sd-mini's best category cell
# (levels 1-2 fused, t = 50), then `bench run` on the unseen classes with and without it.
PROMPT_POINT = "--backbone sd-mini --layer coarse --t 50".split()
PROMPT_TRAINING = "--prompt visual+textual --width 4 --lr 0.01 --epochs 1 --seed 0".split()
PROMPT_SLACK = 0.005  # room for float differences in training across machines; measured gain +0.011


@pytest.mark.slow
def test_a_trained_prompt_does_no_worse_than_no_prompt_on_unseen_classes(registry, tmp_path):
    """Measured (this configuration; 66 s on 2 busy CPU cores, 25-58 s of it training): no prompt
    mAP@all 0.214, the trained prompt 0.225 (+0.011, so 0.016 above the bound), chance 0.183.
    A prompt that wrecks the features fails: the same training at --lr 0.5 scored 0.196 (-0.018)."""
    prompt = tmp_path / "prompt.safetensors"
    cache = ["--cache-dir", str(tmp_path / "cache")]
    trained = run_bench("train", *PROMPT_POINT, "--dataset", "synthetic", *PROMPT_TRAINING,
                        "--output", str(prompt), "--json")  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    header = json.loads(trained.stdout)
    assert header["dataset"] == "synthetic" and header["backbone"] == "sd-mini", header

    prompts = ["--prompt", "none", "--prompt", f"learned:{prompt}"]
    out = ["--output-dir", str(tmp_path / "out"), *cache, "--json"]
    scored = run_bench("run", *PROMPT_POINT, "--noise-samples", "2", "--dataset", "synthetic", *prompts, *out)
    assert scored.returncode == 0, scored.stderr
    by_prompt = {r["config"]["prompt"]: r for r in json.loads(scored.stdout)}
    none, learned = by_prompt["none"], by_prompt[f"learned:{prompt}"]
    seen, unseen = set(learned["dataset"]["seen_classes"]), set(learned["dataset"]["unseen_classes"])
    assert unseen and not seen & unseen  # trained on seen classes, scored on held-out ones
    chance = chance_map(*_synthetic_test_splits(registry))
    assert none["metrics"]["mAP@all"] >= chance + MAP_MARGIN, (none["metrics"], chance)
    assert learned["metrics"]["mAP@all"] >= none["metrics"]["mAP@all"] - PROMPT_SLACK, (
        learned["metrics"], none["metrics"])  # fmt: skip


def _synthetic_test_splits(registry):
    dataset = bench.open_dataset("synthetic", registry=registry)
    return dataset.split("query"), dataset.split("gallery")


@pytest.mark.slow
def test_loading_sd_mini_shows_the_runs_progress_only(registry, tmp_path):
    """transformers' own "Loading weights" bar (its text encoder) does not break into the run's
    output; the model is loaded for real (an empty feature cache)."""
    env = {"SBIR_BENCH_CACHE": str(tmp_path / "cache")}
    result = run_bench("run", "--backbone", "sd-mini", "--dataset", "synthetic", "--dataset-option",
                       "num_unseen=2", "--output-dir", str(tmp_path / "out"), env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "loading backbone sd-mini" in result.stderr
    assert "Loading weights" not in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("downloads_shown", [True, False])
def test_hiding_the_loading_bar_keeps_the_download_bars_as_the_user_set_them(
    registry, monkeypatch, downloads_shown
):
    """transformers' bar switch also switches huggingface_hub's: while sd-mini's text encoder loads,
    download bars stay as they were, and afterwards both switches are as before."""
    import huggingface_hub.utils as hub
    import transformers
    import transformers.utils.logging as library

    hub.enable_progress_bars() if downloads_shown else hub.disable_progress_bars()
    seen = []
    original = transformers.CLIPTextModel.from_pretrained.__func__

    def recording(cls, *args, **kwargs):
        seen.append((library.is_progress_bar_enabled(), not hub.are_progress_bars_disabled()))
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(transformers.CLIPTextModel, "from_pretrained", classmethod(recording))
    try:
        bench.load_backbone("sd-mini", registry=registry)
        assert seen == [(False, downloads_shown)]
        assert library.is_progress_bar_enabled() and hub.are_progress_bars_disabled() is not downloads_shown
    finally:
        hub.enable_progress_bars()
