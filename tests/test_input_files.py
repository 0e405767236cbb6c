"""Every file the toolkit reads is validated at the edge: config files, learned-prompt headers,
results files and reported numbers end in one clear message (no traceback, nothing written) when
malformed, and strings from results files render as literal text.

Prompt files are written here byte by byte (the safetensors layout: an 8-byte header length, the
JSON header, the tensor bytes), as a damaged or hand-made file would be.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.results.schema import RunResult, read_result, write_result
from tests.helpers.cli import run_bench
from tests.helpers.input_files import DEEP_MARK, good_header, json_text, write_prompt_file
from tests.helpers.retrieval import specs

BASE_CONFIG = {"backbone": ["vit-tiny"], "dataset": ["synthetic"]}


def _one_error(result) -> str:
    """The run failed with exactly one message and no traceback; returns stderr."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("Error:") == 1, result.stderr
    return result.stderr


def _run_config(tmp_path: Path, config: dict[str, Any], name: str = "c.yaml"):
    out, cache = tmp_path / "out", tmp_path / "cache"
    path = tmp_path / name
    full = {"output_dir": str(out), "cache_dir": str(cache), **config}
    path.write_text(yaml.safe_dump(full) if name.endswith(".yaml") else config["__toml__"], encoding="utf-8")
    result = run_bench("run", "--config", str(path))
    return result, out, cache


# ----------------------------------------------------------------------------- config files


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('batch_size = "4"', "batch_size = '4' (text): allowed: an integer from 1 to 65536"),
        ("noise_samples = 1.5", "noise_samples = 1.5 (a number): allowed: an integer from 1 to 1024"),
        ("data_root = 5", "data_root = 5 (an integer): allowed: a path, or a table of id = path"),
        ('image_size = "64"', "image_size = '64' (text): allowed: a size in pixels"),
        ('seed = "0"', "seed = '0' (text): allowed: an integer from 0 to 2**63 - 1"),
        ("output_dir = 5", "output_dir = 5 (an integer): allowed: a path"),
        ("workers = -3", "workers = -3 (an integer): allowed: an integer from 0 to 256"),
        ('dtype = "i32"', "dtype = 'i32' (text): should be 'fp32', 'tf32', 'fp16' or 'bf16'"),
        ("plugins = 4", "plugins[0] = 4 (an integer): should be text"),
        ("strict = 1", "strict = 1 (an integer): should be true or false"),
        ("train = { lr = nan }", "train: lr = nan (a number): allowed: a number above 0"),
        ('train = { epochs = "x" }', "train: epochs = 'x' (text): allowed: an integer from 1"),
        ('ablation = { name = "x", vary = { t = 5 } }', "ablation.vary.t = 5 (an integer): should be a list"),
        ("colour = 1", "colour is not a valid key"),
    ],
)
def test_a_config_value_of_the_wrong_type_or_range_is_one_message(tmp_path, toml, expected):
    output = "" if toml.startswith("output_dir") else f'output_dir = "{tmp_path}/out"\n'
    text = f'backbone = "vit-tiny"\ndataset = "synthetic"\n{output}{toml}\n'
    result, out, cache = _run_config(tmp_path, {"__toml__": text}, "c.toml")
    stderr = _one_error(result)
    assert "c.toml" in stderr and expected in stderr
    assert not out.exists() and not cache.exists()


def test_config_nesting_and_size_are_bounded(tmp_path):
    deep: Any = 1
    for _ in range(40):
        deep = {"a": deep}
    result, out, _ = _run_config(tmp_path, {**BASE_CONFIG, "dataset_options": deep})
    assert "nests tables or lists more than 16 levels deep" in _one_error(result) and not out.exists()
    huge = tmp_path / "huge.toml"
    huge.write_text("# " + "x" * 2**21 + "\n", encoding="utf-8")
    assert "at most 1 MiB is read" in _one_error(run_bench("run", "--config", str(huge)))


@pytest.mark.slow
def test_command_line_values_the_schema_refuses(tmp_path):
    seed = run_bench("run", "--backbone", "vit-tiny", "--seed", str(2**70), "--output-dir", str(tmp_path))
    assert "--seed = 1180591620717411303424 (an integer): allowed: an integer from 0" in _one_error(seed)
    lr = run_bench("train", "--backbone", "sd-tiny", "--dataset", "synthetic", "--lr", "nan", cwd=tmp_path)
    assert "--lr = nan (a number): allowed: a number above 0, at most 10" in _one_error(lr)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_a_good_config_runs_as_before(tmp_path):
    result, out, _ = _run_config(tmp_path, {**BASE_CONFIG, "batch_size": 32, "workers": 0, "t": [0]})
    assert result.returncode == 0, result.stderr
    assert "--t 0 does not apply to vit-tiny" in result.stderr  # a named config sets t
    assert len(list(out.rglob("*.json"))) == 1


# ----------------------------------------------------------------------------- ignored settings


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "warning"),
    [
        (["--data-root", "/tmp"], "--data-root does not apply to synthetic (generated, not read from disk)"),
        (["--weights", "sd15=x"], "--weights sd15=...: no backbone 'sd15' in this run"),
        (["--train-option", "epochs=2"], "apply only to learned prompt schemes"),
        (["--pool", "flatten"], "--pool flatten does not apply to vit-tiny embed (a vector)"),
        (["--image-size", "100"], "--image-size 100 is not a multiple of vit-tiny's coarsest stride (14 px"),
    ],
)
def test_settings_a_run_cannot_use_are_warned_about(tmp_path, args, warning):
    result = run_bench("run", "--backbone", "vit-tiny", "--dataset", "synthetic", "--output-dir",
                       str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), *args)  # fmt: skip
    assert result.returncode == 0, result.stderr
    stderr = " ".join(result.stderr.split())
    assert "Warning: " in stderr and warning in stderr


# ----------------------------------------------------------------------------- learned prompt files


def _run_prompt(tmp_path: Path, path: Path):
    return run_bench("run", "--prompt", f"learned:{path}", "--output-dir", str(tmp_path / "out"),
                     "--cache-dir", str(tmp_path / "cache"))  # fmt: skip


def _deep(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


TENSOR = {"dtype": "F32", "shape": [3, 64, 64], "data_offsets": [0, 49152]}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda h, t: (["a", "list"], t), "its header is list, not a JSON object"),
        (lambda h, t: ("text", t), "its header is str, not a JSON object"),
        (lambda h, t: ({**h, "layer": 3}, t), "layer = 3 (an integer): allowed: a non-empty name"),
        (lambda h, t: ({**h, "metadata": 3}, t), "metadata is not a valid key"),
        (
            lambda h, t: ({**h, "dataset_options": 5}, t),
            "dataset_options = 5 (an integer): should be a table",
        ),
        (
            lambda h, t: ({**h, "image_size": 10**9}, t),
            "image_size = 1000000000 (an integer): allowed: a size",
        ),
        (lambda h, t: ({**h, "history": DEEP_MARK}, t), "nests too deeply"),
        (
            lambda h, t: ({**h, "training": {"backbone": "x", "dataset": "y", "lr": -1}}, t),
            "training: lr = -1",
        ),
        (lambda h, t: (h, {**t, "visual.photo": {**TENSOR, "dtype": "I32"}}), "dtype = 'I32' (text)"),
        (lambda h, t: (h, {**t, "visual.photo": {**TENSOR, "dtype": "BOOL"}}), "dtype = 'BOOL' (text)"),
        (lambda h, t: (h, {**t, "visual.photo": {**TENSOR, "shape": [3, 32, 32]}}), "has shape [3, 32, 32]"),
        (
            lambda h, t: (h, {"visual.sketch": TENSOR}),
            "its header promises ['visual.photo', 'visual.sketch']",
        ),
    ],
)
def test_a_malformed_prompt_file_is_one_message_before_any_model_loads(tmp_path, change, expected):
    size = 3 * 64 * 64 * 4
    table = {"visual.sketch": TENSOR, "visual.photo": {**TENSOR, "data_offsets": [size, 2 * size]}}
    header, table = change(good_header(), table)
    path = write_prompt_file(tmp_path / "p.safetensors", header, table)
    stderr = _one_error(_run_prompt(tmp_path, path))
    assert expected in " ".join(stderr.split()) and "loading backbone" not in stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_prompt_read_at_another_layer_or_timestep_than_it_was_trained_at_is_noted(tmp_path):
    path = write_prompt_file(tmp_path / "p.safetensors", good_header())  # sd-tiny up1, t 200
    out = ["--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c")]
    result = run_bench("run", "--prompt", f"learned:{path}", "--layer", "up0", "--t", "50", *out)
    assert result.returncode == 0, result.stderr
    stderr = " ".join(result.stderr.split())
    assert "note: the prompt was trained at layer up1; this run reads layer up0 (pass --layer up1" in stderr
    assert "note: the prompt was trained at t 200; this run reads t 50 (pass --t 200" in stderr


def test_a_hand_made_prompt_file_that_is_well_formed_is_accepted(tmp_path):
    from bench.prompts.files import read_header

    header = read_header(write_prompt_file(tmp_path / "p.safetensors", good_header()))
    assert header["parts"] == ["visual"] and header["dataset_options"] == {"num_unseen": 4}


# ----------------------------------------------------------------------------- results files


def good_result(backbone: str = "sd-tiny", note: str | None = None, dataset: str = "synthetic") -> RunResult:
    return RunResult(
        task="zs-sbir",
        config={
            "backbone": backbone,
            "weights": "random",
            "layer": "up1",
            "t": 200,
            "prompt": "none",
            "dataset": dataset,
            "dataset_options": {},
            "noise_samples": 1,
            "seed": 0,
        },  # fmt: skip
        dataset={"id": dataset, "columns": ["mAP@all", "P@10"], "num_queries": 8, "num_gallery": 8},
        metrics={"mAP@all": 0.3, "P@10": 0.2},
        backbone_note=note,
        ablation=[{"study": "s", "axis": "t", "value": 200, "base": True, "order": [0, 0]}],
    )


def _leaderboard(tmp_path: Path, results: Path):
    output = tmp_path / "board.md"
    result = run_bench("leaderboard", str(results), "--output", str(output))
    return result, output


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.pop("metrics"), "metrics is missing (required)"),
        (lambda d: d["ablation"][0].pop("order"), "ablation[0].order is missing"),
        (lambda d: d["ablation"][0].update(order="x"), "ablation[0].order = 'x' (text): should be a list"),
        (lambda d: d["ablation"][0].update(axis=["t"]), "ablation[0].axis = ['t'] (a list): should be"),
        (
            lambda d: d["dataset"].update(columns="mAP@all"),
            "dataset.columns = 'mAP@all' (text): should be a list",
        ),
        (lambda d: d["config"].update(t=[1]), "config.t = [1] (a list): should be an integer or text"),
        (lambda d: d["config"].update(t={"a": 1}), "config.t = {'a': 1} (a table): should be an integer or"),
        (lambda d: d["metrics"].update({"mAP@all": math.nan}), "should be a finite number"),
        (lambda d: d["metrics"].update({"mAP@all": math.inf}), "should be a finite number"),
        (lambda d: d["metrics"].update({"mAP@all": 1.5}), "metric mAP@all = 1.5 is outside 0..1"),
        (
            lambda d: d["metrics"].update({"mAP@all": "high"}),
            "metrics.mAP@all = 'high' (text): should be a number",
        ),
        (lambda d: d["runtime"].update(deep=_deep(40)), "nests tables or lists more than 16 levels deep"),
        (lambda d: d["runtime"].update(deep=DEEP_MARK), "nests too deeply to read"),
        (lambda d: d.update(schema_version=7), "schema_version 7"),
    ],
)
def test_a_malformed_results_file_is_one_message_naming_it(tmp_path, change, expected):
    path = write_result(tmp_path / "results", good_result(), specs())
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json_text(data))
    result, output = _leaderboard(tmp_path, tmp_path / "results")
    stderr = " ".join(_one_error(result).split())
    assert path.name in stderr and expected in stderr
    assert not output.exists()


def test_schema_version_1_files_are_migrated(tmp_path):
    path = write_result(tmp_path, good_result(), specs())
    data = json.loads(path.read_text())
    data["schema_version"] = 1
    data.pop("provenance")
    data["versions"] = {"torch": "2.1"}
    path.write_text(json.dumps(data))
    assert read_result(path, specs()).provenance == {"libraries": {"torch": "2.1"}}


INJECTED = [
    "<img src=x onerror=alert(1)><script>alert(2)</script>",
    "[click me](javascript:alert(1)) ![t](http://tracker.example/track.png)",
    "**bold** | a pipe [^1] `code` $x$",
]


def test_strings_from_results_files_render_as_literal_text(tmp_path):
    from markdown_it import MarkdownIt  # rich's markdown parser: CommonMark with GFM tables

    for index, name in enumerate(INJECTED):
        write_result(
            tmp_path / "results", good_result(backbone=name, note=name, dataset=f"d{index}"), specs()
        )
    result, output = _leaderboard(tmp_path, tmp_path / "results")
    assert result.returncode == 0, result.stderr
    page = MarkdownIt("commonmark").enable("table").render(output.read_text())
    for element in ("<img", "<script", 'href="javascript', "<strong>bold", "<code>code</code>"):
        assert element not in page, element
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page and "[click me](javascript:alert(1))" in page
    assert "**bold** | a pipe [^1] `code` $x$" in page.replace("&quot;", '"')


# ----------------------------------------------------------------------------- fuzz

# values no schema key accepts (not finite, or nested far too deep), and unknown keys
JUNK = [math.nan, -math.inf, _deep(30)]


def _mutations(data: dict[str, Any], rng: random.Random, count: int) -> list[dict[str, Any]]:
    """``count`` copies of ``data``, each broken once: a key (at any depth) replaced by junk or
    removed where required, or an unknown key added."""
    paths = []

    def walk(value: Any, path: tuple) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                paths.append((*path, key))
                walk(child, (*path, key))

    walk(data, ())
    broken = []
    for _ in range(count):
        copy = json.loads(json.dumps(data))
        path = rng.choice(paths)
        parent = copy
        for key in path[:-1]:
            parent = parent[key]
        if rng.random() < 0.2:
            parent[f"unknown_{rng.randrange(100)}"] = 1 if parent is copy else math.nan
        else:
            parent[path[-1]] = rng.choice(JUNK)
        broken.append(copy)
    return broken


@pytest.mark.slow
def test_fuzz_malformed_configs_headers_and_results(tmp_path):
    rng = random.Random(13)
    config = {**BASE_CONFIG, "t": [0], "train": {"epochs": 2}, "dataset_options": {"num_unseen": 4},
              "ablation": {"name": "s", "vary": {"t": [0, 1]}}}  # fmt: skip
    for number, broken in enumerate(_mutations(config, rng, 12)):
        case = tmp_path / f"config{number}"
        case.mkdir()
        result, out, cache = _run_config(case, broken)
        _one_error(result)
        assert not out.exists() and not cache.exists(), broken

    header = {**good_header(), "training": {"backbone": "sd-tiny", "dataset": "synthetic", "lr": 0.01}}
    for number, broken in enumerate(_mutations(header, rng, 12)):
        case = tmp_path / f"header{number}"
        case.mkdir()
        _one_error(_run_prompt(case, write_prompt_file(case / "p.safetensors", broken)))
        assert not (case / "out").exists(), broken

    good = good_result().to_dict(specs())
    for number, broken in enumerate(_mutations(good, rng, 12)):
        case = tmp_path / f"results{number}"
        (case / "results").mkdir(parents=True)
        (case / "results" / "r.json").write_text(json.dumps(broken))
        result, output = _leaderboard(case, case / "results")
        _one_error(result)
        assert not output.exists(), broken
