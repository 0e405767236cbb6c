"""Linear probes (the paper's B-Linear-Probing): trained on the train split's cached descriptors, saved
and reused like a learned prompt, part of the run identity, and an axis of sweeps, ablations and
ensembles."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers.cli import run_bench

SMALL = ["--dataset-option", "num_classes=6", "--dataset-option", "num_unseen=2", "--workers", "0"]
TINY = ["--dataset-option", "num_classes=4", "--dataset-option", "num_unseen=2", "--dataset-option",
        "photos_per_class=6", "--dataset-option", "train_photos_per_class=6", "--workers", "0"]  # fmt: skip
DINO = "dinov2-vits14-imgfocus"


def _ok(result):
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result


def _error(result) -> str:
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "loading backbone" not in result.stderr  # refused before any model loads
    return " ".join(result.stderr.split())


def _by_probe(stdout: str) -> dict:
    return {result["config"].get("probe", "none"): result for result in json.loads(stdout)}


@pytest.mark.slow
def test_a_probe_trains_on_cached_descriptors_without_running_the_backbone_again(tmp_path):
    from bench.plan.probes import read_header

    env = {"SBIR_BENCH_CACHE": str(tmp_path / "cache")}
    out = ["--output-dir", str(tmp_path / "out"), "--json"]
    first = _ok(run_bench("run", "--backbone", DINO, "--dataset", "synthetic", "--probe", "none", "--probe",
                          "linear", "--train-option", "epochs=3", *TINY, *out, env=env))  # fmt: skip
    runs = _by_probe(first.stdout)
    assert runs["none"]["runtime"]["cache_misses"] == 24  # the test split, extracted once for both
    trained = read_header(runs["linear"]["extractor"]["probe_file"])
    assert trained["metrics"]["train_images"] == trained["metrics"]["train_images_extracted"] == 24

    probe = tmp_path / "p.safetensors"
    train = _ok(run_bench("train", "--backbone", DINO, "--dataset", "synthetic", "--probe", "linear",
                          "--epochs", "4", "--lr", "0.01", *TINY[:-2], "--output", str(probe), "--json",
                          env=env))  # fmt: skip
    header = json.loads(train.stdout)
    assert header["metrics"]["train_images"] == 24 and header["metrics"]["train_images_extracted"] == 0
    assert "loading backbone" not in train.stderr and "extracting" not in train.stderr
    losses = [record["loss"] for record in header["history"]]
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert header["input_dim"] == header["output_dim"] == 384 and header["training"]["epochs"] == 4

    reuse = _ok(run_bench("run", "--probe", f"linear:{probe}", *TINY, *out, env=env))
    assert "from the linear probe's header: backbone dinov2-vits14-imgfocus" in reuse.stderr
    assert "loading backbone" not in reuse.stderr
    result = json.loads(reuse.stdout)[0]
    assert result["runtime"]["cache_misses"] == 0 and result["config"]["probe_dim"] == 384


@pytest.mark.slow
def test_a_saved_probe_reloads_to_the_same_descriptors_and_numbers(tmp_path):
    import torch

    from bench.plan.probes import apply_probe, load_probe
    from bench.prompts.linear_probe import LinearProbe

    run = ["run", "--backbone", "vit-tiny", "--dataset", "synthetic", *SMALL, "--json",
           "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    trained = json.loads(_ok(run_bench(*run, "--probe", "linear", "--train-option", "lr=0.01")).stdout)[0]
    path = trained["extractor"]["probe_file"]
    header, weight = load_probe(path)
    assert weight.shape == (64, 64) and not np.allclose(weight, np.eye(64))  # trained away from the identity
    assert header["prompt"] == "none" and header["backbone"] == "vit-tiny" and header["layer"] == "embed"

    module = LinearProbe(64, 64, seed=0)
    module.load_learned({"weight": torch.from_numpy(weight)})
    x = np.random.default_rng(0).normal(size=(10, 64)).astype(np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(apply_probe(weight, x), module(torch.from_numpy(x)).numpy(), atol=1e-6)

    reread = json.loads(_ok(run_bench(*run, "--probe", f"linear:{path}")).stdout)[0]
    assert reread["metrics"] == trained["metrics"]
    assert reread["config"]["probe_content"] == trained["config"]["probe_content"]


def test_an_identity_probe_scores_as_the_frozen_descriptors():
    from bench.plan.probes import apply_probe, unit_rows

    x = np.random.default_rng(1).normal(size=(5, 12)).astype(np.float32)
    np.testing.assert_allclose(apply_probe(np.eye(12, dtype=np.float32), x), unit_rows(x), atol=1e-6)


def _changed(path) -> None:
    """The probe file with other values of the same shape, its header kept (as a hand edit would)."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    with safe_open(str(path), "np") as opened:
        metadata = opened.metadata()
    changed = {name: value + 0.25 for name, value in load_file(str(path)).items()}
    save_file(changed, str(path), metadata=metadata)


@pytest.mark.slow
def test_a_probe_is_in_the_run_identity_by_its_content(tmp_path):
    run = ["run", "--backbone", "vit-tiny", "--dataset", "synthetic", "--probe", "linear", *SMALL, "--json",
           "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    first = json.loads(_ok(run_bench(*run)).stdout)[0]
    content, probe_file = first["config"]["probe_content"], first["extractor"]["probe_file"]
    assert "_p-linear_" in first["name"] and first["config"]["probe_train"]["epochs"] == 5
    results_file = tmp_path / "out" / "synthetic" / f"{first['name']}.json"
    written = results_file.read_bytes()

    unchanged = _ok(run_bench(*run, "--skip-existing"))
    assert "skipping" in unchanged.stderr and json.loads(unchanged.stdout)[0]["name"] == first["name"]

    _changed(probe_file)
    rerun = _ok(run_bench(*run, "--skip-existing"))
    assert "using the linear probe trained before" in rerun.stderr and "skipping" not in rerun.stderr
    changed = json.loads(rerun.stdout)[0]
    assert changed["config"]["probe_content"] != content and changed["name"] != first["name"]
    assert results_file.read_bytes() == written  # the first probe's results are kept
    other = json.loads(_ok(run_bench(*run, "--train-option", "epochs=2")).stdout)[0]
    assert other["extractor"]["probe_file"] != probe_file  # other training settings: another probe


@pytest.mark.slow
def test_a_probe_trains_on_part_of_the_data_and_says_how_much(tmp_path):
    run = ["run", "--backbone", "vit-tiny", "--dataset", "synthetic", "--probe", "linear", *SMALL, "--json",
           "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    full, half = (
        json.loads(_ok(run_bench(*run, "--train-option", f"train_fraction={fraction}")).stdout)[0]
        for fraction in (1, 0.5)
    )
    assert "train_fraction" not in full["config"]["probe_train"]  # all the data: named as before
    assert half["config"]["probe_train"]["train_fraction"] == 0.5 and half["name"] != full["name"]
    kept = [r["dataset"]["probe_training_data"]["kept"] for r in (full, half)]
    assert kept == [{"classes": 4, "sketches": 48, "photos": 48, "instances": None},
                    {"classes": 4, "sketches": 24, "photos": 24, "instances": None}]  # fmt: skip


@pytest.mark.slow
def test_probes_in_a_sweep_with_a_learned_prompt_and_an_ensemble(tmp_path):
    from bench.plan.probes import read_header

    out = ["--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--json"]
    result = _ok(run_bench("run", "--backbone", "vit-tiny", "--dataset", "synthetic", "--dataset",
                           "synthetic-fg", "--prompt", "visual", "--probe", "none", "--probe", "linear",
                           "--ensemble", "concat", "--train-option", "epochs=1", "--train-option",
                           "steps_per_epoch=2", *SMALL, *out))  # fmt: skip
    results = json.loads(result.stdout)
    assert len(results) == 6  # 2 datasets x (no probe, probe, their ensemble)
    for dataset in ("synthetic", "synthetic-fg"):
        none, probe, ensemble = [r for r in results if r["config"]["dataset"] == dataset]
        assert "probe" not in none["config"] and probe["config"]["probe"] == "linear"
        header = read_header(probe["extractor"]["probe_file"])  # the probe maps the prompted descriptors
        assert header["prompt"] == "visual" and header["prompt_content"] == probe["config"]["prompt_content"]
        assert ensemble["config"]["probe"] == "none, linear"
        assert ensemble["config"]["ensemble"]["members"] == [none["name"], probe["name"]]
        assert ensemble["runtime"]["descriptor_dim"] == 128
        assert ("Acc@1" in probe["metrics"]) == (dataset == "synthetic-fg")  # validated on its own metric


@pytest.mark.slow
def test_probes_in_an_ablation_on_sd_mini(tmp_path):
    config = tmp_path / "study.toml"
    config.write_text(
        'backbone = ["sd-mini"]\nt = [200]\ndataset = ["synthetic"]\nprobe = ["linear"]\nworkers = 0\n'
        f'output_dir = "{tmp_path / "out"}"\ncache_dir = "{tmp_path / "cache"}"\n'
        "dataset_options = {num_classes = 6, num_unseen = 2}\ntrain = {epochs = 2}\n"
        'ablation = {name = "probe", vary = {probe = ["none", "linear"], probe_dim = [32]}}\n'
    )
    results = json.loads(_ok(run_bench("run", "--config", str(config), "--json")).stdout)
    rows = {(r["config"].get("probe", "none"), r["config"].get("probe_dim")): r for r in results}
    assert set(rows) == {("linear", 128), ("none", None), ("linear", 32)}  # the base, then one per axis
    assert [(tag["axis"], tag["base"]) for tag in rows[("linear", 128)]["ablation"]] == [("probe", True)]
    assert rows[("linear", 32)]["runtime"]["cache_misses"] == 0  # the test split extracted once
    board = tmp_path / "board.md"
    _ok(run_bench("leaderboard", str(tmp_path / "out"), "--output", str(board)))
    assert "probe_content `" in board.read_text(encoding="utf-8")


@pytest.mark.slow
def test_an_ensemble_of_a_trained_prompt_and_no_prompt_is_written(tmp_path):
    """Members with and without training settings: the ensemble records both, as it does other settings."""
    result = _ok(run_bench("run", "--backbone", "vit-tiny", "--dataset", "synthetic", "--prompt", "none",
                           "--prompt", "visual", "--ensemble", "concat", "--train-option", "epochs=1",
                           "--train-option", "steps_per_epoch=1", *SMALL, "--json", "--output-dir",
                           str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")))  # fmt: skip
    ensemble = json.loads(result.stdout)[-1]["config"]
    assert ensemble["prompt"] == "none, visual" and ensemble["train"].startswith("none, {")


def _probe_file(tmp_path):
    path = tmp_path / "vit.safetensors"
    _ok(run_bench("train", "--backbone", "vit-tiny", "--dataset", "synthetic", "--probe", "linear",
                  "--epochs", "1", *SMALL[:-2], "--output", str(path)))  # fmt: skip
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--backbone", "vit-tiny", "--layer", "block-1"],
            "reads 64-d descriptors of backbone 'vit-tiny', layer 'block-1' (gap)",
        ),  # fmt: skip
        (["--backbone", "clip-tiny"], "reads 32-d descriptors of backbone 'clip-tiny', layer 'embed'"),
    ],
)
def test_a_probe_for_another_backbone_layer_or_dim_is_one_clear_error(tmp_path, args, expected):
    path = _probe_file(tmp_path)
    stderr = _error(run_bench("run", "--probe", f"linear:{path}", "--dataset", "synthetic", *args,
                              "--output-dir", str(tmp_path / "out")))  # fmt: skip
    trained_for = "maps 64-d descriptors of backbone 'vit-tiny', layer 'embed' (gap)"
    assert f"Linear probe {str(path)!r} {trained_for}" in stderr
    assert expected in stderr and "Use it with --backbone vit-tiny --layer embed" in stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--probe", "linear", "--width", "4"], "--width applies only to a prompt's training, not to"),
        (["--probe-dim", "8"], "--probe-dim applies only to a probe's training (--probe linear)"),
        (["--probe", "linear", "--prompt", "visual"], "'visual' is a scheme still to be learned"),
    ],
)
def test_training_options_of_the_other_kind_are_refused(args, expected):
    stderr = _error(run_bench("train", "--backbone", "vit-tiny", "--dataset", "synthetic", *args))
    assert expected in stderr


def test_unknown_and_damaged_probes_are_one_message(tmp_path):
    from safetensors.numpy import save_file

    assert "Unknown probe 'lin'. Use --probe none, linear" in _error(run_bench("run", "--probe", "lin"))
    path = tmp_path / "bad.safetensors"
    header = {"format_version": 1, "backbone": "vit-tiny", "layer": "embed", "pool": "gap",
              "input_dim": 64, "output_dim": 64}  # fmt: skip
    save_file({"weight": np.zeros((64, 32), np.float32)}, str(path), {"sbir_bench.probe": json.dumps(header)})
    stderr = _error(run_bench("run", "--backbone", "vit-tiny", "--probe", f"linear:{path}"))
    assert f"{str(path)!r} is not a linear probe file: tensor 'weight' has shape [64, 32]" in stderr
