"""``bench datasets check``, ``bench list datasets``, bad roots, and one end-to-end run on a fake tree."""

from __future__ import annotations

import json
import shutil

import pytest
from bench_datasets.quickdraw import QuickDrawExt
from bench_datasets.sketchy import Sketchy
from click.testing import CliRunner

from bench import BenchError
from bench.cli.main import build_cli
from bench.registry.manager import load_plugins
from bench.results.schema import read_result
from tests.helpers.cli import run_bench
from tests.helpers.dataset_trees import qmul_tree, sketchy_tree, tuberlin_tree
from tests.helpers.retrieval import specs

YELAMARTHI_LISTS = ("sketchy_yelamarthi_zs0_sketch_zero", "sketchy_yelamarthi_zs0_photo_zero")
REAL_DATASETS = ("sketchy", "sketchy-ext", "tuberlin-ext", "quickdraw-ext", "sketchy-fg", "shoev2", "chairv2")


def bench(*args: str):
    """``bench ARGS`` in this process (fast); the result has exit_code, stdout and stderr."""
    return CliRunner().invoke(build_cli(load_plugins()), list(args), env={"COLUMNS": "250"})


@pytest.fixture(scope="module")
def sketchy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("sketchy")
    sketchy_tree(root, *YELAMARTHI_LISTS)
    return root


def test_list_datasets_shows_each_adapter_with_task_columns_and_splits():
    result = bench("list", "datasets", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.stdout)["datasets"]}
    assert set(REAL_DATASETS) <= set(rows)
    assert rows["sketchy"]["columns"] == ["mAP@200", "P@200"] and rows["sketchy"]["task"] == "zs-sbir"
    assert rows["tuberlin-ext"]["columns"] == ["mAP@all", "P@100"]
    assert rows["quickdraw-ext"]["columns"] == ["mAP@all", "P@200"]
    assert rows["sketchy-fg"]["task"] == "fg-sbir" and rows["sketchy-fg"]["columns"] == ["Acc@1", "Acc@5"]
    assert rows["shoev2"]["columns"] == ["Acc@1", "Acc@5", "Acc@10"] and list(rows["shoev2"]["options"]) == [
        "release"
    ]
    assert (
        list(rows["sketchy-ext"]["options"]) == ["split", "gallery"]
        and "sake | sempcyc" in rows["sketchy-ext"]["description"]
    )
    assert all(rows[d]["plugin"] == "datasets" and rows[d]["needs_root"] is True for d in REAL_DATASETS)


def test_check_prints_counts_per_class_and_split(sketchy_root):
    result = bench("datasets", "check", "sketchy", "--data-root", str(sketchy_root))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Unseen classes (test)" in out and "(published 635)" in out  # bat: 635 sketches in the full list
    assert "Seen classes (training): 104 classes" in out
    assert "Splits" in out and "gallery" in out and "yelamarthi" in out
    assert "note: The query sketches differ from the published list" in out
    assert "323 of 323 decoded images are readable (test splits)" in out and "OK" in out


def test_check_takes_dataset_options_and_lists_seen_classes(sketchy_root):
    result = bench(
        "datasets", "check", "sketchy-ext", "--data-root", str(sketchy_root),
        "--dataset-option", "split=sempcyc", "--dataset-option", "gallery=listed",
        "--all-classes", "--decode", "none",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "sempcyc" in result.stdout
        and "jack-o-lantern" in result.stdout
        and "hot-air_balloon" in result.stdout
    )
    assert "Images were not decoded" in result.stdout
    bad = bench(
        "datasets", "check", "sketchy", "--data-root", str(sketchy_root), "--dataset-option", "split=x"
    )
    assert bad.exit_code == 1 and "takes no option split" in bad.output


def test_check_reports_missing_classes_and_unreadable_files(tmp_path):
    sketchy_tree(tmp_path, *YELAMARTHI_LISTS)
    shutil.rmtree(tmp_path / "EXTEND_image_sketchy/window")
    corrupt = next((tmp_path / "256x256/sketch/tx_000000000000/bat").iterdir())
    corrupt.write_bytes(b"not an image")
    result = bench("datasets", "check", "sketchy", "--data-root", str(tmp_path))
    assert result.exit_code == 1
    out = result.stdout
    assert "problem: unseen class 'window' has no folder in EXTEND_image_sketchy/" in out
    assert f"unreadable: Could not read image {str(corrupt)!r}" in out
    assert "308 of 309 decoded images are readable" in out
    assert "Expected layout:" in out and "cannot be run from this root" in out


def test_check_on_a_wrong_root_shows_the_expected_layout(tmp_path):
    tuberlin_tree(tmp_path)
    result = bench("datasets", "check", "sketchy", "--data-root", str(tmp_path))
    assert result.exit_code == 1
    assert "does not hold Sketchy (Yelamarthi split)" in result.output
    assert "It looks like TU-Berlin-ext (--dataset tuberlin-ext)." in result.output
    assert "<root>/EXTEND_image_sketchy/<class>/*.jpg" in result.output
    missing = bench("datasets", "check", "shoev2", "--data-root", str(tmp_path / "nowhere"))
    assert missing.exit_code == 1 and "does not exist" in missing.output and "release (a)" in missing.output


def test_check_works_for_datasets_without_an_inspection(tmp_path):
    result = bench(
        "datasets", "check", "synthetic", "--dataset-option", "num_unseen=2",
        "--dataset-option", "photos_per_class=2", "--dataset-option", "image_size=32",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Unseen classes (test)" in result.stdout and "Query" in result.stdout
    assert "OK: `bench run --dataset synthetic` can read it." in result.stdout


@pytest.mark.parametrize("make_root", ["missing", "file", "empty"])
def test_bad_roots_name_the_path_and_show_the_layout(tmp_path, make_root):
    root = tmp_path / "root"
    if make_root == "file":
        root.write_text("")
    elif make_root == "empty":
        root.mkdir()
    with pytest.raises(BenchError) as error:
        QuickDrawExt(root)
    words = {"missing": "does not exist", "file": "is not a directory", "empty": "is empty"}[make_root]
    assert str(root) in error.value.message and words in error.value.message
    assert "<root>/sketches/<class>/<key id>.png" in error.value.hint


def test_corrupt_image_fails_when_decoded_naming_the_file(sketchy_root, tmp_path):
    qmul_tree(tmp_path, "ShoeV2", "b")
    (tmp_path / "testA/2429245009_1.png").write_bytes(b"\x89PNG broken")
    from bench_datasets.qmul import ShoeV2

    dataset = ShoeV2(tmp_path)
    item = next(i for i in dataset.split("query") if i.path.name == "2429245009_1.png")
    with pytest.raises(BenchError, match="2429245009_1.png"):
        dataset.load_image(item)
    sketch = Sketchy(sketchy_root).split("query")[0]
    image = Sketchy(sketchy_root).load_image(sketch)
    assert image.mode == "RGB" and image.getpixel((0, 0)) == (255, 255, 255)  # alpha onto white


@pytest.mark.slow
def test_bench_run_on_a_fake_sketchy_tree_records_split_and_gallery(tmp_path):
    root = tmp_path / "Sketchy"
    sketchy_tree(root, *YELAMARTHI_LISTS, sketches_per_photo=1)
    result = run_bench(
        "run", "--backbone", "sd-tiny", "--dataset", "sketchy", "--data-root", str(root),
        "--dataset-option", "gallery=listed", "--image-size", "64", "--output-dir", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "mAP@200" in result.stdout and "P@200" in result.stdout
    (path,) = (tmp_path / "out").rglob("*.json")
    recorded = read_result(path, specs())
    assert recorded.config["dataset_options"] == {"gallery": "listed"}
    assert recorded.dataset["columns"] == ["mAP@200", "P@200"]
    assert recorded.dataset["num_queries"] == 42 and recorded.dataset["num_gallery"] == 126
    assert recorded.dataset["split"] == "yelamarthi" and recorded.dataset["gallery_rule"] == "listed"
    assert recorded.dataset["gallery_unique"] is False and recorded.dataset["gallery_duplicates"] == 42
    assert 0 <= recorded.metrics["mAP@200"] <= 1 and set(recorded.metrics) >= {"mAP@200", "P@200", "mAP@all"}
