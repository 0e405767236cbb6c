"""The worked plugin example of docs/plugins.md: it is the file in examples/, and `bench run` uses it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bench_datasets.synthetic import SyntheticCategory

from tests.conftest import REPO, run_bench

EXAMPLE = REPO / "examples" / "hog_plugin.py"


def documented_example() -> str:
    doc = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- example-plugin -->\s*```python\n(.*?)```", doc, flags=re.S)
    assert match, "docs/plugins.md lost its worked plugin example"
    return match.group(1)


def hog_run(*options: str) -> list[str]:
    """``bench run`` arguments for the example's backbone on its folder dataset, plus ``options``."""
    return ["run", "--plugin", str(EXAMPLE), "--backbone", "hog", "--dataset", "folders", *options]


def write_folder_dataset(root: Path) -> None:
    """Real image files in the layout the example dataset reads (sketches as PNG with alpha)."""
    source = SyntheticCategory(num_unseen=3, photos_per_class=4, image_size=64)
    for item in source.split("query") + source.split("gallery"):
        image = source.load_image(item)
        name = item.key.rsplit("/", 1)[-1]
        folder = root / item.modality / item.label
        folder.mkdir(parents=True, exist_ok=True)
        if item.modality == "sketch":
            image = image.convert("RGBA")
            image.putalpha(image.convert("L").point(lambda v: 255 - v))  # strokes opaque, paper clear
            image.save(folder / f"{name}.png")
        else:
            image.save(folder / f"{name}.jpg", quality=95)


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
