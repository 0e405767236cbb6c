"""The worked plugin example of docs/plugins.md: it is the file in examples/, and `bench run` uses it."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers.cli import REPO, run_bench
from tests.helpers.plugin_files import EXAMPLE, hog_run, write_folder_dataset


def documented_example() -> str:
    doc = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- example-plugin -->\s*```python\n(.*?)```", doc, flags=re.S)
    assert match, "docs/plugins.md lost its worked plugin example"
    return match.group(1)


def test_plugins_doc_shows_the_example_file_verbatim():
    assert documented_example() == EXAMPLE.read_text(encoding="utf-8")


@pytest.mark.slow
def test_example_plugin_registers_a_backbone_and_a_dataset_that_bench_run_uses(tmp_path):
    listed = run_bench("list", "--plugin", str(EXAMPLE), "--json")
    tables = json.loads(listed.stdout)
    assert {"id": "hog", "plugin": "file:hog_plugin"}.items() <= next(
        row for row in tables["backbones"] if row["id"] == "hog"
    ).items()
    assert any(row["id"] == "folders" for row in tables["datasets"])

    write_folder_dataset(tmp_path / "data")
    result = run_bench(
        *hog_run("--data-root", str(tmp_path / "data"), "--output-dir", str(tmp_path / "out"), "--json")
    )
    assert result.returncode == 0, result.stderr
    (run,) = json.loads(result.stdout)
    assert run["config"]["backbone"] == "hog" and run["config"]["t"] is None
    assert run["dataset"]["num_queries"] == 12 and run["dataset"]["num_gallery"] == 12
    chance = 4 / 12
    assert run["metrics"]["mAP@all"] > chance  # a hand-made descriptor already beats chance
