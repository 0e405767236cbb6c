"""The evaluation side is open: a one-file plugin (examples/depth_task_plugin.py) registers a task, a
lower-is-better metric and two datasets, and `bench run`, `bench leaderboard` (every format) and
`bench plot sweep` rank, mark, score Borda points, pick the best cell and show chance levels and
intervals in that metric's direction, with no file of bench/ changed. A plugin's mistake in a
per-query function is one error naming the plugin."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

import bench
from bench.evaluation.log_rescoring import rescore
from bench.evaluation.samples import read_samples
from bench.results.schema import RunResult, read_result, write_result
from tests.helpers.cli import REPO, run_bench

EXAMPLE = REPO / "examples" / "depth_task_plugin.py"
PLUGIN = ("--plugin", str(EXAMPLE))
SWEEP = ("--backbone", "sd-tiny", "--layer", "up0", "--layer", "up1", "--t", "50", "--t", "200")
SMALL = ("--noise-samples", "1", "--image-size", "64", "--workers", "0")


@pytest.fixture(scope="module")
def specs() -> bench.EvaluationSpecs:
    return bench.plugin_registry([EXAMPLE]).evaluation_specs()


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sd-tiny at 2 layers x 2 timesteps on both of the plugin's datasets, with per-query logs."""
    out = tmp_path_factory.mktemp("depth") / "results"
    datasets = ("--dataset", "tiny-shapes", "--dataset", "tiny-shapes-4")
    result = run_bench("run", *PLUGIN, *SWEEP, *SMALL, *datasets, "--output-dir", str(out), "--log-samples")
    assert result.returncode == 0, result.stderr
    title = " ".join(result.stdout.split())
    assert (
        "Class depth (every photo of the class) (ranks; fractions; lower is better: WorstR, MeanR)" in title
    )
    return out


def empty_reference_files(folder: Path) -> tuple[str, ...]:
    """``--reported`` and ``--chance`` files without entries (the project's rows stay out)."""
    (folder / "none.toml").write_text("", encoding="utf-8")
    return ("--reported", str(folder / "none.toml"), "--chance", str(folder / "none.toml"))


@pytest.mark.slow
def test_bench_run_scores_the_plugin_task_with_its_metric(swept: Path, specs) -> None:
    paths = sorted(swept.rglob("*.json"))
    assert len(paths) == 8
    for path in paths:
        result = read_result(path, specs)
        per_class = 3 if result.config["dataset"] == "tiny-shapes" else 4
        relevant, candidates = per_class, 4 * per_class
        assert result.task == "class-depth" and list(result.dataset["columns"]) == ["WorstR", "mAP@all"]
        assert set(result.metrics) == {"WorstR", "MeanR", "mAP@all", "P@4"}
        assert relevant <= result.metrics["WorstR"] <= candidates  # the last of R relevant ranks
        chance = result.chance
        assert chance["methods"] == {
            "WorstR": "exact",
            "MeanR": "exact",
            "mAP@all": "simulated",
            "P@4": "exact",
        }
        assert chance["metrics"]["WorstR"] == relevant * (candidates + 1) / (relevant + 1)  # the closed form
        assert chance["metrics"]["MeanR"] == (candidates + 1) / (relevant + 1)
        for low, high in result.intervals["bounds"].values():
            assert low <= high
        assert result.intervals["unit"] == "query"
        sidecar = path.with_suffix(".samples.jsonl.gz")
        assert rescore(sidecar, specs) == result.metrics  # to the last bit
        _, rows = read_samples(sidecar)
        assert all(row["metrics"]["MeanR"] == row["rank"] <= row["metrics"]["WorstR"] for row in rows)


def borda(values: dict[str, float]) -> dict[str, float]:
    """Per configuration: one point per configuration with a larger (worse) value, half per tie."""
    return {
        key: sum(1.0 if value < other else 0.5 if value == other else 0.0 for other in values.values()) - 0.5
        for key, value in values.items()
    }


@pytest.mark.slow
def test_leaderboard_and_sweep_of_a_run_follow_the_metric_direction(swept: Path, specs, tmp_path) -> None:
    references = empty_reference_files(tmp_path)
    data = json.loads(run_bench("leaderboard", str(swept), *PLUGIN, *references, "--format", "json").stdout)
    points: dict[str, float] = {}
    for section in data["sections"]:
        assert section["task"] == "class-depth"
        assert section["metrics"]["WorstR"] == {
            "unit": "rank",
            "higher_is_better": False,
            "digits": 2,
            "aggregate": "mean",
        }
        values = {json.dumps(entry["config"]["layer"] + str(entry["config"]["t"])): entry["metrics"]["WorstR"]
                  for entry in section["entries"]}  # fmt: skip
        assert list(values.values()) == sorted(values.values())  # best (smallest) first
        for key, value in borda(values).items():
            points[key] = points.get(key, 0.0) + value
    pivot = data["pivot"]["rows"]
    assert all(row["mean"] is None for row in pivot)  # ranks are not averaged with anything
    by_config = {
        json.dumps(row["configuration"]["layer"] + str(row["configuration"]["t"])): row for row in pivot
    }
    assert {key: row["borda"] for key, row in by_config.items()} == points
    assert [row["borda"] for row in pivot] == sorted(points.values(), reverse=True)

    plot = run_bench("plot", "sweep", str(swept), *PLUGIN, "--output", str(tmp_path / "sweep.png"))
    assert plot.returncode == 0, plot.stderr
    for section in data["sections"]:
        best = section["entries"][0]
        line = f"best {best['metrics']['WorstR']:.4g} at {best['config']['layer']}, t = {best['config']['t']}"
        assert line in plot.stdout, plot.stdout


def controlled_result(dataset: str, layer: str, t: int, worst: float) -> RunResult:
    """A results record of the plugin's task with WorstR = ``worst`` and a tight interval around it."""
    return RunResult(
        task="class-depth",
        config={"backbone": "sd-tiny", "layer": layer, "t": t, "prompt": "none", "dataset": dataset},
        dataset={"id": dataset, "columns": ["WorstR", "mAP@all"], "num_queries": 12, "num_gallery": 12},
        metrics={"WorstR": worst, "mAP@all": 0.5, "MeanR": 2.0, "P@4": 0.25},
        chance={
            "metrics": {"WorstR": 9.75, "mAP@all": 0.423, "MeanR": 3.25, "P@4": 0.25},
            "methods": {"WorstR": "exact", "mAP@all": "simulated", "MeanR": "exact", "P@4": "exact"},
            "rankings": 20000,
            "seed": 0,
        },
        intervals={
            "level": 0.95,
            "method": "percentile bootstrap",
            "unit": "query",
            "resamples": 1000,
            "seed": 0,
            "bounds": {"WorstR": [worst - 0.2, worst + 0.2], "mAP@all": [0.4, 0.6], "MeanR": [1.5, 2.5],
                       "P@4": [0.2, 0.3]},
        },
    )  # fmt: skip


CELLS = {  # dataset -> (layer, t) -> WorstR: up0 at t 50 is best (smallest) in both
    "tiny-shapes": {("up0", 50): 5.0, ("up1", 50): 7.0, ("up0", 200): 9.0, ("up1", 200): 11.0},
    "tiny-shapes-4": {("up0", 50): 6.0, ("up1", 50): 6.0, ("up0", 200): 8.0, ("up1", 200): 12.0},
}


@pytest.mark.slow
def test_every_leaderboard_format_and_the_sweep_rank_a_lower_is_better_metric(specs, tmp_path) -> None:
    results = tmp_path / "results"
    for dataset, cells in CELLS.items():
        for (layer, t), worst in cells.items():
            write_result(results, controlled_result(dataset, layer, t, worst), specs)
    references = empty_reference_files(tmp_path)
    board = lambda *args: run_bench("leaderboard", str(results), *PLUGIN, *references, *args)  # noqa: E731

    text = board().stdout
    ranking = text.split("## tiny-shapes (class-depth)")[1].split("### Ranking (measured)")[1]
    rows = [line for line in ranking.splitlines() if re.match(r"\| [0-9]+ \|", line)]
    assert [row.split(" | ")[6].split(" ")[0] for row in rows] == ["**5.00**", "7.00", "9.00", "11.00"]
    assert "*9.75*" in ranking and "[4.80, 5.20]" in ranking  # chance row and intervals
    best = text.split("## tiny-shapes (class-depth)")[1].split("### Best configuration per backbone")[1]
    assert "| sd-tiny[^1] | up0 | 50 |" in best and "**5.00** [4.80, 5.20]" in best
    second = text.split("## tiny-shapes-4 (class-depth)")[1]
    assert second.count("**6.00**") >= 2  # the tie is marked twice
    pivot = text.split("## Across benchmarks")[1].split("## tiny-shapes")[0]
    assert "lower is better for WorstR" in pivot
    rank_rows = [line for line in pivot.splitlines() if re.match(r"\| [0-9]+ \|", line)]
    # Borda: up0/50: 3 + 2.5; up1/50: 2 + 2.5; up0/200: 1 + 1; up1/200: 0 + 0
    assert [
        (row.split(" | ")[1].split(" · ")[1], row.split(" | ")[-1].rstrip(" |")) for row in rank_rows
    ] == [
        ("layer `up0`", "5.5"),
        ("layer `up1`", "4.5"),
        ("layer `up0`", "2"),
        ("layer `up1`", "0"),
    ]

    rows = list(csv.DictReader(io.StringIO(board("--format", "csv").stdout)))
    marked = {
        (r["section"], r["layer"], r["t"]) for r in rows if r["metric"] == "WorstR" and r["marked"] == "yes"
    }
    assert marked == {
        ("tiny-shapes", "up0", "50"),
        ("tiny-shapes-4", "up0", "50"),
        ("tiny-shapes-4", "up1", "50"),
    }
    latex = board("--format", "latex").stdout
    assert "\\textbf{5.00} {\\scriptsize [4.80, 5.20]}" in latex and "\\textit{9.75}" in latex
    data = json.loads(board("--format", "json").stdout)
    assert data["sections"][0]["best_per_backbone"] == [data["sections"][0]["entries"][0]["name"]]
    page = board("--format", "html").stdout  # a lower-is-better column sorts smallest first
    assert re.search(r'data-first="asc" aria-sort="none" title="WorstR: rank, lower is better"', page)
    assert "<strong>5.00</strong>" in page and "[4.80, 5.20]" in page
    suffixes = {"md": "md", "csv": "csv", "latex": "tex", "json": "json", "html": "html"}
    for format_id, suffix in suffixes.items():
        output = tmp_path / f"board.{suffix}"
        assert board("--format", format_id, "--output", str(output)).returncode == 0
        assert "is up to date" in board("--format", format_id, "--output", str(output), "--check").stdout
        output.write_text(output.read_text(encoding="utf-8") + " ", encoding="utf-8")
        stale = board("--format", format_id, "--output", str(output), "--check")
        assert stale.returncode == 1 and "is stale" in stale.stderr

    plot = run_bench("plot", "sweep", str(results), *PLUGIN, "--output", str(tmp_path / "sweep.svg"))
    assert plot.returncode == 0, plot.stderr
    assert (
        "tiny-shapes / sd-tiny: WorstR over 2 layer(s) x 2 timestep(s); best 5 at up0, t = 50" in plot.stdout
    )
    svg = (tmp_path / "sweep.svg").read_text(encoding="utf-8")
    assert "best: up0 at t = 50 (5.0)" in svg and "WorstR (rank, lower is better)" in svg


GOOD = "return rankings.ranks.max(axis=1).astype(float)"
BROKEN = {  # the plugin's WorstR function, rewritten: (its new return line, what the error says)
    "shape": ("return rankings.ranks.astype(float)", "returned shape (3, 3) of float64 for 3 queries"),
    "nan": ("return rankings.ranks.max(axis=1) * float('nan')", "returned nan for a query"),
    "raises": ("return rankings.rank", "failed: AttributeError"),
}


@pytest.mark.slow
@pytest.mark.parametrize("mistake", sorted(BROKEN))
def test_a_broken_per_query_function_is_one_error_naming_the_plugin(tmp_path, mistake) -> None:
    bad, message = BROKEN[mistake]
    plugin = tmp_path / "broken_depth.py"
    plugin.write_text(EXAMPLE.read_text(encoding="utf-8").replace(GOOD, bad), encoding="utf-8")
    result = run_bench(
        "run", "--plugin", str(plugin), "--backbone", "vit-tiny", "--dataset", "tiny-shapes",
        "--workers", "0", "--output-dir", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "metric 'WorstR' of plugin 'file:broken_depth'" in result.stderr and message in result.stderr
    assert not list((tmp_path / "out").rglob("*.json"))  # nothing half-scored was written


SYNTHETIC_DEPTH = """
from bench import DatasetInfo, hookimpl

@hookimpl
def register_datasets(register):
    register(DatasetInfo(id="synthetic-depth", target="bench_datasets.synthetic:SyntheticCategory",
                         task="class-depth", description="synthetic shapes, scored by class depth",
                         needs_root=False,
                         options={"num_classes": "", "num_unseen": "", "train_photos_per_class": ""}))
"""


@pytest.mark.slow
def test_bench_train_stops_early_in_the_main_metric_direction(tmp_path) -> None:
    """The plugin task's main metric, WorstR, improves by falling: the saved prompt is the epoch with
    the smallest validation WorstR, the untrained prompt included."""
    from bench.config.training import TrainSpec
    from bench.prompts.trainer import plan_training, train_prompt

    extra = tmp_path / "synthetic_depth.py"
    extra.write_text(SYNTHETIC_DEPTH, encoding="utf-8")
    registry = bench.plugin_registry([EXAMPLE, extra])
    options = {"num_classes": 8, "num_unseen": 4, "train_photos_per_class": 4}
    spec = TrainSpec(backbone="sd-tiny", dataset="synthetic-depth", t=200, image_size=64, width=8, epochs=4,
                     steps_per_epoch=1, batch_size=4, lr=0.5, val_split=0.5, patience=10,
                     dataset_options=options)  # fmt: skip
    header = train_prompt(spec, plan_training(spec, registry), tmp_path / "prompt.safetensors").header
    scores = [header["metrics"]["val_WorstR_before"], *(epoch["val_WorstR"] for epoch in header["history"])]
    assert len(set(scores)) > 1, scores  # the prompt moved the metric, so the direction matters
    assert header["metrics"]["val_WorstR_best"] == min(scores)
    assert header["metrics"]["best_epoch"] == scores.index(min(scores))


def test_plugins_doc_shows_the_task_plugin_as_it_is() -> None:
    doc = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = doc.split("<!-- example-task-plugin -->")[1].split("```bash")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 2
    source = EXAMPLE.read_text(encoding="utf-8")
    assert all(block in source for block in blocks)


def test_results_of_a_plugin_metric_need_the_plugin_to_be_read(specs, tmp_path) -> None:
    results = tmp_path / "results"
    write_result(results, controlled_result("tiny-shapes", "up0", 50, 5.0), specs)
    without = run_bench("leaderboard", str(results))
    assert without.returncode == 1 and "Traceback" not in without.stderr
    message = " ".join(without.stderr.split())
    assert "'class-depth' is no registered task" in message and "'WorstR' is no registered metric" in message
    assert "load the plugin that registers it" in message
    assert run_bench("leaderboard", str(results), *PLUGIN).returncode == 0
    (tmp_path / "bad").mkdir()
    bad = controlled_result("tiny-shapes", "up0", 200, 5.0).to_dict(specs) | {"metrics": {"WorstR": 0.5}}
    (tmp_path / "bad" / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    refused = run_bench("leaderboard", str(tmp_path / "bad"), *PLUGIN)
    assert "metric WorstR = 0.5 is below 1 (a rank)" in refused.stderr
