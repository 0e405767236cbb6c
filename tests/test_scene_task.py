"""The scene-sbir task on the registered metrics: R@K, and the lower-is-better MeanR and MedR with
their chance levels (closed form; simulated runs for the median) and bootstrap intervals (medians
of resampled queries or classes)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.evaluation.chance import chance_levels
from bench.evaluation.uncertainty import bootstrap_intervals
from bench.results.schema import read_result
from tests.helpers.cli import run_bench
from tests.helpers.retrieval import metric_set, specs

SCENES = 24


@pytest.mark.slow
def test_a_scene_run_reports_recall_and_ranks_with_chance_rows_and_intervals(tmp_path) -> None:
    result = run_bench(
        "run", "--backbone", "vit-tiny", "--dataset", "synthetic-scene", "--workers", "0", "--output-dir",
        str(tmp_path), "--dataset-option", f"scenes={SCENES}", "--dataset-option", "image_size=64",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "Scene-level SBIR (x100; ranks; lower is better: MeanR, MedR)" in text
    header = next(line for line in result.stdout.splitlines() if "R@10" in line)
    # the paper columns first, then the others in natural order
    assert [cell.strip() for cell in header.split("┃")][-6:-1] == ["R@1", "R@10", "MeanR", "MedR", "R@5"]
    (path,) = tmp_path.rglob("*.json")
    run = read_result(path, specs())
    assert run.task == "scene-sbir" and set(run.metrics) == {"R@1", "R@5", "R@10", "MeanR", "MedR"}
    chance = run.chance
    assert chance["methods"] == {
        "R@1": "exact",
        "R@5": "exact",
        "R@10": "exact",
        "MeanR": "exact",
        "MedR": "simulated",
    }
    assert (
        chance["metrics"]["R@1"] == pytest.approx(100 / SCENES)
        and chance["metrics"]["MeanR"] == (SCENES + 1) / 2
    )
    assert chance["run_rankings"] == 1000 and chance["seed"] == 0 and "rankings" not in chance
    assert chance["metrics"]["MedR"] == pytest.approx((SCENES + 1) / 2, abs=0.5)
    assert "chance" in text and f"{(SCENES + 1) / 2:.1f}" in text  # the chance row, MeanR with 1 digit
    bounds = run.intervals["bounds"]
    assert run.intervals["unit"] == "query" and set(bounds) == set(run.metrics)
    assert all(low <= high for low, high in bounds.values())
    assert 1 <= run.metrics["MedR"] <= SCENES and run.metrics["MedR"] * 2 == round(run.metrics["MedR"] * 2)


def test_the_median_interval_is_the_median_of_each_resample() -> None:
    rng = np.random.default_rng(1)
    ranks = rng.integers(1, 40, 60).astype(float)
    classes = np.repeat(np.arange(6), 10)
    for units in (None, classes):
        got = bootstrap_intervals({"MeanR": ranks, "MedR": ranks}, units, medians={"MedR"}, resamples=200)
        draws = np.random.default_rng(0).integers(
            0, 60 if units is None else 6, size=(200, 60 if units is None else 6)
        )
        medians = [
            np.median(ranks[row] if units is None else np.concatenate([ranks[classes == c] for c in row]))
            for row in draws
        ]
        expected = np.quantile(medians, [0.025, 0.975])
        assert got.bounds["MedR"] == (float(expected[0]), float(expected[1]))
        mean_only = bootstrap_intervals({"MeanR": ranks}, units, resamples=200)
        assert got.bounds["MeanR"] == mean_only.bounds["MeanR"]  # the medians change no mean


def test_median_chance_is_the_expected_median_of_random_runs() -> None:
    queries, candidates = 101, 50
    chance = chance_levels(metric_set(["MeanR", "MedR"]), "paired", [1] * queries, [candidates] * queries)
    assert chance.methods == {"MeanR": "exact", "MedR": "simulated"}
    assert chance.metrics["MeanR"] == (candidates + 1) / 2
    # the median of 101 uniform draws from 1..50 concentrates on 25.5 (standard error about 1.4 per run)
    assert chance.metrics["MedR"] == pytest.approx(25.5, abs=0.3)
    assert chance.run_rankings == 1000 and chance.rankings is None and chance.seed == 0
    assert chance == chance_levels(
        metric_set(["MeanR", "MedR"]), "paired", [1] * queries, [candidates] * queries
    )


@pytest.mark.slow
def test_intervals_print_under_each_value_on_request(tmp_path) -> None:
    args = ("run", "--backbone", "vit-tiny", "--dataset", "synthetic-scene", "--workers", "0",
            "--output-dir", str(tmp_path), "--dataset-option", f"scenes={SCENES}",
            "--dataset-option", "image_size=64")  # fmt: skip
    plain = run_bench(*args)
    shown = run_bench(*args, "--intervals", "--skip-existing")
    assert plain.returncode == shown.returncode == 0, plain.stderr + shown.stderr
    (path,) = tmp_path.rglob("*.json")
    bounds = read_result(path, specs()).intervals["bounds"]
    low, high = bounds["R@10"]
    assert f"[{low:.2f}, {high:.2f}]" in shown.stdout and f"[{low:.2f}, {high:.2f}]" not in plain.stdout
    assert "95% percentile bootstrap intervals (1000 resamples of queries)" in " ".join(shown.stdout.split())
