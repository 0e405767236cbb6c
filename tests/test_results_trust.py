"""Results that cannot mislead: chance levels, bootstrap intervals, ties, per-class metrics, the
per-query log, --limit, --skip-existing, kept timings, benchmark-definition sections, the pivot and
the exports (issue 14)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from bench.api.evaluation import Rankings
from bench.evaluation.chance import ComputedChanceLevels, chance_levels
from bench.evaluation.log_rescoring import rescore
from bench.evaluation.samples import read_samples
from bench.evaluation.uncertainty import bootstrap_intervals
from bench.results.leaderboard import (
    leaderboard_json,
    leaderboard_latex,
    load_leaderboard,
    render_leaderboard,
)
from bench.results.schema import RunResult, read_result, write_result
from tests.helpers.cli import run_bench
from tests.helpers.retrieval import category_metrics as evaluate_category
from tests.helpers.retrieval import category_names, metric_set, specs

# ----------------------------------------------------------------------------- chance levels


def category_chance(num_relevant: list[int], gallery: int, map_k, prec_k) -> ComputedChanceLevels:
    """The chance levels of the category metrics for queries with these R in one gallery."""
    metrics = metric_set(category_names(map_k, prec_k))
    return chance_levels(metrics, "same-class", num_relevant, [gallery] * len(num_relevant))


def fine_grained_chance(num_candidates: list[int], ks) -> ComputedChanceLevels:
    """The chance levels of Acc@K for paired queries with these numbers of candidates."""
    metrics = metric_set([f"Acc@{k}" for k in ks])
    return chance_levels(metrics, "paired", [1] * len(num_candidates), num_candidates)


def exhaustive_chance(relevant: int, gallery: int, map_k=(3,), prec_k=(2, 10)) -> dict[str, float]:
    """Each metric's exact expectation: the mean over every placement of the relevant items."""
    placements = np.stack([np.array(ranks) + 1 for ranks in itertools.combinations(range(gallery), relevant)])
    count = len(placements)
    rankings = Rankings(placements, np.full(count, relevant), np.full(count, gallery))
    metrics = metric_set(category_names(map_k, prec_k))
    return {name: float(v.mean()) for name, v in zip(metrics.names, metrics.values(rankings), strict=True)}


@pytest.mark.parametrize(("relevant", "gallery"), [(1, 1), (1, 5), (2, 6), (3, 9), (9, 9)])
def test_chance_closed_forms_equal_the_exhaustive_expectation(relevant: int, gallery: int) -> None:
    chance = category_chance([relevant] * 4, gallery, map_k=(3,), prec_k=(2, 10))
    truth = exhaustive_chance(relevant, gallery)
    for name, method in chance.methods.items():
        if method == "exact":
            assert chance.metrics[name] == pytest.approx(truth[name], abs=1e-12), name
        else:  # 20 000 seeded rankings: a standard error far below 0.01
            assert chance.metrics[name] == pytest.approx(truth[name], abs=0.01), name
    assert chance.methods["P@2"] == chance.methods["mAP@all[plain]"] == "exact"
    assert chance.methods["mAP@all"] == "simulated" and chance.rankings == 20000 and chance.seed == 0


@pytest.mark.slow
def test_chance_matches_random_features_and_is_deterministic() -> None:
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(4), [3, 5, 8, 4])  # unequal classes: the mean over queries' R
    observed = np.mean(
        [
            evaluate_category(
                rng.standard_normal((20, 8)),
                labels,
                rng.standard_normal((20, 8)),
                labels,
                map_k=(5,),
                prec_k=(5,),
            )["P@5"]
            for _ in range(400)
        ]
    )
    chance = category_chance([3] * 3 + [5] * 5 + [8] * 8 + [4] * 4, 20, map_k=(5,), prec_k=(5,))
    assert observed == pytest.approx(chance.metrics["P@5"], abs=0.01)
    assert chance == category_chance([3] * 3 + [5] * 5 + [8] * 8 + [4] * 4, 20, map_k=(5,), prec_k=(5,))
    fine = fine_grained_chance([4, 4, 10], (1, 5))
    assert fine.metrics == pytest.approx(
        {"Acc@1": 100 * (0.25 + 0.25 + 0.1) / 3, "Acc@5": 100 * (1 + 1 + 0.5) / 3}
    )


# ----------------------------------------------------------------------------- intervals


def test_bootstrap_is_seeded_brackets_the_mean_and_resamples_classes() -> None:
    rng = np.random.default_rng(0)
    values = {"mAP@all": rng.random(200), "Acc@1": 100.0 * (rng.random(200) < 0.3)}
    first = bootstrap_intervals(values)
    assert first == bootstrap_intervals(values) and first.unit == "query" and first.resamples == 1000
    for name, (low, high) in first.bounds.items():
        assert low < values[name].mean() < high
    width = first.bounds["mAP@all"][1] - first.bounds["mAP@all"][0]
    assert width == pytest.approx(2 * 1.96 * values["mAP@all"].std() / math.sqrt(200), rel=0.15)
    # 10 classes whose queries share a class effect: resampling classes gives the wider interval
    units = np.repeat(np.arange(10), 20)
    clustered = {"x": np.repeat(rng.random(10), 20) + 0.01 * rng.random(200)}
    by_query, by_class = bootstrap_intervals(clustered), bootstrap_intervals(clustered, units)
    assert by_class.unit == "class"
    assert by_class.bounds["x"][1] - by_class.bounds["x"][0] > 3 * (
        by_query.bounds["x"][1] - by_query.bounds["x"][0]
    )


# ----------------------------------------------------------------------------- bench run


LIMITED_RUN = (
    "run --backbone vit-tiny --dataset synthetic --dataset synthetic-fg --limit 24 --workers 0".split()
)


@pytest.fixture(scope="module")
def limited_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vit-tiny on a --limit 24 subset of both synthetic datasets, with per-query logs."""
    out = tmp_path_factory.mktemp("trust") / "results"
    result = run_bench(*LIMITED_RUN, "--log-samples", "--output-dir", str(out))
    assert result.returncode == 0, result.stderr
    return out


def _results(folder: Path) -> list[tuple[Path, RunResult]]:
    return [(path, read_result(path, specs())) for path in sorted(folder.rglob("*.json"))]


def test_results_carry_chance_intervals_per_class_and_provenance(limited_run: Path) -> None:
    found = _results(limited_run)
    assert {result.task for _, result in found} == {"zs-sbir", "fg-sbir"}
    for path, result in found:
        assert result.config["limit"] == 24 and "_limit24-" in path.name
        assert result.dataset["num_queries"] <= 24 and result.dataset["num_gallery"] <= 24
        assert set(result.chance["metrics"]) == set(result.metrics)
        bounds = result.intervals["bounds"]
        assert set(bounds) == set(result.metrics) and result.intervals["level"] == 0.95
        for name, value in result.metrics.items():
            assert bounds[name][0] <= value <= bounds[name][1]
        classes = result.per_class
        assert sum(entry["queries"] for entry in classes.values()) == result.dataset["num_queries"] - (
            result.dataset.get("queries_without_relevant", 0) + result.dataset.get("queries_without_pair", 0)
        )
        provenance = result.provenance
        for key in ("created", "command", "sbir_bench", "components", "weights", "device", "libraries"):
            assert provenance[key], key
        assert provenance["command"][:2] == ["bench", "run"] and "--limit" in provenance["command"]
    fine = next(result for _, result in found if result.task == "fg-sbir")
    assert fine.intervals["unit"] == "class"  # synthetic-fg ranks each sketch within its class


def test_per_query_log_rescores_to_the_same_metrics(limited_run: Path) -> None:
    for path, result in _results(limited_run):
        sidecar = path.with_suffix(".samples.jsonl.gz")
        assert result.samples["file"] == sidecar.name and result.samples["top_k"] == 10
        assert rescore(sidecar, specs()) == result.metrics  # to the last bit
        header, rows = read_samples(sidecar)
        assert header["run"] == result.name and len(rows) == result.dataset["num_queries"]
        evaluated = [row for row in rows if row["evaluated"]]
        assert all(1 <= row["rank"] <= result.dataset["num_gallery"] for row in evaluated)
        if result.task == "fg-sbir":  # Acc@1 is exactly the share of paired photos ranked first
            assert result.metrics["Acc@1"] == pytest.approx(
                100 * np.mean([row["rank"] == 1 for row in evaluated])
            )
        else:  # the first relevant item's rank agrees with the top list and the classes
            for row in evaluated:
                first = next((i for i, key in enumerate(row["top"], 1) if f"/{row['class']}/" in key), None)
                assert first == (row["rank"] if row["rank"] <= 10 else None)


def test_skip_existing_and_a_cached_rerun_keep_the_first_timings(limited_run: Path) -> None:
    before = {path.name: (path.read_bytes(), result) for path, result in _results(limited_run)}
    args = [*LIMITED_RUN, "--output-dir", str(limited_run)]
    skipped = run_bench(*args, "--skip-existing")
    assert skipped.returncode == 0 and "2 left as they were (--skip-existing)" in " ".join(
        skipped.stdout.split()
    )
    assert {path.name: path.read_bytes() for path, _ in _results(limited_run)} == {
        name: data for name, (data, _) in before.items()
    }
    rerun = run_bench(*args, "--log-samples")
    assert rerun.returncode == 0, rerun.stderr
    for path, result in _results(limited_run):
        first = before[path.name][1]
        assert result.runtime["cache_misses"] == 0
        assert result.runtime["group_extract_seconds"] == first.runtime["group_extract_seconds"]
        assert result.runtime["timings_from"] == "the run that extracted the descriptors"
        assert result.metrics == first.metrics and result.intervals == first.intervals


# ----------------------------------------------------------------------------- leaderboard


def run_with(layer: str, value: float, bounds: tuple[float, float], **config: object) -> RunResult:
    """A synthetic zs-sbir result with a stated interval and chance level."""
    settings = {
        "backbone": "sd-mini",
        "weights": "w",
        "layer": layer,
        "t": 50,
        "prompt": "none",
        "dataset": "synthetic",
        "dataset_options": {},
        "noise_samples": 1,
        "seed": 0,
    }
    settings.update(config)
    return RunResult(
        task="zs-sbir",
        config=settings,
        dataset={
            "id": "synthetic",
            "columns": ["mAP@all"],
            "num_queries": 96,
            "num_gallery": 96,
            "gallery_unique": True,
        },
        metrics={"mAP@all": value, "P@10": value / 2},
        chance={
            "metrics": {"mAP@all": 0.183, "P@10": 0.125},
            "methods": {"mAP@all": "simulated", "P@10": "exact"},
            "rankings": 20000,
            "seed": 0,
        },
        intervals={
            "level": 0.95,
            "method": "percentile bootstrap",
            "unit": "query",
            "resamples": 1000,
            "seed": 0,
            "bounds": {"mAP@all": list(bounds), "P@10": [value / 2 - 0.01, value / 2 + 0.01]},
        },
    )


def test_configurations_within_each_others_intervals_are_marked_tied(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_result(results, run_with("up0", 0.210, (0.195, 0.225)), specs())
    write_result(results, run_with("up1", 0.204, (0.190, 0.219)), specs())  # overlaps the best: tied
    write_result(results, run_with("up3", 0.150, (0.140, 0.160)), specs())  # clearly below
    text = render_leaderboard(results, None, specs())
    ranking = text[text.index("### Ranking") :].split("\n\n")[1].splitlines()
    cells = {line.split(" | ")[2]: line.split(" | ")[6] for line in ranking[2:] if "measured" in line}
    assert cells == {
        "up0": "**0.210** [0.195, 0.225]",
        "up1": "**0.204** [0.190, 0.219]",
        "up3": "0.150 [0.140, 0.160]",
    }
    assert "whose interval overlaps the best one's" in text
    assert "| *chance* |" in text and "*0.183*" in text
    data = json.loads(leaderboard_json(load_leaderboard(results, None, specs())))
    marked = {entry["config"]["layer"]: entry["marked"] for entry in data["sections"][0]["entries"]}
    assert marked == {"up0": ["P@10", "mAP@all"], "up1": ["P@10", "mAP@all"], "up3": []}


def test_two_benchmark_definitions_are_never_ranked_together(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_result(results, run_with("up0", 0.21, (0.2, 0.22)), specs())
    small = run_with("up0", 0.38, (0.3, 0.45), dataset_options={"num_unseen": 4})
    small.dataset.update(num_queries=32, num_gallery=32)
    small.chance["metrics"]["mAP@all"] = 0.36
    write_result(results, small, specs())
    text = render_leaderboard(results, None, specs())
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Across benchmarks",
        "## synthetic (zs-sbir)",
        "## synthetic (num_unseen=4) (zs-sbir)",
    ]
    standard = text[text.index("## synthetic (zs-sbir)") : text.index("## synthetic (num")]
    assert "0.380" not in standard and "96 query sketches against 96 gallery photos (unique)" in standard
    assert "*0.360*" in text[text.index("## synthetic (num") :]


def test_pivot_mean_and_borda(tmp_path: Path) -> None:
    results = tmp_path / "results"
    for layer, a, b in (("up0", 0.30, 0.50), ("up1", 0.40, 0.20), ("up2", 0.20, 0.10)):
        write_result(results, run_with(layer, a, (a - 0.01, a + 0.01)), specs())
        other = run_with(layer, b, (b - 0.01, b + 0.01), dataset="synthetic-b")
        other.dataset["id"] = "synthetic-b"
        write_result(results, other, specs())
    data = json.loads(leaderboard_json(load_leaderboard(results, None, specs())))
    rows = {row["configuration"]["layer"]: row for row in data["pivot"]["rows"]}
    assert data["pivot"]["columns"] == ["synthetic", "synthetic-b"]
    assert rows["up0"]["values"] == {"synthetic": 30.0, "synthetic-b": 50.0} and rows["up0"]["mean"] == 40.0
    assert [rows[layer]["borda"] for layer in ("up0", "up1", "up2")] == [3.0, 3.0, 0.0]  # mean breaks the tie
    assert [rows[layer]["rank"] for layer in ("up0", "up1", "up2")] == [1, 2, 3]
    text = render_leaderboard(results, None, specs())
    assert text.index("## Across benchmarks") < text.index("## synthetic (zs-sbir)")


def test_two_galleries_of_one_dataset_are_two_pivot_columns_with_telling_labels(tmp_path: Path) -> None:
    """Same dataset and options, another gallery as scored (a run that skipped images): two
    benchmark definitions, so two sections and two pivot columns, never one merged column."""
    results = tmp_path / "results"
    write_result(results, run_with("up0", 0.30, (0.29, 0.31)), specs())
    smaller = run_with("up1", 0.40, (0.39, 0.41))
    smaller.dataset["num_gallery"] = 90
    write_result(results, smaller, specs())
    data = json.loads(leaderboard_json(load_leaderboard(results, None, specs())))
    assert sorted(data["pivot"]["columns"]) == ["synthetic [num_gallery=90]", "synthetic [num_gallery=96]"]
    assert all(len(row["values"]) == 1 for row in data["pivot"]["rows"])
    text = render_leaderboard(results, None, specs())
    assert (
        "## synthetic \\[num_gallery=90\\] (zs-sbir)" in text and "## synthetic \\[num_gallery=96\\]" in text
    )


def test_csv_round_trips_the_numbers_and_latex_escapes(tmp_path: Path) -> None:
    results = tmp_path / "results"
    runs = [run_with("up0", 0.2101234567891234, (0.19, 0.23)), run_with("up_1%", 1 / 3, (0.3, 0.36))]
    for run in runs:
        write_result(results, run, specs())
    result = run_bench("leaderboard", str(results), "--format", "csv", "--reported-sections", "all")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    measured = {(row["layer"], row["metric"]): row for row in rows if row["kind"] == "measured"}
    for run in runs:
        for name, value in run.metrics.items():
            row = measured[(run.config["layer"], name)]
            assert float(row["value"]) == value  # exactly
            assert [float(row["low"]), float(row["high"])] == run.intervals["bounds"][name]
    chance = {
        row["metric"]: float(row["value"])
        for row in rows
        if row["kind"] == "chance" and row["section"] == "synthetic"
    }
    assert chance == runs[0].chance["metrics"]
    order = [row["metric"] for row in rows if row["kind"] == "measured" and row["layer"] == "up0"]
    assert order == ["mAP@all", "P@10"]  # paper columns first, as the markdown tables
    latex = leaderboard_latex(load_leaderboard(results, None, specs()))
    assert "up\\_1\\%" in latex and "\\toprule" in latex and "\\textit{chance}" in latex
    assert run_bench("leaderboard", str(results), "--format", "latex").stdout == latex
    out = tmp_path / "board.json"
    assert run_bench("leaderboard", str(results), "--format", "json", "--output", str(out)).returncode == 0
    sections = {section["label"]: section for section in json.loads(out.read_text())["sections"]}
    assert sections["synthetic"]["chance"]["metrics"]["mAP@all"] == 0.183
    assert ",reported,SpLIP,CLIP," in result.stdout


def test_reference_chance_file_matches_the_published_counts() -> None:
    """leaderboard/chance.toml holds, per published benchmark, the exact chance levels of its
    per-class test counts (the simulated ones are checked by the chance tests above)."""
    import csv as csv_module

    from bench_tasks.retrieval_metrics import plain_ap_chance, precision_chance

    from bench.results.leaderboard.reported import load_reference_chance

    repo = Path(__file__).resolve().parents[1]
    reference = load_reference_chance(repo / "leaderboard" / "chance.toml", specs())
    assert set(reference) == {"sketchy", "sketchy-ext", "tuberlin-ext", "quickdraw-ext"}
    counts_file = repo / "plugins" / "bench_datasets" / "split_data" / "per_class_counts.tsv"
    with counts_file.open(encoding="utf-8") as handle:
        rows = list(csv_module.DictReader(handle, delimiter="\t"))
    for entry in reference.values():
        mine = [row for row in rows if row["split"] == entry["split"]]
        sketches = [int(row["n_sketch"]) for row in mine]
        photos = [int(row["n_photo_unique"]) for row in mine]
        assert (entry["queries"], entry["gallery"], entry["classes"]) == (
            sum(sketches),
            sum(photos),
            len(mine),
        )
        prec_k = [int(name[2:]) for name in entry["metrics"] if name.startswith("P@")]
        expected: dict[str, float] = {}
        for n_sketch, n_photo in zip(sketches, photos, strict=True):
            relevant, gallery = np.array([n_photo]), np.array([sum(photos)])
            levels = {"mAP@all[plain]": plain_ap_chance(relevant, gallery, None)[0]}
            levels.update({f"P@{k}": precision_chance(relevant, gallery, k)[0] for k in prec_k})
            for name, value in levels.items():
                expected[name] = expected.get(name, 0.0) + n_sketch * float(value) / sum(sketches)
        for name, value in expected.items():
            assert entry["methods"][name] == "exact"
            assert entry["metrics"][name] == pytest.approx(value, rel=1e-12)
