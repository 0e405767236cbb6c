"""Per-query logs that keep every relevant rank, `bench rescore`, and `bench plot retrievals`.

One tiny run (vit-tiny and clip-tiny, random weights, on small generated benchmarks of each
built-in task) with --log-samples serves every test.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

import bench
from bench.evaluation import samples
from tests.helpers.cli import run_bench
from tests.helpers.retrieval import specs

OPTIONS = ["--dataset-option", "num_unseen=3", "--dataset-option", "photos_per_class=4"]
SCENES = ["--dataset-option", "scenes=12"]
DATASETS = {
    "synthetic": {"num_unseen": 3, "photos_per_class": 4},
    "synthetic-fg": {"num_unseen": 3, "photos_per_class": 4},
    "synthetic-scene": {"scenes": 12},
}
TASKS = {"synthetic": "zs-sbir", "synthetic-fg": "fg-sbir", "synthetic-scene": "scene-sbir"}
NOT_REPORTED = ["mAP@200", "P@100", "MeanR", "MedR", "R@5", "Acc@3", "mAP@all[plain]"]
DPI = ["--dpi", "50"]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Results files and per-query logs of vit-tiny and clip-tiny on the three tasks' benchmarks
    (descriptors cached in float32, so the Python API's descriptors are the same numbers)."""
    folder = tmp_path_factory.mktemp("retrievals") / "results"
    datasets = [arg for name in DATASETS for arg in ("--dataset", name)]
    result = run_bench(
        "run", "--backbone", "vit-tiny", "--backbone", "clip-tiny", *datasets, *OPTIONS, *SCENES,
        "--cache-dtype", "fp32", "--workers", "0", "--log-samples", "--output-dir", str(folder),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return folder


def files(out: Path, dataset: str, backbone: str = "vit-tiny") -> tuple[Path, Path]:
    """(results file, per-query log) of ``backbone`` on ``dataset``."""
    (results,) = (out / dataset).glob(f"{backbone}_*[0-9a-f].json")
    return results, samples.samples_path(results)


def metrics_of(path: Path) -> dict[str, float]:
    return bench.read_result(path, specs()).metrics


def one_line(text: str) -> str:
    return " ".join(text.split())


# ----------------------------------------------------------------------------- bench rescore


def test_rescore_equals_every_tasks_results_file_to_the_last_bit(out: Path) -> None:
    logs = [files(out, dataset)[1] for dataset in DATASETS]
    result = run_bench("rescore", *map(str, logs), "--json")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    for dataset, log in zip(DATASETS, logs, strict=True):
        assert bench.read_query_log(log).task == TASKS[dataset]
        assert values[str(log)] == metrics_of(files(out, dataset)[0])  # floats compared exactly
        assert f"{log}: equal to {files(out, dataset)[0].name} to the last bit" in one_line(result.stderr)
    table = run_bench("rescore", *map(str, logs))
    assert table.returncode == 0 and "Acc@1" in table.stdout and "MedR" in table.stdout


def test_rescore_computes_metrics_the_run_did_not_report(out: Path) -> None:
    """Equal, to the last bit, to scoring the same descriptors with those metrics through the
    Python API (extraction and ranking of their own, not the log)."""
    registry = bench.plugin_registry()
    backbone = bench.load_backbone("vit-tiny", device="cpu", registry=registry)
    for dataset, options in DATASETS.items():
        results, log = files(out, dataset)
        assert not set(NOT_REPORTED) <= set(metrics_of(results))
        metric_options = [arg for name in NOT_REPORTED for arg in ("--metric", name)]
        rescored = run_bench("rescore", str(log), *metric_options, "--json")
        assert rescored.returncode == 0, rescored.stderr
        opened = bench.open_dataset(dataset, options=options, registry=registry)
        queries, gallery = opened.split("query"), opened.split("gallery")
        query_features = bench.descriptors(backbone, queries, dataset=opened, registry=registry)
        gallery_features = bench.descriptors(backbone, gallery, dataset=opened, registry=registry)
        expected = bench.score(
            query_features, gallery_features, queries, gallery, dataset=dataset, metrics=NOT_REPORTED,
            registry=registry,
        )  # fmt: skip
        assert json.loads(rescored.stdout)[str(log)] == expected


def test_a_value_off_by_one_bit_is_reported_and_exits_1(out: Path, tmp_path: Path) -> None:
    results, log = files(out, "synthetic-fg")
    data = json.loads(results.read_text())
    value = data["metrics"]["Acc@5"]
    data["metrics"]["Acc@5"] = math.nextafter(value, 0.0 if value else 1.0)  # the next float
    changed = tmp_path / "elsewhere" / results.name
    changed.parent.mkdir()
    changed.write_text(json.dumps(data))
    result = run_bench("rescore", str(log), "--compare", str(tmp_path))
    assert result.returncode == 1
    assert f"differs from {results.name}: Acc@5" in one_line(result.stderr)
    assert "Traceback" not in result.stderr
    unknown = run_bench("rescore", str(log), "--metric", "mAP@al")
    assert unknown.returncode == 1 and "Unknown metric 'mAP@al' in --metric. Did you mean 'mAP@all'?" in (
        one_line(unknown.stderr)
    )


def _as_version_1(log: Path, target: Path) -> Path:
    """``log`` rewritten as the toolkit wrote logs before version 2 (first rank, metrics, top keys)."""
    header, rows = samples.read_samples(log)
    old = {key: header[key] for key in ("format", "run", "task", "metrics", "top_k")} | {"version": 1}
    kept = ("query", "class", "evaluated", "rank", "metrics", "top")
    lines = [json.dumps(old), *(json.dumps({key: row[key] for key in kept}) for row in rows)]
    target.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    return target


def test_a_version_1_log_serves_the_metrics_it_recorded_and_refuses_others(out: Path, tmp_path: Path) -> None:
    for dataset in DATASETS:
        results, log = files(out, dataset)
        old = _as_version_1(log, tmp_path / f"{dataset}{samples.SUFFIX}")
        result = run_bench("rescore", str(old), "--compare", str(results), "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)[str(old)] == metrics_of(results)
        refused = run_bench("rescore", str(old), "--metric", "P@100")
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        message = one_line(refused.stderr)
        assert "but not every rank P@100 needs (a version-1 log" in message and "cannot give them" in message
        assert "rerun its run with `bench run --log-samples`" in message


def test_reading_a_log_is_bounded(out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, log = files(out, "synthetic")
    header = gzip.decompress(log.read_bytes()).split(b"\n", 1)[0]
    bomb = tmp_path / f"bomb{samples.SUFFIX}"  # 80 MiB of zeros on one line: 80 KB on disk
    bomb.write_bytes(gzip.compress(header + b"\n" + bytes(80 * 2**20), compresslevel=9, mtime=0))
    assert bomb.stat().st_size < 2**20
    result = run_bench("rescore", str(bomb))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "has a line longer than 64 MiB; lines of at most 64 MiB are read" in one_line(result.stderr)
    size, inflated = log.stat().st_size, len(gzip.decompress(log.read_bytes()))
    monkeypatch.setattr(samples, "MAX_LOG_BYTES", (size + inflated) // 2)
    with pytest.raises(bench.BenchError, match="decompresses to more than"):
        bench.read_query_log(log)
    monkeypatch.setattr(samples, "MAX_LOG_BYTES", size - 1)
    with pytest.raises(bench.BenchError, match="holds more than"):
        bench.read_query_log(log)
    monkeypatch.undo()
    for name, data in (("cut", log.read_bytes()[:-20]), ("plain", b'{"format": "x"}\n')):
        broken = tmp_path / f"{name}{samples.SUFFIX}"
        broken.write_bytes(data)
        result = run_bench("rescore", str(broken))
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "is not readable gzip data" in one_line(result.stderr)


# ----------------------------------------------------------------------------- bench plot retrievals


def chosen_keys(stdout: str) -> list[str]:
    """The query keys `bench plot retrievals` says it showed."""
    return re.search(r"\): (\S.*?) Wrote", one_line(stdout)).group(1).split(", ")


def plot(*args: str) -> str:
    result = run_bench("plot", "retrievals", *args, *DPI)
    assert result.returncode == 0, result.stderr
    return result.stdout


def svg_text(path: Path) -> str:
    """The text of an SVG figure's labels (kept as text: svg.fonttype none)."""
    return " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", path.read_text(encoding="utf-8")))


@pytest.mark.slow
def test_a_results_file_and_its_log_give_the_same_figure(out: Path, tmp_path: Path) -> None:
    """Re-ranking the cached descriptors finds exactly what the log kept: the same bytes."""
    results, log = files(out, "synthetic")
    from_results = plot(str(results), "--random", "3", "--output", str(tmp_path / "results.png"))
    assert "re-ranked from the cached descriptors" in from_results
    assert f"per-query log {log.name}" in plot(
        str(log), "--random", "3", "--output", str(tmp_path / "log.png")
    )
    assert (tmp_path / "results.png").read_bytes() == (tmp_path / "log.png").read_bytes()
    with Image.open(tmp_path / "results.png") as image:
        assert image.format == "PNG"


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_the_same_inputs_give_the_same_file(out: Path, tmp_path: Path, suffix: str) -> None:
    results, _ = files(out, "synthetic-fg")
    first, second = tmp_path / f"first{suffix}", tmp_path / f"second{suffix}"
    for path in (first, second):
        plot(str(results), "--worst", "2", "--output", str(path))
    assert first.read_bytes() == second.read_bytes()
    assert b"Matplotlib v" not in first.read_bytes()  # creator fields fixed, no version or date


@pytest.mark.slow
def test_configurations_side_by_side_on_the_same_queries(out: Path, tmp_path: Path) -> None:
    vit, _ = files(out, "synthetic")
    _, clip_log = files(out, "synthetic", "clip-tiny")
    figure = tmp_path / "both.svg"
    stdout = plot(str(vit), str(clip_log), "--best", "2", "--top-k", "4", "--output", str(figure))
    text = svg_text(figure)
    assert "vit-tiny · embed" in text and "clip-tiny · embed" in text
    assert text.count("#4 ") == 2 * 2 and "#5 " not in text  # 2 queries x 2 configurations, top 4
    assert "mAP@all" in text and "AP " in text and "same class as the query" in text
    keys = chosen_keys(stdout)
    ap = {
        record.key: record.average_precision
        for record in bench.read_query_log(samples.samples_path(vit)).queries
    }
    assert sorted((ap[key] for key in keys), reverse=True) == sorted(ap.values(), reverse=True)[:2]
    widths = []
    for sources in ([vit], [vit, clip_log]):
        plot(*map(str, sources), "--best", "2", "--top-k", "4", "--output", str(tmp_path / "figure.png"))
        with Image.open(tmp_path / "figure.png") as image:
            widths.append(image.width)
    assert widths[1] > 1.6 * widths[0]


@pytest.mark.slow
def test_paired_tasks_show_the_query_photo_and_its_rank(out: Path, tmp_path: Path) -> None:
    for dataset in ("synthetic-fg", "synthetic-scene"):
        results, log = files(out, dataset)
        figure = tmp_path / f"{dataset}.svg"
        stdout = plot(str(results), "--random", "2", "--seed", "1", "--output", str(figure))
        text = svg_text(figure)
        keys = chosen_keys(stdout)
        records = {record.key: record for record in bench.read_query_log(log).queries}
        for key in keys:
            assert f"its photo: #{records[key].rank}" in text
        assert "the query's own photo" in text and "AP " not in text


@pytest.mark.slow
def test_query_choice_modes(out: Path, tmp_path: Path) -> None:
    results, log = files(out, "synthetic")
    records = bench.read_query_log(log).queries
    chosen = records[4]
    stdout = plot(str(results), "--query", chosen.key, "--output", str(tmp_path / "key.svg"))
    assert f"chosen by key): {chosen.key}" in one_line(stdout)
    assert chosen.label in svg_text(tmp_path / "key.svg")
    drawn = [plot(str(log), "--random", "3", "--output", str(tmp_path / "r.png")) for _ in range(2)]
    keys = chosen_keys(drawn[0])
    assert drawn[0] == drawn[1] and "3 drawn at random (seed 0)" in one_line(drawn[0])
    assert len(set(keys)) == 3 and keys == [r.key for r in records if r.key in keys]  # in query order
    order = sorted(records, key=lambda record: record.average_precision)
    worst = plot(str(log), "--worst", "1", "--output", str(tmp_path / "w.png"))
    assert f"average precision): {order[0].key}" in one_line(worst)
    both = run_bench("plot", "retrievals", str(log), "--best", "2", "--random", "2")
    assert both.returncode == 1 and "--random and --best both choose the queries" in one_line(both.stderr)


def test_clear_errors(out: Path, tmp_path: Path) -> None:
    results, log = files(out, "synthetic")
    empty = tmp_path / "empty-cache"
    empty.mkdir()
    gone = run_bench(
        "plot", "retrievals", str(results), "--cache-dir", str(empty), "--output", str(tmp_path / "x.png")
    )
    message = one_line(gone.stderr)
    assert gone.returncode == 1 and "Traceback" not in gone.stderr
    assert f"The feature cache '{empty}' holds 0 of the 24 descriptors of '{results}'" in message
    assert "Nothing is extracted when re-ranking a results file" in message and "--log-samples" in message
    assert not any(empty.iterdir())  # looking created no store
    old = _as_version_1(log, tmp_path / f"old{samples.SUFFIX}")
    cases = {
        (
            str(old),
        ): "is a version-1 per-query log: it keeps each query's top 10 ids but not their similarities",
        (str(log), "--top-k", "11"): "keeps each query's top 10, fewer than --top-k 11",
        (str(log), "--query", "sketch/none/0"): "No query 'sketch/none/0' in every configuration",
        (str(log), "--random", "64"): "Asked for 64 queries; the configurations share 12 evaluated ones",
        (str(results.with_suffix(".txt")),): "neither a results file (.json) nor a per-query log",
        (
            str(log),
            str(files(out, "synthetic-fg")[1]),
        ): "are runs on different benchmarks (synthetic (num_unseen=3, photos_per_class=4); synthetic-fg",
    }
    for args, expected in cases.items():
        result = run_bench("plot", "retrievals", *args, "--output", str(tmp_path / "x.png"))
        assert result.returncode == 1 and "Traceback" not in result.stderr, args
        assert expected in one_line(result.stderr), (args, result.stderr)
    assert not (tmp_path / "x.png").exists()
    shutil.rmtree(empty)


@pytest.mark.slow
def test_a_probed_runs_results_file_is_refused_and_its_log_is_plotted(tmp_path: Path) -> None:
    """A linear probe's projected descriptors are not cached: the results file of a probed run is one
    message pointing at its log (it used to be 'plans differently now'), and the log plots."""
    folder = tmp_path / "results"
    ran = run_bench("run", "--backbone", "vit-tiny", "--probe", "linear", "--dataset", "synthetic", *OPTIONS,
                    "--workers", "0", "--log-samples", "--output-dir", str(folder))  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    (results,) = (folder / "synthetic").glob("*.json")
    (log,) = (folder / "synthetic").glob(f"*{samples.SUFFIX}")
    refused = run_bench("plot", "retrievals", str(results), "--output", str(tmp_path / "x.png"))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "scored its descriptors through a linear probe (linear)" in one_line(refused.stderr)
    assert "--log-samples" in refused.stderr and not (tmp_path / "x.png").exists()
    assert run_bench("plot", "retrievals", str(log), "--output", str(tmp_path / "x.png")).returncode == 0
    assert (tmp_path / "x.png").stat().st_size > 0
