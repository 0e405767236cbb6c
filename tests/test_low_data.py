"""Training on part of the data (Koley et al.'s low-data regime, Figure 4): nested seeded subsets per
class, their counts in prompt files and results, the train_fraction ablation axis, `bench plot
lowdata`, and the koley2024 low-data configs."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict

import pytest

from bench import BenchError, ImageItem, open_dataset
from bench.config.files import load_config
from bench.config.run_config import SweepSpec
from bench.plan.ablation import ablation_variants
from bench.prompts.train_subset import training_subset
from bench.prompts.triplets import split_validation
from bench.results.schema import RunResult, write_result
from tests.helpers.cli import REPO, run_bench
from tests.helpers.retrieval import specs

FRACTIONS = (0.1, 0.3, 0.5, 0.7, 1.0)


def documented_kept_units():
    """The Python block of docs/protocol.md section 11 (the subset rule), executed as written."""
    text = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
    section = text[text.index("## 11. Training on part of the data") :]
    block = section[section.index("```python\n") + len("```python\n") :]
    namespace: dict = {}
    exec(block[: block.index("```")], namespace)
    return namespace["kept_units"]


def _category_items() -> list[ImageItem]:
    """'cat': 30 sketches and 30 photos; 'dog': 3 sketches and 1 photo."""
    counts = {("cat", "sketch"): 30, ("cat", "photo"): 30, ("dog", "sketch"): 3, ("dog", "photo"): 1}
    return [
        ImageItem(f"{modality}/{label}/{i:02d}", modality, label)
        for (label, modality), n in counts.items()
        for i in range(n)
    ]


def _per_group(items: list[ImageItem]) -> Counter:
    return Counter((item.label, item.modality) for item in items)


def _dataset(name: str, **options):
    return open_dataset(name, options=options)


# ----------------------------------------------------------------------------- the subset rule


def test_subsets_are_nested_round_up_exactly_and_keep_one_per_class_and_modality():
    items = _category_items()
    previous: set[str] = set()
    sizes = []
    for fraction in FRACTIONS:
        kept = training_subset(items, "same-class", seed=0, fraction=fraction)
        keys = {item.key for item in kept}
        assert previous <= keys, fraction  # the 10 % subset lies inside the 30 % subset, ...
        previous = keys
        sizes.append(_per_group(kept))
    # ceil(f * n) with f exact: 10 % of 30 is 3 (0.1 * 30 is 3.0000000000000004 in floating point)
    assert [s[("cat", "sketch")] for s in sizes] == [3, 9, 15, 21, 30]
    assert [s[("cat", "photo")] for s in sizes] == [3, 9, 15, 21, 30]
    assert [s[("dog", "sketch")] for s in sizes] == [1, 1, 2, 3, 3]
    assert [s[("dog", "photo")] for s in sizes] == [1] * 5
    two = training_subset(items, "same-class", seed=0, count=2)
    assert _per_group(two) == {
        ("cat", "sketch"): 2,
        ("cat", "photo"): 2,
        ("dog", "sketch"): 2,
        ("dog", "photo"): 1,
    }
    most = {item.key for item in training_subset(items, "same-class", seed=0, fraction=0.7)}
    assert {item.key for item in two} <= most  # counts and fractions share one ranking
    tenth = {item.key for item in training_subset(items, "same-class", seed=0, fraction=0.1)}
    other_seed = training_subset(items, "same-class", seed=1, fraction=0.1)
    assert {item.key for item in other_seed} != tenth and _per_group(other_seed) == sizes[0]


def test_fine_grained_subsets_keep_each_sketch_with_its_paired_photo():
    items = _dataset("synthetic-fg", num_classes=6, num_unseen=2, train_photos_per_class=7,
                     sketches_per_photo=2).split("train")  # fmt: skip
    kept = training_subset(items, "paired", seed=3, fraction=0.3)
    instances = defaultdict(set)
    for item in kept:
        instances[item.label].add(item.instance)
    assert len(instances) == 4 and all(len(chosen) == 3 for chosen in instances.values())  # ceil(0.3 * 7)
    chosen = {item.instance for item in kept}
    assert [item for item in items if item.instance in chosen] == kept  # whole instances, in split order
    assert Counter(item.modality for item in kept) == {"photo": 12, "sketch": 24}


@pytest.mark.parametrize(("name", "task"), [("synthetic", "same-class"), ("synthetic-fg", "paired")])
def test_the_documented_rule_reproduces_the_subsets(name, task):
    kept_units = documented_kept_units()
    items = _dataset(name, num_classes=6, num_unseen=2, train_photos_per_class=9).split("train")
    groups = defaultdict(set)
    for item in items:
        if task == "same-class":
            groups[(item.label, item.modality)].add(item.key)
        else:
            groups[item.label].add(item.instance or item.key)
    for seed, fraction, count in [(0, 0.1, None), (0, 0.5, None), (7, 0.7, None), (7, 1.0, 4)]:
        documented = {
            unit for units in groups.values() for unit in kept_units(sorted(units), seed, fraction, count)
        }
        kept = training_subset(items, task, seed, fraction, count)
        units = {item.key if task == "same-class" else item.instance for item in kept}
        assert units == documented, (seed, fraction, count)


# ----------------------------------------------------------------------------- bench train


@pytest.mark.slow
def test_bench_train_records_the_subset_and_keeps_the_validation_set(tmp_path):
    options = {"num_classes": 8, "num_unseen": 2, "train_photos_per_class": 6}
    option_args = [arg for key, value in options.items() for arg in ("--dataset-option", f"{key}={value}")]
    trained = run_bench("train", "--backbone", "sd-tiny", "--dataset", "synthetic", "--t", "200",
                        "--image-size", "64", "--width", "8", "--epochs", "1", "--steps-per-epoch", "1",
                        "--batch-size", "2", "--val-split", "0.34", "--train-fraction", "0.25",
                        "--output", str(tmp_path / "p.safetensors"), *option_args)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    # 6 seen classes, 2 held out; 6 photos and 6 sketches per class, ceil(0.25 * 6) = 2 kept
    assert "trained on 8 of 24 sketches, 8 of 24 photos in 4 classes; " in trained.stdout
    assert "validation: 12 sketches, 12 photos in 2 classes" in trained.stdout

    from bench.prompts.files import read_header

    header = read_header(tmp_path / "p.safetensors")
    assert header["training"]["train_fraction"] == 0.25 and header["training"]["train_count"] is None
    record = header["training_data"]
    training = _dataset("synthetic", **options).split("train")
    whole, validation = split_validation(training, "same-class", 0.34, 0)
    assert record["validation"] == {"classes": 2, "sketches": 12, "photos": 12, "instances": None}
    assert {item.label for item in validation} and len(validation) == 24  # the hold-out of the whole data
    assert record["available"]["sketches"] == len([i for i in whole if i.modality == "sketch"]) == 24
    assert record["kept"] == {"classes": 4, "sketches": 8, "photos": 8, "instances": None}


# ----------------------------------------------------------------------------- ablation axis


def test_a_train_fraction_study_trains_one_prompt_per_fraction_and_runs_the_base_once():
    study = {"name": "low data", "vary": {"train_fraction": [0.25, 1.0, 0.5]}}
    base = SweepSpec(backbone=("sd-tiny",), dataset=("synthetic",), prompt=("visual",), train={"epochs": 1},
                     ablation=study)  # fmt: skip
    described = [
        (v.train, [(tag["value"], tag["base"]) for tag in tags]) for v, tags in ablation_variants(base)
    ]
    assert described == [
        ({"epochs": 1}, [(1.0, True)]),  # the base: the whole data, its train table as written
        ({"epochs": 1, "train_fraction": 0.25}, [(0.25, False)]),
        ({"epochs": 1, "train_fraction": 0.5}, [(0.5, False)]),
    ]
    counts = {**study, "vary": {"train_count": [2, 5]}}
    variants = ablation_variants(SweepSpec(ablation=counts))  # no base row: it trains on no count
    assert [variant.train.get("train_count") for variant, _ in variants] == [2, 5]
    with pytest.raises(BenchError, match=r"The ablation's train_fraction value 1\.5: train_fraction = 1\.5"):
        ablation_variants(SweepSpec(ablation={"name": "s", "vary": {"train_fraction": [1.5]}}))


def test_the_paper_scale_config_varies_the_papers_fractions():
    spec = load_config("koley2024/low-data")
    assert (spec.backbone, spec.dataset, spec.prompt) == (("sd21",), ("sketchy",), ("visual+textual",))
    fractions = [tags[0]["value"] for _, tags in ablation_variants(spec)]
    assert sorted(fractions) == list(FRACTIONS)
    needs_root = run_bench("run", "--config", "koley2024/low-data")
    assert needs_root.returncode == 1 and "--data-root" in needs_root.stderr


# ----------------------------------------------------------------------------- bench plot lowdata


def _result(backbone: str, fraction: float, value: float, **train: object) -> RunResult:
    """A results record of a visual prompt trained on ``fraction`` of the data (mAP@all = value)."""
    return RunResult(
        task="zs-sbir",
        config={"backbone": backbone, "layer": "up0", "t": 200, "prompt": "visual", "dataset": "synthetic",
                "train": {"epochs": 1, "train_fraction": fraction, "train_count": None, **train},
                "prompt_content": f"{backbone}-{fraction}"},  # fmt: skip
        dataset={"id": "synthetic", "columns": ["mAP@all", "P@10"],
                 "training_data": {"kept": {"classes": 8, "sketches": int(16 * fraction), "photos": 4,
                                            "instances": None}}},  # fmt: skip
        metrics={"mAP@all": value, "P@10": value / 2},
        chance={"metrics": {"mAP@all": 0.25, "P@10": 0.25}, "methods": {"mAP@all": "exact", "P@10": "exact"}},
        intervals={"level": 0.95, "method": "percentile bootstrap", "unit": "query", "resamples": 1000,
                   "seed": 0, "bounds": {"mAP@all": [value - 0.05, value + 0.05], "P@10": [0.1, 0.2]}},
    )  # fmt: skip


STUDY = [
    _result("sd-mini", 0.25, 0.30),
    _result("sd-mini", 0.5, 0.35),
    _result("sd-mini", 1.0, 0.40),
    _result("dinov2-vits14-imgfocus", 0.25, 0.33),
    _result("dinov2-vits14-imgfocus", 1.0, 0.36),
]


def test_lowdata_panels_draw_one_curve_per_configuration(tmp_path):
    from bench_plots.lowdata_data import curve_summary, load_lowdata
    from bench_plots.lowdata_figure import render_lowdata

    folder = tmp_path / "results"
    for result in STUDY:
        write_result(folder, result, specs())
    (panel,) = load_lowdata([folder])
    assert (panel.metric, panel.axis, panel.chance, panel.xs) == (
        "mAP@all",
        "train_fraction",
        0.25,
        (0.25, 0.5, 1.0),
    )
    curves = {curve.label: curve for curve in panel.curves}
    assert set(curves) == {"sd-mini visual prompt", "dinov2-vits14-imgfocus visual prompt"}
    sd = curves["sd-mini visual prompt"]
    assert sd.values == {0.25: 0.30, 0.5: 0.35, 1.0: 0.40} and sd.bounds[0.5] == pytest.approx((0.30, 0.40))
    assert curve_summary(panel, sd).startswith(
        "sd-mini visual prompt: 25% 0.300 [0.250, 0.350] (trained on 0.5 sketches per class); 50% 0.350"
    )
    (p10,) = load_lowdata([folder], metric="P@10")
    assert p10.metric == "P@10"
    output = render_lowdata([panel], tmp_path / "figure.png", dpi=60)
    assert output.stat().st_size > 5000


def test_lowdata_labels_name_the_training_settings_that_differ(tmp_path):
    from bench_plots.lowdata_data import load_lowdata

    folder = tmp_path / "results"
    for result in [_result("sd-mini", 0.5, 0.3), _result("sd-mini", 0.5, 0.4, epochs=3)]:
        write_result(folder, result, specs())
    (panel,) = load_lowdata([folder])
    assert sorted(curve.label for curve in panel.curves) == [
        "sd-mini visual prompt, train.epochs 1",
        "sd-mini visual prompt, train.epochs 3",
    ]


def test_bench_plot_lowdata_command_and_its_errors(tmp_path):
    folder = tmp_path / "results"
    for result in STUDY:
        write_result(folder, result, specs())
    drawn = run_bench("plot", "lowdata", str(folder), "--output", str(tmp_path / "f.png"), "--dpi", "60")
    assert drawn.returncode == 0, drawn.stderr
    assert "synthetic: mAP@all (chance 0.25)" in drawn.stdout
    assert "dinov2-vits14-imgfocus visual prompt: 25% 0.330 [0.280, 0.380]" in drawn.stdout
    assert (tmp_path / "f.png").stat().st_size > 5000

    untrained = tmp_path / "untrained"
    plain = _result("sd-mini", 1.0, 0.2)
    plain.config = {
        key: value for key, value in plain.config.items() if key not in ("train", "prompt_content")
    }
    write_result(untrained, plain, specs())
    copy = tmp_path / "copy.json"
    copy.write_text((next(folder.rglob("*.json"))).read_text())
    for args, message in [
        ([str(untrained)], "None of the 1 results there is of a trained prompt"),
        ([str(tmp_path / "none")], "does not exist"),
        ([str(folder), "--metric", "mAP@al"], "Did you mean 'mAP@all'?"),
        ([str(folder), "--dataset", "sketchy"], "No results of dataset 'sketchy'"),
        ([str(folder), str(copy)], "Two results files hold"),
        ([str(folder), "--output", str(tmp_path / "f.gif")], "Cannot tell the figure format"),
    ]:
        failed = run_bench("plot", "lowdata", *args)
        assert failed.returncode == 1 and message in failed.stderr, (args, failed.stderr)
        assert "Traceback" not in failed.stderr


# ----------------------------------------------------------------------------- the scaled study


@pytest.mark.slow
def test_scaled_low_data_study_runs_from_its_config_and_plots(tmp_path):
    """sd-mini with a visual prompt on 25, 50 and 100 % of synthetic's training items: three trained
    prompts, three results with nested counts, one study table and the figure."""
    out = tmp_path / "results"
    ran = run_bench("run", "--config", "koley2024/low-data-synthetic", "--output-dir", str(out),
                    "--cache-dir", str(tmp_path / "cache"), "--json")  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    fraction = lambda r: r["config"]["train"].get("train_fraction", 1.0)  # noqa: E731 (100 %: left out)
    results = sorted(json.loads(ran.stdout), key=fraction)
    assert [fraction(r) for r in results] == [0.25, 0.5, 1.0]
    assert "train_fraction" not in results[-1]["config"]["train"]  # earlier runs keep their names
    kept = [r["dataset"]["training_data"]["kept"] for r in results]
    assert [k["sketches"] for k in kept] == [16, 32, 64] and {k["classes"] for k in kept} == {
        8
    }  # 8 per class
    assert {json.dumps(r["dataset"]["training_data"]["available"]) for r in results} == {
        json.dumps({"classes": 8, "instances": None, "photos": 64, "sketches": 64})
    }
    assert len(list((out / "prompts").glob("*.safetensors"))) == 3
    assert all(math.isfinite(r["metrics"]["mAP@all"]) for r in results)

    figure = tmp_path / "low-data.png"
    plotted = run_bench("plot", "lowdata", str(out), "--output", str(figure), "--dpi", "60")
    assert plotted.returncode == 0, plotted.stderr
    assert "sd-mini visual prompt: 25% " in plotted.stdout and figure.stat().st_size > 5000
    board = tmp_path / "board.md"
    assert run_bench("leaderboard", str(out), "--output", str(board)).returncode == 0
    assert "| training data (fraction per class) | 1.0 (base) |" in board.read_text()


def test_the_run_table_shows_the_training_data_where_runs_differ_in_it():
    from rich.console import Console

    from bench.cli.display import results_tables

    console = Console(width=250, record=True)
    for table in results_tables(STUDY[:2], specs()):
        console.print(table)
    text = console.export_text()
    assert "Training data" in text and "│ 25%  " in text and "│ 50%  " in text
    console = Console(width=250, record=True)
    for table in results_tables(STUDY[:1], specs()):
        console.print(table)
    assert "Training data" not in console.export_text()  # one amount of data: no column


def test_training_on_all_the_data_keeps_the_names_runs_and_prompts_had_before():
    """train_fraction 1.0 and no train_count (what training did before they existed) are left out of
    a trained prompt's file name, so prompts and results named earlier are found again."""
    import hashlib
    from dataclasses import asdict
    from pathlib import Path

    from bench.config.training import TrainSpec
    from bench.plan.identity import trained_prompt_path

    spec = TrainSpec(backbone="sd-mini", dataset="synthetic", scheme="visual", layer="up0", t=200)
    before = {k: v for k, v in asdict(spec).items() if k not in ("train_fraction", "train_count")}
    digest = hashlib.sha256(json.dumps(before, sort_keys=True, default=str).encode()).hexdigest()[:12]
    assert trained_prompt_path(Path("out"), spec).name == f"sd-mini_up0_t200_visual-{digest}.safetensors"
    part = TrainSpec(**{**asdict(spec), "train_fraction": 0.5})
    assert trained_prompt_path(Path("out"), part).name != trained_prompt_path(Path("out"), spec).name
