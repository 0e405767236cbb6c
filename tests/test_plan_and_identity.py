"""One validation stage before any model loads, and one run identity for results, cache and prompts."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

import bench
from bench.config.run_config import SweepSpec
from bench.plan.identity import cache_fields, group_key, results_config
from bench.plan.study import plan_study
from bench.results.naming import run_name
from tests.helpers.cli import run_bench

OPTIONS = ("num_classes=6", "num_unseen=3", "photos_per_class=2", "train_photos_per_class=1")
SMALL = [part for option in OPTIONS for part in ("--dataset-option", option)]


def result_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.json")) if directory.exists() else []


def test_a_study_whose_last_variant_is_wrong_is_refused_before_anything_runs(tmp_path):
    """The issue's reproduction: varying the backbone to one that cannot take --query-text."""
    config = tmp_path / "study.yaml"
    config.write_text(
        "backbone: sd-tiny\nt: 200\ndataset: synthetic-fg\nquery_text: caption\n"
        "ablation: {name: s, vary: {backbone: [sd-tiny, vit-tiny]}}\n"
    )
    started = time.monotonic()
    result = run_bench(
        "run", "--config", str(config), "--output-dir", str(tmp_path / "out"),
        "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "backbone 'vit-tiny' do not depend on text" in result.stderr
    assert elapsed < 5, f"refused after {elapsed:.1f} s"
    assert "loading backbone" not in result.stderr and "extracting" not in result.stderr
    assert result_files(tmp_path / "out") == [] and not (tmp_path / "cache").exists()


def test_every_variant_is_planned_and_its_datasets_opened_first(registry):
    spec = SweepSpec(
        backbone=("vit-tiny",), dataset=("synthetic",),
        dataset_options={"num_classes": 6, "num_unseen": 3},
        ablation={"name": "s", "vary": {"image_size": [112], "dataset": ["synthetic", "synthetic-fg"]}},
    )  # fmt: skip
    plan = plan_study(spec, registry)
    assert [len(sweep.runs) for sweep in plan.sweeps] == [1, 1, 1]
    assert len(plan.datasets) == 2  # opened once each, shared by the variants


@pytest.mark.slow
def test_noise_draws_on_an_image_encoder_leave_one_results_file(tmp_path):
    out = tmp_path / "out"
    base = ["run", "--backbone", "vit-tiny", "--dataset", "synthetic", *SMALL, "--output-dir", str(out)]
    first = run_bench(*base, "--noise-samples", "1", "--json")
    second = run_bench(*base, "--noise-samples", "2", "--json")
    assert first.returncode == second.returncode == 0, second.stderr
    assert "--noise-samples 2 does not apply to vit-tiny (no noise draws): ignored." in second.stderr
    assert len(result_files(out)) == 1
    config = json.loads(second.stdout)[0]["config"]
    assert "noise_samples" not in config and "seed" not in config and config["t"] is None
    swept = run_bench(*base, "--t", "100", "--t", "200", "--json")
    assert "--t 100, 200 does not apply to vit-tiny" in swept.stderr
    assert len(json.loads(swept.stdout)) == 1 and len(result_files(out)) == 1


def test_the_cache_precision_is_part_of_the_identity(tmp_path):
    out = tmp_path / "out"
    base = ["run", "--backbone", "vit-tiny", "--dataset", "synthetic", *SMALL, "--output-dir", str(out)]
    for precision in ("fp16", "fp32"):
        assert run_bench(*base, "--cache-dtype", precision).returncode == 0
    files = result_files(out)
    assert len(files) == 2
    assert {json.loads(f.read_text())["config"]["cache_dtype"] for f in files} == {"fp16", "fp32"}


def test_one_identity_names_the_results_keys_the_cache_and_groups_the_runs(registry):
    spec = SweepSpec(backbone=("sd-tiny", "vit-tiny"), dataset=("synthetic",), t=(100, 200), noise_samples=2)
    runs = plan_study(spec, registry).runs
    sd = [run for run in runs if run.backbone.id == "sd-tiny"]
    vit = [run for run in runs if run.backbone.id == "vit-tiny"]
    assert len(sd) == 2 and len(vit) == 1
    assert group_key(sd[0]) == group_key(sd[1])  # both timesteps from one extraction
    assert results_config(sd[0])["noise_samples"] == 2 and results_config(sd[0])["seed"] == 0
    assert run_name(results_config(sd[0])) != run_name(results_config(sd[1]))
    fields = cache_fields(vit[0], code="c", prompt_content="p")
    assert fields["noise_samples"] is None and fields["seed"] is None


def test_repeated_values_plan_one_configuration(registry):
    spec = SweepSpec(backbone=("sd-tiny",), dataset=("synthetic",), t=(50, 50), layer=("up1", "up1"))
    assert len(plan_study(spec, registry).runs) == 1


def test_the_plan_carries_one_set_of_execution_settings_down_to_extraction(registry):
    """Device, precisions, workers, strictness, seed and batch size travel as one object from the plan
    to the extraction request; the seed a run's identity records is the one its noise is drawn with."""
    from bench.execution.runner import group_request
    from bench.plan.settings import ExecutionSettings

    spec = SweepSpec(
        backbone=("sd-tiny", "vit-tiny"), dataset=("synthetic",), t=(200,), seed=7, workers=0,
        strict=True, batch_size=3, device="cpu", dtype="bf16", cache_dtype="fp32",
    )  # fmt: skip
    plan = plan_study(spec, registry)
    expected = ExecutionSettings(device="cpu", dtype="bf16", cache_dtype="fp32", workers=0, strict=True,
                                 seed=7, batch_size=3)  # fmt: skip
    assert plan.settings == expected and all(run.settings is plan.runs[0].settings for run in plan.runs)
    diffusion, encoder = plan.runs
    assert (diffusion.seed, encoder.seed) == (7, None)  # nothing random in an image encoder's numbers
    assert results_config(diffusion)["seed"] == 7 and "seed" not in results_config(encoder)
    request, fields = group_request([diffusion], diffusion.prompt_condition(registry))
    assert request.settings == expected and fields["seed"] == request.settings.seed
    assert (diffusion.dtype, diffusion.cache_dtype) == ("bf16", "fp32")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"device": "cpu", "dtype": "fp16"}, "fp16 is not supported on the CPU"),
        ({"t": (1000,)}, "--t 1000 is outside the schedule of backbone 'sd-tiny'"),
    ],
)
def test_settings_are_checked_at_plan_time(registry, settings, message):
    spec = SweepSpec(backbone=("sd-tiny",), dataset=("synthetic",), **{"t": (200,), **settings})
    with pytest.raises(bench.BenchError, match=message):
        plan_study(spec, registry)


@pytest.mark.parametrize(
    ("backbone", "hint"),
    [
        ("sd-tiny", "Use a timestep in 0..999 (Koley et al. use 273)."),
        ("sd3-tiny", "Use a timestep in 0..999."),
    ],
)
def test_a_timestep_outside_the_schedule_suggests_koleys_only_for_a_ddpm_backbone(registry, backbone, hint):
    """Koley et al.'s t = 273 is a step of the SD UNets' DDPM schedule; a flow model gets no such hint."""
    spec = SweepSpec(backbone=(backbone,), dataset=("synthetic",), t=(1000,))
    with pytest.raises(bench.BenchError) as caught:
        plan_study(spec, registry)
    assert caught.value.message == f"--t 1000 is outside the schedule of backbone '{backbone}' (0..999)."
    assert caught.value.hint == hint


def test_a_learned_prompts_results_name_says_its_file_not_its_folders():
    """Prompts of three schemes in one folder were ``learned-leaderboard-results-prompt-files``
    each, told apart by the hash only; the name now carries the file's stem."""
    from bench.results.naming import run_name

    base = {"backbone": "sd-mini", "layer": "coarse", "t": 50, "noise_samples": 2, "seed": 0, "dtype": "fp32"}
    names = {
        scheme: run_name(
            {**base, "prompt": f"learned:leaderboard/results/prompt-files/c-t50_{scheme}_s0.safetensors"}
        )
        for scheme in ("visual", "textual", "visual-textual")
    }
    assert names["visual"].startswith("sd-mini_coarse_t50_learned-c-t50-visual-s0_n2_s0_fp32-")
    assert names["visual-textual"].startswith("sd-mini_coarse_t50_learned-c-t50-visual-textual-s0_n2_")
    assert run_name({**base, "prompt": "none"}).startswith("sd-mini_coarse_t50_none_n2_s0_fp32-")


SAFE_NAME = r"[A-Za-z0-9._+-]+"


def test_names_of_results_and_trained_prompts_are_safe_characters_only():
    """An ensemble's joined settings (``n2, none``) and backbones named by a family and a path
    (``hf:/...``, ``dit:sd3-tiny/ditf``) gave names with commas, spaces, colons and folders."""
    import re

    from bench.config.training import TrainSpec
    from bench.plan.identity import trained_prompt_path
    from bench.results.schema import config_path

    ensemble = {
        "backbone": "ensemble(concat): sd-mini, vit-tiny",
        "layer": "up0, block-1",
        "t": "200, none",
        "prompt": "none",
        "dataset": "synthetic",
        "noise_samples": "2, none",
        "seed": "0, none",
        "dtype": "fp32",
    }
    local = {**ensemble, "backbone": "hf:/home/me/models/dinov3-vits16", "noise_samples": 1, "seed": 0}
    for config in (ensemble, local):
        path = config_path(Path("out"), config)
        assert path.parent == Path("out/synthetic") and re.fullmatch(SAFE_NAME, path.name), path
    assert config_path(Path("out"), local).name.startswith("hf-dinov3-vits16_up0-block-1_")
    for backbone in ("dit:sd3-tiny/ditf", "hf:/home/me/models/dinov3-vits16", "hf:facebook/dinov3-vits16"):
        train = TrainSpec(backbone=backbone, dataset="synthetic", scheme="textual", layer="up0+up1", t=50)
        path = trained_prompt_path(Path("out"), train)
        assert path.parent == Path("out/prompts") and re.fullmatch(SAFE_NAME, path.name), path
    same = TrainSpec(backbone="sd-mini", dataset="synthetic", scheme="visual+textual", layer="coarse", t=50)
    assert trained_prompt_path(Path("out"), same).name.startswith("sd-mini_coarse_t50_visual-textual-")


# ----------------------------------------------------------------------------- per-backbone values


def _planned(registry, **settings) -> tuple[set[tuple[str, str, str]], list[str]]:
    """(backbone, layer, prompt) of every planned configuration, and the plan's notes."""
    spec = SweepSpec(backbone=("sd-tiny", "vit-tiny"), dataset=("synthetic",), t=(200,), **settings)
    plan = plan_study(spec, registry)
    return {(run.backbone.id, run.layer.name, run.prompt) for run in plan.runs}, plan.notes


def test_a_sweep_takes_values_of_one_backbone_beside_plain_ones(registry):
    """``--layer up0`` over SD and a ViT failed (up0 is no ViT tap): a sweep had to be a strict product."""
    runs, notes = _planned(registry, layer=("sd-tiny=up0",))
    assert runs == {("sd-tiny", "up0", "none"), ("vit-tiny", "embed", "none")} and notes == []
    runs, notes = _planned(registry, layer=("sd-tiny=up0", "sd-tiny=up1", "block0"))
    assert runs == {("sd-tiny", "up0", "none"), ("sd-tiny", "up1", "none"), ("vit-tiny", "block0", "none")}
    runs, notes = _planned(registry, layer=("up0", "up1"))  # plain values: left out where they do not apply
    assert runs == {("sd-tiny", "up0", "none"), ("sd-tiny", "up1", "none"), ("vit-tiny", "embed", "none")}
    assert notes[0].startswith(
        "--layer up0 does not apply to vit-tiny (not run with it): Unknown layer 'up0'"
    )
    assert notes[-1].startswith("vit-tiny runs with --layer embed (its default)")
    runs, notes = _planned(registry, prompt=("none", "text:a photo of a"))
    assert {prompt for backbone, _, prompt in runs if backbone == "vit-tiny"} == {"none"}
    assert {prompt for backbone, _, prompt in runs if backbone == "sd-tiny"} == {"none", "text:a photo of a"}
    assert notes == [
        "--prompt text:a photo of a does not apply to vit-tiny (not run with it): Prompt 'text:a photo of a' "
        "conditions features on text, and the image features of backbone 'vit-tiny' do not depend on text."
    ]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"layer": ("upp0",)}, "Unknown layer 'upp0' for backbone 'sd-tiny'. Did you mean 'up0'?"),
        ({"layer": ("vit-tiny=up0",)}, "Unknown layer 'up0' for backbone 'vit-tiny'"),
        (
            {"layer": ("vit=block0",)},
            "--layer 'vit=block0' is for backbone 'vit', which this sweep does not run",
        ),
        ({"prompt": ("vit-tiny=text:a",)}, "Prompt 'text:a' conditions features on text"),
    ],
)
def test_values_that_apply_to_no_backbone_or_not_to_their_own_are_errors(registry, settings, message):
    with pytest.raises(bench.BenchError, match=re.escape(message)):
        _planned(registry, **settings)


def test_a_probe_of_one_backbone_beside_plain_ones(registry):
    """Koley et al.'s B-Linear-Probing row probes SD alone in a sweep of baselines; ``--probe`` was a
    plain product axis (``sd-tiny=linear`` was an unknown probe)."""

    def probes(*values: str) -> list[tuple[str, str | None]]:
        spec = SweepSpec(backbone=("sd-tiny", "vit-tiny"), dataset=("synthetic",), t=(200,), probe=values)
        return sorted((run.backbone.id, run.probe or "none") for run in plan_study(spec, registry).runs)

    assert probes("none", "sd-tiny=none", "sd-tiny=linear") == [
        ("sd-tiny", "linear"),
        ("sd-tiny", "none"),
        ("vit-tiny", "none"),
    ]
    assert probes("sd-tiny=linear") == [("sd-tiny", "linear"), ("vit-tiny", "none")]  # the others: none
    with pytest.raises(bench.BenchError, match=re.escape("Unknown probe 'lineer'")):
        probes("none", "sd-tiny=lineer")
    with pytest.raises(bench.BenchError, match="--probe 'vgg16=linear' is for backbone 'vgg16', which this"):
        probes("vgg16=linear")


def test_a_config_file_takes_values_of_one_backbone(tmp_path, registry):
    from bench.config.files import load_config

    config = tmp_path / "mixed.yaml"
    config.write_text(
        "backbone: [sd-tiny, vit-tiny]\nlayer: [sd-tiny=up0+up1, block0]\nt: 200\ndataset: synthetic\n"
    )
    runs = plan_study(load_config(str(config)), registry).runs
    assert {(run.backbone.id, run.layer.name) for run in runs} == {
        ("sd-tiny", "up0+up1"),
        ("vit-tiny", "block0"),
    }


@pytest.mark.slow
def test_the_issues_sweep_of_sd_mini_and_dinov2_runs(tmp_path):
    result = run_bench(
        "run", "--backbone", "sd-mini", "--backbone", "dinov2-vits14-imgfocus", "--layer", "sd-mini=up0",
        "--t", "200", "--dataset", "synthetic", *SMALL, "--json",
        "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    configs = [(run["config"]["backbone"], run["config"]["layer"]) for run in json.loads(result.stdout)]
    assert configs == [("sd-mini", "up0"), ("dinov2-vits14-imgfocus", "embed")]


def test_a_plan_a_run_and_an_extraction_have_no_default_execution_settings():
    """A default ``ExecutionSettings()`` would quietly run with seed 0 and batch size 16 where a
    caller forgot to pass the run's own (seed and batch size were required before they moved there)."""
    from dataclasses import MISSING, fields

    from bench.extraction.loop import ExtractionRequest
    from bench.plan.runs import PlannedRun
    from bench.plan.study import StudyPlan

    for kind in (ExtractionRequest, PlannedRun, StudyPlan):
        settings = next(field for field in fields(kind) if field.name == "settings")
        assert (settings.default, settings.default_factory) == (MISSING, MISSING), kind.__name__
