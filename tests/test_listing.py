"""`bench list` and `bench plugins` for people (short tables) and programs (typed --json)."""

from __future__ import annotations

import json
import re

from tests.helpers.cli import run_bench

SNAKE_CASE = re.compile(r"[a-z][a-z0-9_]*")


def test_bench_list_is_a_short_overview_without_per_tap_rows():
    result = run_bench("list")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Backbones" in out and "Prompt schemes" in out and "Datasets" in out
    assert "block-12" not in out and "Layers of" not in out and "Stride" not in out  # no tap rows
    assert "`bench list layers --backbone ID`" in out
    assert len(out.splitlines()) < 150  # the taps of every ViT made it 1,780 lines


def test_bench_list_fits_in_100_columns_one_line_per_component(tmp_path):
    """The short overview was 80 lines of 200 columns (descriptions wrapped over several lines)."""
    long_description = tmp_path / "wordy.py"
    long_description.write_text(
        "import bench\n\n@bench.hookimpl\ndef register_backbones(register):\n"
        "    register(bench.BackboneInfo(id='wordy-net', target='x:y', description='many words ' * 40,\n"
        "             layers=(bench.TapInfo('v', 8, 0),), default_layer='v', weights='none',\n"
        "             image_size=32))\n"
    )
    result = run_bench("list", "--plugin", str(long_description))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100, "\n".join(line for line in lines if len(line) > 100)
    listed = json.loads(run_bench("list", "--json", "--plugin", str(long_description)).stdout)
    for key, name in (("backbones", "id"), ("prompt_schemes", "usage"), ("datasets", "id")):
        for row in listed[key]:
            assert sum(line.startswith(f"│ {row[name]} ") for line in lines) == 1, row[name]
    rows = sum(len(listed[key]) for key in ("backbones", "backbone_families", "prompt_schemes", "datasets"))
    assert len(lines) == rows + 4 * 5 + 1  # each table: title, 3 header lines, bottom rule; the hint
    assert any(line.startswith("│ wordy-net ") and line.endswith("… │") for line in lines)
    full = run_bench("list", "backbones", "--plugin", str(long_description)).stdout  # every column, word
    assert "Timesteps" in full and "many words many words many words" in full


def test_a_backbones_taps_list_each_tap_once_with_its_other_names():
    table = run_bench("list", "layers", "--backbone", "clip-tiny")
    assert table.returncode == 0, table.stderr
    rows = [line for line in table.stdout.splitlines() if line.startswith("│ block")]
    assert len(rows) == 4 and "block-2" in rows[0] and "block0" in rows[0]  # one row, both names
    assert not any(row.startswith("│ block-") for row in rows)
    listed = json.loads(run_bench("list", "--backbone", "clip-tiny", "--json").stdout)
    assert set(listed) == {"layers", "layer_selectors"}
    layers = {row["name"]: row for row in listed["layers"]}
    assert list(layers) == ["block0", "block0.cls", "block1", "block1.cls", "embed"]
    assert layers["block0"]["aliases"] == ["block-2"] and layers["block0"]["channels"] == 64
    assert layers["block0"]["stride"] == 8 and layers["block0"]["kind"] == "map"
    assert layers["block0"]["description"] == "output of block 1 of 2: patch tokens as a map"
    assert layers["embed"]["stride"] is None and layers["embed"]["kind"] == "vector"
    assert layers["embed"]["aliases"] == [] and layers["embed"]["default"] is True


def test_list_json_has_snake_case_keys_and_typed_values():
    listed = json.loads(run_bench("list", "--json").stdout)
    assert set(listed) == {"backbones", "backbone_families", "prompt_schemes", "datasets"}
    for section, rows in listed.items():
        assert SNAKE_CASE.fullmatch(section)
        for row in rows:
            assert all(SNAKE_CASE.fullmatch(key) for key in row), row
            assert "–" not in row.values() and "yes" not in row.values(), row  # no display text
    backbones = {row["id"]: row for row in listed["backbones"]}
    sd = backbones["sd-tiny"]
    assert (sd["image_size"], sd["num_timesteps"], sd["weights_status"]) == (128, 1000, "random")
    assert sd["accepts_text"] is True and sd["num_layers"] == 9 and sd["licence"] is None
    assert backbones["vit-tiny"]["num_timesteps"] is None
    assert backbones["vit-tiny"]["learnable_prompts"] == ["visual"]
    datasets = {row["id"]: row for row in listed["datasets"]}
    assert datasets["synthetic"]["columns"] == ["mAP@all", "P@10"]
    assert datasets["synthetic"]["needs_root"] is False and "num_unseen" in datasets["synthetic"]["options"]
    prompts = {row["id"]: row for row in listed["prompt_schemes"]}
    assert prompts["text"]["takes_argument"] is True and prompts["text"]["usage"] == "text:<argument>"
    layers = json.loads(run_bench("list", "layers", "--json").stdout)
    summary = {row["backbone"]: row for row in layers["backbone_layers"]}
    assert summary["sd-tiny"]["layers"] == [
        "down0",
        "down1",
        "down2",
        "down3",
        "mid",
        "up0",
        "up1",
        "up2",
        "up3",
    ]
    assert {"coarse", "fine"} <= set(summary["sd-tiny"]["selectors"])


def test_backbone_option_with_another_kind_is_refused():
    result = run_bench("list", "datasets", "--backbone", "sd-tiny")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "--backbone lists a backbone's layers" in result.stderr
    assert "bench list layers --backbone sd-tiny" in result.stderr
