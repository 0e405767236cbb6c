"""Results files, the leaderboard and sweep plots given inputs from elsewhere (issue 22): runs of one
file name in two folders, FIFOs and devices named like input files, formula cells in the CSV
export, LaTeX specials, intervals that contradict themselves, unwritable outputs, text timesteps
and layer names with Unicode digits. Whatever the input, one message and never a hang or traceback."""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import subprocess
from pathlib import Path

import pytest

from bench.api.bounded_read import read_bounded_bytes
from bench.results.leaderboard import (
    leaderboard_csv,
    leaderboard_json,
    leaderboard_latex,
    load_leaderboard,
    render_leaderboard,
)
from bench.results.schema import RunResult, find_result_files, read_result, write_result
from tests.helpers.cli import BENCH, REPO, run_bench
from tests.helpers.retrieval import specs

HANG_GUARD_S = 60  # a command that reads a FIFO or /dev/zero must answer long before this
MEMORY_LIMIT = 3 * 2**30  # bytes of address space: an unbounded read of /dev/zero fails, not swaps


def zs_run(layer: str, map_all: float, *, t: object = 200, **config: object) -> RunResult:
    """A zs-sbir run on the synthetic dataset (paper columns mAP@all, P@10)."""
    return RunResult(
        task="zs-sbir",
        config={
            "backbone": "sd-tiny",
            "layer": layer,
            "t": t,
            "prompt": "none",
            "dataset": "synthetic",
            "noise_samples": 2,
            "seed": 0,
            **config,
        },
        dataset={"id": "synthetic", "columns": ["mAP@all", "P@10"], "num_queries": 10, "num_gallery": 20},
        metrics={"mAP@all": map_all, "P@10": 0.5},
    )


def bench_guarded(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``bench ARGS`` in a fresh process that cannot hang the suite (timeout) nor fill memory."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    return subprocess.run(
        [*BENCH, *args],
        cwd=cwd or REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        preexec_fn=limit_memory,
        check=False,
    )


def entry_names(results: Path) -> list[str]:
    """The names of the first section's entries in the JSON export, best first."""
    return [
        entry["name"]
        for entry in json.loads(leaderboard_json(load_leaderboard(results, None, specs())))["sections"][0][
            "entries"
        ]
    ]


def one_message(result: subprocess.CompletedProcess | object) -> str:
    """The stderr of a command that failed with one message (exit 1, no traceback)."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr


# ----------------------------------------------------------------------------- one name per run


def test_runs_of_one_file_name_in_two_folders_get_distinct_names(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_result(results / "a", zs_run("up1", 0.6), specs())
    write_result(results / "b", zs_run("up1", 0.4), specs())  # the same configuration, so the same file name
    stem = zs_run("up1", 0.4).name
    text = render_leaderboard(results, None, specs())
    rows = [line for line in text.splitlines() if "measured: [" in line]
    assert len(rows) == 2
    assert f"a/synthetic/{stem}" in rows[0] and f"b/synthetic/{stem}" in rows[1]
    assert "**0.600**" in rows[0] and "0.400" in rows[1] and "**0.400**" not in rows[1]
    references = [row.split("[^")[1].split("]")[0] for row in rows]
    assert len(set(references)) == 2  # each row its own footnote, each footnote reachable
    for number, folder in zip(references, "ab", strict=True):
        assert f"[^{number}]: `{folder}/synthetic/{stem}`:" in text
    assert entry_names(results) == [f"a/synthetic/{stem}", f"b/synthetic/{stem}"]
    assert render_leaderboard(results, None, specs()) == text


def test_a_unique_file_name_stays_the_run_name(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_result(results / "a", zs_run("up1", 0.6), specs())
    write_result(results / "a" / "deeper" / "b", zs_run("up1", 0.4), specs())
    write_result(results / "a", zs_run("up2", 0.5), specs())
    up1, up2 = zs_run("up1", 0).name, zs_run("up2", 0).name
    assert set(entry_names(results)) == {
        f"a/synthetic/{up1}",
        f"b/synthetic/{up1}",
        up2,
    }  # the shortest folder suffix


# ----------------------------------------------------------------------------- FIFOs and devices


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _dev_zero(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to("/dev/zero")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("make", [_fifo, _dev_zero], ids=["fifo", "dev-zero"])
@pytest.mark.parametrize("command", ["leaderboard", "plot"])
def test_a_fifo_or_device_named_json_is_refused_not_read(tmp_path: Path, make, command: str) -> None:
    results = tmp_path / "results"
    write_result(results, zs_run("up1", 0.6), specs())
    write_result(results, zs_run("up2", 0.4), specs())
    odd = make(results / "synthetic" / "odd.json")
    args = ("leaderboard", str(results)) if command == "leaderboard" else ("plot", "sweep", str(results))
    stderr = one_message(bench_guarded(*args, "--output", str(tmp_path / "out.png")))
    assert str(odd) in stderr and "is not a regular file" in stderr


@pytest.mark.slow
@pytest.mark.parametrize("make", [_fifo, _dev_zero], ids=["fifo", "dev-zero"])
def test_a_fifo_or_device_as_reported_file_is_refused(tmp_path: Path, make) -> None:
    write_result(tmp_path / "results", zs_run("up1", 0.6), specs())
    reported = make(tmp_path / "reported.toml")
    stderr = one_message(bench_guarded("leaderboard", str(tmp_path / "results"), "--reported", str(reported)))
    assert str(reported) in stderr and "is not a regular file" in stderr


@pytest.mark.slow
def test_a_fifo_as_config_or_prompt_file_is_named_as_such(tmp_path: Path) -> None:
    config = _fifo(tmp_path / "run.toml")
    stderr = one_message(bench_guarded("run", "--config", str(config)))
    assert str(config) in stderr and "is not a regular file (it is a FIFO" in stderr
    prompt, out = _fifo(tmp_path / "prompt.safetensors"), tmp_path / "out"
    stderr = one_message(
        bench_guarded(
            "run", "--backbone", "sd-tiny", "--prompt", f"learned:{prompt}", "--output-dir", str(out)
        )
    )
    assert str(prompt) in stderr and "is not a regular file (it is a FIFO" in stderr


def test_the_bound_is_on_bytes_read_not_on_the_size_a_file_claims(tmp_path: Path) -> None:
    claims_nothing = Path("/proc/self/status")  # a regular file whose size reads as 0
    if not claims_nothing.is_file() or claims_nothing.stat().st_size != 0:
        pytest.skip("needs Linux /proc")
    with pytest.raises(Exception, match="holds more than 64 bytes; at most 64 bytes is read"):
        read_bounded_bytes(claims_nothing, 64, "Test file")
    assert read_bounded_bytes(claims_nothing, 2**20, "Test file").startswith(b"Name:")
    with pytest.raises(Exception, match="is not a regular file \\(it is a directory\\)"):
        read_bounded_bytes(tmp_path, 64, "Test file")


# ----------------------------------------------------------------------------- exports


FORMULAS = ('=HYPERLINK("http://x","y")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)")


def test_csv_export_neutralises_formula_cells(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_result(results, zs_run(FORMULAS[1], 0.6, backbone=FORMULAS[0], prompt=FORMULAS[2]), specs())
    write_result(results, zs_run("up2", 0.4, t=-5, backbone=FORMULAS[3]), specs())
    reported = tmp_path / "reported.toml"
    reported.write_text(
        '[[reported]]\ndataset = "synthetic"\nmethod = "=1+1"\nbackbone = "@x"\nsource = "-y"\n'
        'metrics = { "mAP@all" = 0.5 }\n',
        encoding="utf-8",
    )
    rows = list(csv.DictReader(io.StringIO(leaderboard_csv(load_leaderboard(results, reported, specs())))))
    for row in rows:
        for column, cell in row.items():
            numeric = column in ("t", "value", "low", "high") and cell not in ("",)
            if numeric:
                float(cell)  # numbers stay numbers
            else:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (column, cell)
    backbones = {row["backbone"] for row in rows}
    assert {f"'{FORMULAS[0]}", f"'{FORMULAS[3]}", "'@x"} <= backbones  # the text is kept, made inert
    assert {row["layer"] for row in rows if row["kind"] == "measured"} == {f"'{FORMULAS[1]}", "up2"}
    assert "-5" in {row["t"] for row in rows}
    assert {(row["name"], row["source"]) for row in rows if row["kind"] == "reported"} == {("'=1+1", "'-y")}
    assert {float(row["value"]) for row in rows if row["kind"] == "measured"} == {0.6, 0.5, 0.4}


def test_latex_export_escapes_every_special(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_result(results, zs_run("up1", 0.6, backbone="[b]*<c>|d & 5% $#_{}~^\\end"), specs())
    text = leaderboard_latex(load_leaderboard(results, None, specs()))
    row = next(line for line in text.splitlines() if "end" in line and "textbackslash" in line)
    assert row.startswith(
        r"{[}b{]}{*}\textless{}c\textgreater{}\textbar{}d \& 5\% \$\#\_\{\}\textasciitilde{}"
        r"\textasciicircum{}\textbackslash{}end & up1"
    )


# ----------------------------------------------------------------------------- intervals


def _with_bounds(folder: Path, bounds: list[float]) -> Path:
    path = write_result(folder, zs_run("up1", 0.5), specs())
    data = json.loads(path.read_text(encoding="utf-8"))
    data["intervals"] = {
        "level": 0.95,
        "method": "percentile bootstrap",
        "unit": "query",
        "resamples": 1000,
        "seed": 0,
        "bounds": {"mAP@all": bounds},
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.slow
def test_an_interval_that_contradicts_itself_is_refused(tmp_path: Path) -> None:
    path = _with_bounds(tmp_path / "results", [0.6, 0.4])
    problem = "intervals.bounds.mAP@all = [0.6, 0.4] (a list): its low end 0.6 is above its high end"
    stderr = one_message(run_bench("leaderboard", str(tmp_path / "results")))
    assert str(path) in stderr and problem in stderr


@pytest.mark.slow
def test_the_committed_results_still_read() -> None:
    page = ["--reported-sections", "all", "--output", "leaderboard/README.md"]  # as regenerate.sh makes it
    check = run_bench("leaderboard", "leaderboard/results", *page, "--check", cwd=REPO)
    assert check.returncode == 0, check.stderr
    recorded = [p for p in find_result_files(REPO / "results") if "schema_version" in p.read_text("utf-8")]
    assert len(recorded) > 100 and sum(bool(read_result(path, specs()).intervals) for path in recorded) > 0


# ----------------------------------------------------------------------------- unwritable outputs


def _unwritable(tmp_path: Path, case: str, name: str) -> Path:
    """An output path below a file (``case`` "below-a-file") or a link to a full device."""
    if case == "below-a-file":
        (tmp_path / "file").write_text("x", encoding="utf-8")
        return tmp_path / "file" / name
    link = tmp_path / name
    link.symlink_to("/dev/full")
    return link


@pytest.mark.parametrize("case", ["below-a-file", "full-device"])
def test_leaderboard_output_that_cannot_be_written_is_one_message(tmp_path: Path, case: str) -> None:
    write_result(tmp_path / "results", zs_run("up1", 0.6), specs())
    output = _unwritable(tmp_path, case, "README.md")
    stderr = one_message(run_bench("leaderboard", str(tmp_path / "results"), "--output", str(output)))
    assert f"Cannot write the leaderboard to {str(output)!r}" in stderr and "--output" in stderr


@pytest.mark.parametrize("case", ["below-a-file", "full-device"])
def test_plot_sweep_output_that_cannot_be_written_is_one_message(tmp_path: Path, case: str) -> None:
    results = tmp_path / "results"
    for layer, t in (("up1", 50), ("up1", 273)):
        write_result(results, zs_run(layer, 0.5, t=t), specs())
    output = _unwritable(tmp_path, case, "sweep.png")
    stderr = one_message(run_bench("plot", "sweep", str(results), "--output", str(output), "--dpi", "50"))
    assert f"Cannot write the figure to {str(output)!r}" in stderr and "--output" in stderr


# ----------------------------------------------------------------------------- odd values


def test_plot_sweep_names_a_results_file_whose_t_is_text(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_result(results, zs_run("up1", 0.5, t=50), specs())
    odd = write_result(results, zs_run("up1", 0.4, t="late"), specs())
    stderr = one_message(run_bench("plot", "sweep", str(results), "--output", str(tmp_path / "s.png")))
    assert str(odd) in stderr and "t = 'late' (text)" in stderr and "timestep" in stderr


def test_layer_names_with_unicode_digits_sort_naturally(tmp_path: Path) -> None:
    from bench_plots.sweep_data import load_sweep

    results = tmp_path / "results"
    for layer in ("up10", "up1²", "up2", "up¹", "up1"):
        for t in (50, 273):
            write_result(results, zs_run(layer, 0.5, t=t), specs())
    text = render_leaderboard(results, None, specs())
    layers = [line.split(" | ")[0].strip("| ") for line in text.splitlines() if line.startswith("| up")]
    assert layers == ["up1", "up1²", "up2", "up10", "up¹"]
    (panel,) = load_sweep(results)
    assert panel.layers == ("up1", "up1²", "up2", "up10", "up¹")
