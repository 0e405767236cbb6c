"""Every experiment of Koley et al. (CVPR 2024) as a config (configs/koley2024/, docs/reproducing.md):
the paper-scale configs need --data-root and plan on fake trees in the released layouts, each
CPU-sized variant runs end to end, `bench run --dry-run` plans without running, and `bench plot pca`
reads a config."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import pytest

import bench
from bench.config.files import load_config
from bench.plan.study import plan_study
from tests.helpers.cli import REPO, run_bench
from tests.helpers.dataset_trees import qmul_tree, quickdraw_tree, sketchy_tree, tuberlin_tree

VIT = "timm:vit_base_patch16_224.orig_in21k_ft_in1k"
PAPER_SCALE = {  # config -> (the fake tree its --data-root gets, configurations it plans)
    "koley2024/table1-sketchy": ("sketchy", 10),
    "koley2024/table1-tuberlin": ("tuberlin", 10),
    "koley2024/table1-quickdraw": ("quickdraw", 10),
    "koley2024/table2-sketchy-fg": ("sketchy", 10),
    "koley2024/table2-shoev2": ("shoev2", 10),
    "koley2024/table2-chairv2": ("chairv2", 10),
    "koley2024/prompt-ablation": ("sketchy", 4),
    "koley2024/levels-timesteps": ("sketchy", 64),
    "koley2024/noise-draws": ("sketchy", 5),
    "koley2024/low-data": ("sketchy", 5),
}
SCALED = {  # paper-scale config -> its CPU-sized variant
    "koley2024/table1-sketchy": "koley2024/table1-synthetic",
    "koley2024/table1-tuberlin": "koley2024/table1-synthetic",
    "koley2024/table1-quickdraw": "koley2024/table1-synthetic",
    "koley2024/table2-sketchy-fg": "koley2024/table2-synthetic-fg",
    "koley2024/table2-shoev2": "koley2024/table2-synthetic-fg",
    "koley2024/table2-chairv2": "koley2024/table2-synthetic-fg",
    "koley2024/prompt-ablation": "koley2024/prompt-ablation-synthetic",
    "koley2024/levels-timesteps": "koley2024/levels-timesteps-synthetic",
    "koley2024/noise-draws": "koley2024/noise-draws-synthetic",
    "koley2024/low-data": "koley2024/low-data-synthetic",  # run by tests/test_low_data.py
    "koley2024/pca": "koley2024/pca-synthetic",  # a figure: `bench plot pca --config`
}
ELSEWHERE = {"koley2024/shape-bias"}  # one config at both scales, tested with the shape-bias task
NEEDS_ROOT = "reads files and no --data-root was given"


@pytest.fixture(scope="module")
def fake_roots(tmp_path_factory) -> dict[str, Path]:
    """A tiny tree of each released layout the paper-scale configs read."""
    base = tmp_path_factory.mktemp("releases")
    roots = {name: base / name for name in ("sketchy", "tuberlin", "quickdraw", "shoev2", "chairv2")}
    sketchy_tree(roots["sketchy"], "sketchy_yelamarthi_zs0_sketch_zero", "sketchy_yelamarthi_zs0_photo_zero")
    tuberlin_tree(roots["tuberlin"])
    quickdraw_tree(roots["quickdraw"])
    qmul_tree(roots["shoev2"], "ShoeV2", "a")
    qmul_tree(roots["chairv2"], "ChairV2", "b")
    return roots


# ----------------------------------------------------------------------------- the list of experiments


def test_every_config_of_the_paper_has_a_scaled_variant_and_a_row_in_the_docs():
    folder = REPO / "configs" / "koley2024"
    found = {f"koley2024/{path.stem}" for path in folder.glob("*.yaml")}
    listed = {*SCALED, *SCALED.values()}
    assert found - ELSEWHERE == listed
    docs = (REPO / "docs" / "reproducing.md").read_text(encoding="utf-8")
    named = set(re.findall(r"koley2024/[\w-]+", docs))
    assert sorted(listed | ELSEWHERE) == sorted(named)  # every config, and no other name
    assert "B-Fine-Tuning" in docs
    assert "(docs/reproducing.md)" in (REPO / "README.md").read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- paper scale


@pytest.mark.parametrize("name", sorted(PAPER_SCALE))
def test_a_paper_scale_config_without_its_dataset_says_to_pass_data_root(name):
    result = run_bench("run", "--config", name)
    assert result.returncode == 1 and NEEDS_ROOT in result.stderr and "Traceback" not in result.stderr


def test_the_pca_config_without_its_dataset_says_to_pass_data_root():
    result = run_bench("plot", "pca", "--config", "koley2024/pca")
    assert result.returncode == 1 and NEEDS_ROOT in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("name", sorted(PAPER_SCALE))
def test_a_paper_scale_config_plans_on_its_released_layout(name, fake_roots, tmp_path):
    """Every id, layer, timestep, prompt and probe of the config checked (random weights stand in for
    the real ones, which this machine does not hold), nothing run."""
    tree, count = PAPER_SCALE[name]
    out = tmp_path / "out"
    result = run_bench("run", "--config", name, "--data-root", str(fake_roots[tree]), "--weights", "random",
                       "--dry-run", "--output-dir", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"Dry run: {count} configuration(s) checked; nothing was run." in result.stdout
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "layer"), [("koley2024/table1-sketchy", "coarse"), ("koley2024/table2-shoev2", "fine")]
)
def test_the_tables_run_the_papers_method_and_baselines(name, layer, fake_roots):
    spec = load_config(name)
    tree, _ = PAPER_SCALE[name]
    spec = replace(spec, data_root={"*": str(fake_roots[tree])}, weights={"*": "random"})
    runs = plan_study(spec, bench.plugin_registry()).runs
    rows = {(run.backbone.id, run.layer.name, run.t, run.prompt, run.probe) for run in runs}
    sd = {
        ("sd21", layer, 273, prompt, probe)
        for prompt in ("visual+textual", "none")
        for probe in (None, "linear")
    }
    visual = {
        (backbone, "embed", None, "visual", None) for backbone in ("vgg16", "resnet50", VIT, "clip-vit-b16")
    }
    frozen = {(backbone, "embed", None, "none", None) for backbone in ("dinov2-vits14", "dino-vits8")}
    assert rows == sd | visual | frozen  # the method, B-Linear-Probing, B-Triplet+VP, CLIP, frozen features
    assert {run.noise_samples for run in runs if run.backbone.id == "sd21"} == {6}


# ----------------------------------------------------------------------------- bench run --dry-run


def test_dry_run_lists_the_configurations_and_writes_nothing(tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    result = run_bench("run", "--config", "koley2024/prompt-ablation-synthetic", "--dry-run",
                       "--output-dir", str(out), "--cache-dir", str(cache))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Planned configurations (dry run)" in result.stdout and "Study rows" in result.stdout
    for scheme in ("none", "visual", "textual", "visual+textual"):
        assert f"prompt={scheme}" in result.stdout
    assert "Dry run: 4 configuration(s) checked; nothing was run." in result.stdout
    assert "loading backbone" not in result.stderr and not out.exists() and not cache.exists()
    wrong = run_bench(
        "run", "--config", "koley2024/prompt-ablation-synthetic", "--dry-run", "--layer", "upp0"
    )
    assert wrong.returncode == 1 and "Unknown layer 'upp0'" in wrong.stderr


# ----------------------------------------------------------------------------- bench plot pca --config


@pytest.mark.parametrize(
    ("config", "args", "message"),
    [
        ("probe: [linear]\n", [], "sets probe, which a PCA figure does not use"),
        ("backbone: [sd-tiny, sd-mini]\nlayer: up1\ndataset: synthetic\n", [], "has 2 values of backbone"),
        ("layer: up1\n", [], "`bench plot pca` needs --backbone, --dataset."),
    ],
)
def test_pca_config_mistakes_are_clear_errors(tmp_path, config, args, message):
    path = tmp_path / "pca.yaml"
    path.write_text(config)
    result = run_bench("plot", "pca", "--config", str(path), "--output", str(tmp_path / "p.png"), *args)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "p.png").exists()


@pytest.mark.slow
def test_pca_command_line_overrides_its_config(fake_roots, tmp_path):
    """koley2024/pca on the fake Sketchy tree with sd-tiny in place of sd21: the config gives the
    dataset, layer and the three timesteps, the command line the rest."""
    result = run_bench("plot", "pca", "--config", "koley2024/pca", "--data-root", str(fake_roots["sketchy"]),
                       "--backbone", "sd-tiny", "--noise-samples", "1", "--pair", "1", "--dpi", "50",
                       "--output", str(tmp_path / "pca.png"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1 pair(s) x 3 timestep(s) of sd-tiny up1 on sketchy" in result.stdout
    assert (tmp_path / "pca.png").stat().st_size > 1000


# ----------------------------------------------------------------------------- the scaled variants


def _run(name: str, tmp_path: Path) -> tuple[list[dict], Path]:
    out = tmp_path / "results"
    cache = tmp_path / "cache"
    result = run_bench("run", "--config", name, "--output-dir", str(out), "--cache-dir", str(cache), "--json")
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout)
    assert results and all(math.isfinite(value) for r in results for value in r["metrics"].values())
    return results, out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "layer"), [("koley2024/table1-synthetic", "coarse"), ("koley2024/table2-synthetic-fg", "fine")]
)
def test_scaled_table_runs_every_row(name, layer, tmp_path):
    results, out = _run(name, tmp_path)
    rows = {(r["config"]["backbone"], r["config"]["layer"], r["config"]["prompt"], r["config"].get("probe"))
            for r in results}  # fmt: skip
    sd = {
        ("sd-mini", layer, prompt, probe)
        for prompt in ("visual+textual", "none")
        for probe in (None, "linear")
    }
    prompted = {
        (backbone, "embed", "visual", None)
        for backbone in ("vgg-tiny", "resnet-tiny", "vit-tiny", "clip-tiny")
    }
    assert rows == sd | prompted | {("dinov2-vits14-imgfocus", "embed", "none", None)}
    assert len(list((out / "prompts").glob("*.safetensors"))) == 5  # sd-mini's and the four visual ones
    assert len(list((out / "probes").glob("*.safetensors"))) == 2  # on the frozen and the prompted sd-mini


@pytest.mark.slow
def test_scaled_prompt_ablation_runs_its_four_schemes(tmp_path):
    results, out = _run("koley2024/prompt-ablation-synthetic", tmp_path)
    assert sorted(r["config"]["prompt"] for r in results) == ["none", "textual", "visual", "visual+textual"]
    assert len(list((out / "prompts").glob("*.safetensors"))) == 3


@pytest.mark.slow
def test_scaled_noise_draws_evaluate_one_prompt(tmp_path):
    results, out = _run("koley2024/noise-draws-synthetic", tmp_path)
    assert sorted(r["config"]["noise_samples"] for r in results) == [1, 2, 4]
    assert len({r["config"]["prompt_content"] for r in results}) == 1
    assert len(list((out / "prompts").glob("*.safetensors"))) == 1


@pytest.mark.slow
def test_scaled_levels_timesteps_run_and_plot(tmp_path):
    results, out = _run("koley2024/levels-timesteps-synthetic", tmp_path)
    assert len(results) == 24
    figure = tmp_path / "sweep.png"
    plotted = run_bench("plot", "sweep", str(out), "--output", str(figure), "--dpi", "50")
    assert plotted.returncode == 0, plotted.stderr
    assert "synthetic / sd-mini: mAP@all over 4 layer(s) x 3 timestep(s)" in plotted.stdout
    assert "synthetic-fg / sd-mini: Acc@1 over 4 layer(s) x 3 timestep(s)" in plotted.stdout


@pytest.mark.slow
def test_scaled_pca_figure_is_drawn_from_its_config(tmp_path):
    figure = tmp_path / "pca.png"
    result = run_bench("plot", "pca", "--config", "koley2024/pca-synthetic", "--pair", "2", "--dpi", "50",
                       "--output", str(figure))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2 pair(s) x 3 timestep(s) of sd-mini up1 on synthetic" in result.stdout
    assert figure.stat().st_size > 1000
