"""Tests for bench.results.leaderboard: results files -> one section per benchmark definition, with
chance levels, intervals and ties, reported rows ranked beside measured ones, a pivot, exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import BenchError
from bench.results.leaderboard import (
    MISSING,
    check_leaderboard,
    load_reported,
    render_leaderboard,
)
from bench.results.schema import RunResult, write_result
from tests.helpers.cli import run_bench
from tests.helpers.retrieval import specs

REPO = Path(__file__).resolve().parents[1]
REAL_REPORTED = REPO / "leaderboard" / "reported.toml"

REPORTED_TOML = """
[[reported]]
dataset = "synthetic"
method = "Paper method A"
backbone = "Backbone A"
source = "Alpha et al., 2024, Table 1"
metrics = { "mAP@all" = 0.5, "P@100" = 0.61 }

[[reported]]
dataset = "synthetic"
method = "Paper method B"
backbone = "Backbone B"
source = "Beta et al., 2023"
metrics = { "mAP@all" = 0.7, "P@100" = 0.72 }

[[reported]]
dataset = "paper-only"
method = "Paper method C"
backbone = "Backbone C"
source = "Gamma et al., 2022"
metrics = { "mAP@200" = 0.3, "P@200" = 0.4 }
"""


def zs_run(
    layer: str, map_all: float, p100: float, *, t: int | None = 200, note: str | None = None
) -> RunResult:
    """A zs-sbir run on the synthetic dataset (paper columns mAP@all, P@100)."""
    return RunResult(
        task="zs-sbir",
        config=_config("synthetic", layer, t),
        dataset={"id": "synthetic", "columns": ["mAP@all", "P@100"], "num_queries": 10, "num_gallery": 20},
        metrics={"mAP@all": map_all, "P@100": p100, "mAP@all[plain]": map_all - 0.01, "P@10": 0.5},
        backbone_note=note,
        runtime={"extract_seconds": 1.5},
    )


def fg_run(layer: str, acc1: float, acc5: float) -> RunResult:
    """An fg-sbir run on the synthetic-fg dataset (paper columns Acc@1, Acc@5; values x100)."""
    return RunResult(
        task="fg-sbir",
        config=_config("synthetic-fg", layer, None),
        dataset={"id": "synthetic-fg", "columns": ["Acc@1", "Acc@5"], "num_queries": 10, "num_gallery": 10},
        metrics={"Acc@1": acc1, "Acc@5": acc5, "Acc@10": 99.0},
    )


def _config(dataset: str, layer: str, t: int | None) -> dict[str, object]:
    return {
        "backbone": "sd-tiny",
        "weights": "random",
        "layer": layer,
        "t": t,
        "prompt": "none",
        "dataset": dataset,
        "dataset_options": {},
        "noise_samples": 2,
        "seed": 0,
        "dtype": "fp32",
        "image_size": 64,
    }


RUNS = [
    zs_run("up1", 0.40, 0.45, note="random weights (architecture check only)"),
    zs_run("up2", 0.60, 0.52),
    zs_run("mid", 0.50, 0.55, t=None),
    fg_run("up1", 20.0, 40.0),
    fg_run("up2", 30.5, 35.25),
]


@pytest.fixture
def board(tmp_path: Path) -> tuple[Path, Path]:
    """A leaderboard folder with results/ (the RUNS) and reported.toml."""
    results = tmp_path / "board" / "results"
    for run in RUNS:
        write_result(results, run, specs())
    reported = tmp_path / "board" / "reported.toml"
    reported.write_text(REPORTED_TOML, encoding="utf-8")
    return results, reported


def section(text: str, heading: str) -> str:
    """The text of the section under ``## heading`` (up to the next ``## ``)."""
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def table_after(text: str, marker: str) -> list[list[str]]:
    """Cells of the markdown table that follows ``marker`` (header row first, alignment row dropped)."""
    lines = text[text.index(marker) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return [rows[0], *rows[2:]]


def test_sections_are_ordered_by_task_then_dataset(board: tuple[Path, Path]) -> None:
    text = render_leaderboard(*board, specs(), reported_sections="all")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Across benchmarks",
        "## paper-only (zs-sbir)",
        "## synthetic (zs-sbir)",
        "## synthetic-fg (fg-sbir)",
    ]
    assert text.startswith("# sbir-bench leaderboard\n\n")
    assert "fractions" in text and "x100" in text and "docs/protocol.md" in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_ranking_table_columns_put_paper_columns_first(board: tuple[Path, Path]) -> None:
    synthetic = section(render_leaderboard(*board, specs()), "synthetic (zs-sbir)")
    header = table_after(synthetic, "### Ranking")[0]
    assert header == [
        "#",
        "Backbone",
        "Layer",
        "t",
        "Prompt",
        "Noise draws",
        "mAP@all",
        "P@100",
        "P@10",
        "mAP@all\\[plain\\]",
        "Source",
    ]
    ranking = synthetic[synthetic.index("### Ranking") :]
    align = next(line for line in ranking.splitlines() if line.startswith("| ---"))
    assert align == "| " + " | ".join(["---:"] + ["---"] * 5 + ["---:"] * 4 + ["---"]) + " |"
    fg_header = table_after(
        section(render_leaderboard(*board, specs()), "synthetic-fg (fg-sbir)"), "### Ranking"
    )[0]
    assert fg_header[6:] == ["Acc@1", "Acc@5", "Acc@10", "Source"]


def test_rows_sorted_by_first_paper_column_with_best_in_bold(board: tuple[Path, Path]) -> None:
    synthetic = section(render_leaderboard(*board, specs()), "synthetic (zs-sbir)")
    rows = [row for row in table_after(synthetic, "### Ranking")[1:] if row[0]]
    measured = [row for row in rows if row[-1].startswith("measured")]
    assert [row[2] for row in measured] == ["up2", "mid", "up1"]
    assert [row[6] for row in measured] == ["**0.600**", "0.500", "0.400"]
    assert [row[7] for row in measured] == ["0.520", "**0.550**", "0.450"]
    assert measured[1][3] == MISSING  # t is null for the "mid" run
    assert [row[8] for row in measured] == ["**0.500**"] * 3  # equal values are all bold


def test_reported_rows_are_ranked_beside_measured_ones_and_marked(board: tuple[Path, Path]) -> None:
    synthetic = section(render_leaderboard(*board, specs()), "synthetic (zs-sbir)")
    rows = table_after(synthetic, "### Ranking (measured and reported)")[1:]
    order = [(row[0], row[1], row[6], row[-1].split(";")[0]) for row in rows if row[0]]
    assert order == [
        ("1", "Backbone B", "0.700", "reported: Paper method B"),
        ("2", "sd-tiny[^1]", "**0.600**", order[1][3]),
        ("3", "sd-tiny[^2]", "0.500", order[2][3]),
        ("4", "Backbone A", "0.500", "reported: Paper method A"),
        ("5", "sd-tiny[^3]", "0.400", order[4][3]),
    ]
    assert all(row[3].startswith("measured: [sd-tiny_") for row in (order[1], order[2], order[4]))
    assert "Alpha et al., 2024, Table 1" in synthetic and "Gamma et al." not in synthetic
    assert "reported:" not in section(render_leaderboard(*board, specs()), "synthetic-fg (fg-sbir)")


def test_fg_values_have_two_decimals(board: tuple[Path, Path]) -> None:
    rows = table_after(section(render_leaderboard(*board, specs()), "synthetic-fg (fg-sbir)"), "### Ranking")[
        1:
    ]
    assert [row[6:9] for row in rows] == [
        ["**30.50**", "35.25", "**99.00**"],
        ["20.00", "**40.00**", "**99.00**"],
    ]


def test_missing_metric_shows_dash(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_result(results, zs_run("up1", 0.4, 0.5), specs())
    sparse = zs_run("up2", 0.3, 0.5)
    sparse.metrics = {"mAP@all": 0.3}
    write_result(results, sparse, specs())
    rows = table_after(render_leaderboard(results, None, specs()), "### Ranking")[1:]
    assert rows[1][7] == MISSING and rows[1][2] == "up2"


def test_footnotes_and_links(board: tuple[Path, Path]) -> None:
    results, reported = board
    text = render_leaderboard(results, reported, specs())
    rows = table_after(section(text, "synthetic (zs-sbir)"), "### Ranking")[1:]
    up1 = next(row for row in rows if row[2] == "up1")
    marker = up1[1].removeprefix("sd-tiny")
    assert marker.startswith("[^")
    footnote = next(line for line in text.splitlines() if line.startswith(f"{marker}: "))
    assert "random weights (architecture check only)" in footnote
    for part in (
        "weights `random`",
        "dataset_options `{}`",
        "seed `0`",
        "dtype `fp32`",
        "image_size `64`",
    ):
        assert part in footnote
    run_path = write_result(results, RUNS[0], specs())
    assert up1[-1] == f"measured: [{run_path.stem}](results/synthetic/{run_path.name})"
    linked = render_leaderboard(results, reported, specs(), link_base=results.parent.parent / "docs")
    assert f"[{run_path.stem}](../board/results/synthetic/{run_path.name})" in linked


def test_footnote_numbers_are_unique(board: tuple[Path, Path]) -> None:
    lines = render_leaderboard(*board, specs()).splitlines()
    definitions = [line.split(":")[0] for line in lines if line.startswith("[^")]
    assert definitions == [f"[^{n}]" for n in range(1, len(RUNS) + 1)]


def test_best_configuration_per_backbone(tmp_path: Path) -> None:
    results = tmp_path / "results"
    for run in (zs_run("up1", 0.4, 0.5), zs_run("up2", 0.45, 0.5), zs_run("up3", 0.2, 0.5)):
        write_result(results, run, specs())
    other = zs_run("embed", 0.3, 0.4, t=None)
    other.config["backbone"] = "vit-tiny"
    write_result(results, other, specs())
    rows = table_after(render_leaderboard(results, None, specs()), "### Best configuration per backbone")[1:]
    assert [(row[0].split("[")[0], row[1], row[5]) for row in rows] == [
        ("sd-tiny", "up2", "**0.450**"),
        ("vit-tiny", "embed", "0.300"),
    ]


def test_dataset_with_only_reported_rows_gets_a_section(board: tuple[Path, Path]) -> None:
    paper_only = section(render_leaderboard(*board, specs(), reported_sections="all"), "paper-only (zs-sbir)")
    assert "No measured runs with this definition yet." in paper_only
    assert "### Best configuration" not in paper_only
    row = table_after(paper_only, "### Ranking (reported by papers, not measured here)")[1]
    assert row[:2] == ["1", "Backbone C"] and row[6:8] == ["0.300", "0.400"]
    assert row[-1] == "reported: Paper method C; Gamma et al., 2022"


def test_render_is_deterministic(board: tuple[Path, Path], tmp_path: Path) -> None:
    results, reported = board
    first = render_leaderboard(results, reported, specs())
    assert render_leaderboard(results, reported, specs()) == first
    reversed_results = tmp_path / "other" / "results"
    for run in reversed(RUNS):
        write_result(reversed_results, run, specs())
    assert render_leaderboard(reversed_results, reported, specs()) == first


def test_check_leaderboard(board: tuple[Path, Path], tmp_path: Path) -> None:
    results, reported = board
    output = tmp_path / "README.md"
    assert not check_leaderboard(results, reported, output, specs())
    output.write_text(render_leaderboard(results, reported, specs()), encoding="utf-8")
    assert check_leaderboard(results, reported, output, specs())
    output.write_text(output.read_text(encoding="utf-8") + "edited\n", encoding="utf-8")
    assert not check_leaderboard(results, reported, output, specs())
    output.write_text(render_leaderboard(results, reported, specs()), encoding="utf-8")
    write_result(results, zs_run("down3", 0.1, 0.2), specs())
    assert not check_leaderboard(results, reported, output, specs())


def test_unreadable_results_file_is_named(board: tuple[Path, Path]) -> None:
    results, reported = board
    bad = results / "synthetic" / "broken.json"
    bad.write_text(json.dumps({"schema_version": 1, "task": "zs-sbir"}), encoding="utf-8")
    with pytest.raises(BenchError, match="broken.json"):
        render_leaderboard(results, reported, specs())


HEAD = 'dataset = "d"\nmethod = "m"\nbackbone = "b"\n'


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            HEAD + 'source = "S1"\nmetrics = { "mAP@all" = 0.5 }\nyear = 2024',
            r"reported\[0\].year is not a valid key",
        ),
        (
            HEAD + 'source = "S1"\nmetrics = { "mAP@all" = "high" }',
            r"mAP@all = 'high' \(text\): should be a number",
        ),
        (HEAD + 'source = "S1"\nmetrics = { "mAP@all" = 80.2 }', "mAP@all = 80.2 is outside 0..1"),
        (HEAD + 'source = "S1"\nmetrics = { "Acc@1" = 130.0 }', "Acc@1 = 130.0 is outside 0..100"),
        (HEAD + 'source = "S1"\nmetrics = { "Acc@1" = nan }', "should be a finite number"),
        (HEAD + 'metrics = { "Acc@1" = 30.0 }', r"reported\[0\].source is missing"),
        (HEAD + 'source = "S1"\nmetrics = {}', "should have at least 1 item"),
        (HEAD + 'source = "S1"\nmetrics = { "score" = 1 }', "'score' is no registered metric"),
    ],
)
def test_bad_reported_file_names_the_problem(tmp_path: Path, entry: str, problem: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[[reported]]\n{entry}\n", encoding="utf-8")
    with pytest.raises(BenchError, match=f"bad.toml: .*{problem}"):
        load_reported(path, specs())


def test_reported_file_errors_for_syntax_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[[reported]\n", encoding="utf-8")
    with pytest.raises(BenchError, match="bad.toml: not a readable TOML file"):
        load_reported(path, specs())
    path.write_text(
        REPORTED_TOML + REPORTED_TOML.split("[[reported]]")[1].join(["[[reported]]", ""]), encoding="utf-8"
    )
    with pytest.raises(BenchError, match="more than one entry for Alpha et al."):
        load_reported(path, specs())


def test_real_reported_file_loads() -> None:
    rows = load_reported(REAL_REPORTED, specs())
    koley = [row for row in rows if row.source.startswith("Koley et al., CVPR 2024")]
    by_dataset = {row.dataset: row for row in koley}
    assert by_dataset["sketchy"].metrics == {"mAP@200": 0.746, "P@200": 0.747}
    assert by_dataset["sketchy-fg"].metrics["Acc@1"] == 31.94
    assert by_dataset["sketchy-fg"].task == "fg-sbir" and by_dataset["sketchy"].task == "zs-sbir"
    datasets = {row.dataset for row in rows}
    assert datasets == {"sketchy", "sketchy-ext", "tuberlin-ext", "quickdraw-ext", "sketchy-fg", "fscoco"}
    splip = next(row for row in rows if row.source.startswith("SpLIP") and row.dataset == "sketchy-ext")
    expected = {"mAP@all": 0.802, "P@100": 0.867}
    assert (splip.dataset, splip.method, splip.backbone, splip.metrics) == (
        "sketchy-ext",
        "SpLIP",
        "CLIP",
        expected,
    )
    assert splip.arxiv == "2407.04207" and "SAKE split" in splip.protocol
    assert all(row.arxiv and row.protocol for row in rows)
    sketchscape = next(row for row in rows if row.method == "SketchScape")
    assert sketchscape.dataset == "fscoco" and sketchscape.metrics == {"R@1": 61.9, "R@10": 87.2}
    assert sketchscape.task == "scene-sbir"  # the registered dataset's task
    assert "split normal" in sketchscape.protocol
    assert len(rows) == 26


def test_real_reported_file_renders_without_results(tmp_path: Path) -> None:
    text = render_leaderboard(tmp_path / "no-results", REAL_REPORTED, specs(), reported_sections="all")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## quickdraw-ext (zs-sbir)",
        "## sketchy (zs-sbir)",
        "## sketchy-ext (zs-sbir)",
        "## tuberlin-ext (zs-sbir)",
        "## sketchy-fg (fg-sbir)",
        "## fscoco (scene-sbir)",  # the registered dataset's task, in the tasks' registration order
    ]
    sketchy = table_after(section(text, "sketchy (zs-sbir)"), "### Ranking")
    assert sketchy[0][6:8] == ["mAP@200", "P@200"]
    assert sketchy[1][-1].startswith("reported: SpLIP; SpLIP, ECCV 2024 ([arXiv:2407.04207]")
    assert "Protocol of the reported rows" in section(text, "sketchy (zs-sbir)")
    assert "31.94" in section(text, "sketchy-fg (fg-sbir)")


# ----------------------------------------------------------------------------- ablation tables


def sweep_run(layer: str, t: int | None, map_all: float, **config: object) -> RunResult:
    """A synthetic zs-sbir run of a layer x timestep sweep; ``config`` overrides settings."""
    run = zs_run(layer, map_all, 0.5, t=t)
    run.config.update(config)
    return run


SWEEP = [
    sweep_run("up0", 50, 0.31),
    sweep_run("up0", 273, 0.42),
    sweep_run("up1", 50, 0.25),
    sweep_run("coarse", 50, 0.36),
    sweep_run("coarse", 273, 0.40),
    sweep_run("up1", 50, 0.9, seed=1),  # another seed: a one-cell group, no ablation table
]


def test_ablation_table_crosses_layer_and_timestep(tmp_path: Path) -> None:
    for run in SWEEP:
        write_result(tmp_path / "results", run, specs())
    text = render_leaderboard(tmp_path / "results", None, specs())
    assert text.count("### Ablation") == 1
    block = text[text.index("### Ablation") :]
    assert block.startswith(
        "### Ablation: sd-tiny, layer × t (mAP@all)\n\nFixed: prompt `none`; noise draws `2`; "
    )
    fixed = block.splitlines()[2]
    for part in ("weights `random`", "seed `0`", "dtype `fp32`", "image_size `64`"):
        assert part in fixed
    assert "layer" not in fixed.removeprefix("Fixed:").split(";")[0]
    assert table_after(block, "| Layer") == [
        ["Layer \\ t", "50", "273"],
        ["coarse", "0.360", "0.400"],
        ["up0", "0.310", "**0.420**"],
        ["up1", "0.250", MISSING],
    ]
    align = next(line for line in block.splitlines() if line.startswith("| ---"))
    assert align == "| --- | ---: | ---: |"


def test_ablation_tables_split_by_other_settings(tmp_path: Path) -> None:
    runs = [
        sweep_run("up0", 50, 0.3),
        sweep_run("up1", 50, 0.4),
        sweep_run("up0", 50, 0.5, prompt="text:a drawing"),
        sweep_run("up0", 273, 0.6, prompt="text:a drawing"),
    ]
    for run in runs:
        write_result(tmp_path / "results", run, specs())
    text = render_leaderboard(tmp_path / "results", None, specs())
    headings = [line for line in text.splitlines() if line.startswith("### Ablation")]
    assert headings == ["### Ablation: sd-tiny, layer (mAP@all)", "### Ablation: sd-tiny, t (mAP@all)"]
    fixed = [line for line in text.splitlines() if line.startswith("Fixed:")]
    assert "prompt `none`" in fixed[0] and "prompt `text:a drawing`" in fixed[1]


def test_fg_ablation_uses_first_paper_column_in_percent(board: tuple[Path, Path]) -> None:
    fg = section(render_leaderboard(*board, specs()), "synthetic-fg (fg-sbir)")
    block = fg[fg.index("### Ablation") :]
    assert block.startswith("### Ablation: sd-tiny, layer (Acc@1)")
    assert table_after(block, "| Layer")[1:] == [["up1", "20.00"], ["up2", "**30.50**"]]


def test_footnote_lists_every_other_setting(tmp_path: Path) -> None:
    write_result(
        tmp_path / "results", sweep_run("up1", 50, 0.3, pool="gem", weights_identity="sha256:ab"), specs()
    )
    footnote = next(
        line
        for line in render_leaderboard(tmp_path / "results", None, specs()).splitlines()
        if line.startswith("[^1]:")
    )
    assert "; pool `gem`; " in footnote and footnote.endswith("; weights_identity `sha256:ab`.")
    assert "prompt" not in footnote and "noise" not in footnote  # shown in the table


# ----------------------------------------------------------------------------- the command


def test_command_is_byte_identical_and_check_detects_staleness(
    board: tuple[Path, Path], tmp_path: Path
) -> None:
    results, reported = board
    output = tmp_path / "out" / "README.md"
    args = ["leaderboard", str(results), "--output", str(output), "--reported", str(reported)]
    assert run_bench(*args).returncode == 0
    first = output.read_bytes()
    assert run_bench(*args).returncode == 0
    assert output.read_bytes() == first
    fresh = run_bench(*args, "--check")
    assert fresh.returncode == 0 and "up to date" in fresh.stdout
    write_result(results, zs_run("down1", 0.7, 0.1), specs())
    stale = run_bench(*args, "--check")
    assert stale.returncode == 1 and "stale" in stale.stderr and "bench leaderboard" in stale.stderr
    assert output.read_bytes() == first  # --check never writes


BROKEN_FORMAT = """
from bench import LeaderboardFormat, hookimpl

def render(board):
    return 1 / 0

@hookimpl
def register_leaderboard_formats(register):
    register(LeaderboardFormat(id="broken", render=render, description="fails"))
"""


def test_a_failing_leaderboard_format_is_one_message_naming_its_plugin(
    board: tuple[Path, Path], tmp_path: Path
) -> None:
    plugin = tmp_path / "broken_format.py"
    plugin.write_text(BROKEN_FORMAT, encoding="utf-8")
    results, reported = board
    output = tmp_path / "board.txt"
    result = run_bench(
        "leaderboard", str(results), "--reported", str(reported), "--plugin", str(plugin),
        "--format", "broken", "--output", str(output),
    )  # fmt: skip
    message = " ".join(result.stderr.split())
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Leaderboard format 'broken' of plugin 'file:broken_format' failed: ZeroDivisionError" in message
    assert "or use another --format" in message and not output.exists()


# ----------------------------------------------------------------------------- sketch+text runs


def test_sketch_text_runs_get_a_query_text_column(tmp_path: Path) -> None:
    """A sketch+text run and the sketch-only run of one configuration looked identical in the
    tables (the query text was only in the footnote)."""
    results = tmp_path / "results"
    write_result(results, zs_run("up1", 0.4, 0.5), specs())
    with_text = zs_run("up1", 0.6, 0.5)
    with_text.config["query_text"] = "caption"
    write_result(results, with_text, specs())
    write_result(results / "fg", fg_run("up1", 20.0, 40.0), specs())  # a section without sketch+text runs
    text = render_leaderboard(results, None, specs())
    for marker in ("### Best configuration per backbone", "### Ranking"):
        header = table_after(section(text, "synthetic (zs-sbir)"), marker)[0]
        assert header[header.index("Noise draws") + 1] == "Query text", header
    ranking = table_after(section(text, "synthetic (zs-sbir)"), "### Ranking")
    column = ranking[0].index("Query text")
    assert [row[column] for row in ranking[1:]] == ["caption", "sketch only"]
    assert all(len(row) == len(ranking[0]) for row in ranking)
    assert "Query text" not in section(text, "synthetic-fg (fg-sbir)")


# ----------------------------------------------------------------------------- which reported rows


def test_reported_rows_appear_only_for_benchmarks_the_results_measured(board: tuple[Path, Path]) -> None:
    """A folder of results adds no sections of paper numbers for benchmarks it never ran, unless
    asked (``--reported-sections all``); ``none`` leaves every reported row out."""
    from tests.helpers.cli import run_bench

    results, reported = board
    base = ["leaderboard", str(results), "--reported", str(reported)]
    headings = {}
    for which in ("measured", "all", "none"):
        result = run_bench(*base, "--reported-sections", which)
        assert result.returncode == 0, result.stderr
        headings[which] = [line for line in result.stdout.splitlines() if line.startswith("## ")]
        reported_rows = result.stdout.count("reported: Paper method")
        assert reported_rows == {"measured": 2, "all": 3, "none": 0}[which], (which, result.stdout)
    assert headings["measured"] == headings["none"] == headings["all"][:1] + headings["all"][2:]
    assert headings["all"][1] == "## paper-only (zs-sbir)"
    assert run_bench(*base).stdout == run_bench(*base, "--reported-sections", "measured").stdout
    limited = results.parent / "limited"  # only a --limit subset of synthetic: not what papers report on
    run = zs_run("up1", 0.4, 0.5)
    run.config["limit"] = 4
    write_result(limited, run, specs())
    assert "reported:" not in run_bench("leaderboard", str(limited), "--reported", str(reported)).stdout
