"""TU-Berlin-ext and QuickDraw-ext adapters on fake trees with the releases' folder names."""

from __future__ import annotations

import pytest
from bench_datasets.classnames import TUBERLIN_SEMPCYC_SPELLINGS
from bench_datasets.quickdraw import QuickDrawExt
from bench_datasets.splits import class_list
from bench_datasets.tuberlin import TuBerlinExt

from bench import BenchError
from tests.helpers.dataset_trees import quickdraw_tree, tuberlin_tree


def keys(items) -> list[str]:
    return sorted(item.key for item in items)


@pytest.fixture(scope="module")
def tuberlin(tmp_path_factory):
    root = tmp_path_factory.mktemp("tuberlin")
    return root, tuberlin_tree(root)


def test_tuberlin_raw_release_reads_the_misspelled_photo_folders(tuberlin):
    root, held = tuberlin
    assert (root / "ImageResized/tshirt").is_dir() and (root / "ImageResized/tromobone").is_dir()
    dataset = TuBerlinExt(root)
    assert keys(dataset.split("query")) == sorted(held["sketches"]) and len(held["sketches"]) == 90
    assert keys(dataset.split("gallery")) == sorted(held["photos"]) and len(held["photos"]) == 90
    shirts = [item for item in dataset.split("gallery") if item.label == "t-shirt"]
    assert shirts and all(item.path.parent.name == "tshirt" for item in shirts)
    train_labels = {item.label for item in dataset.split("train") if item.modality == "photo"}
    assert {"bear (animal)", "giraffe", "wrist-watch", "mouse (animal)"} <= train_labels
    facts = dataset.describe()
    assert facts["split"] == "sake" and facts["unseen_classes"] == 30 and facts["seen_classes"] == 220
    assert facts["layout"] == "release folders"


def test_tuberlin_report_names_the_renamed_folders(tuberlin):
    root, _ = tuberlin
    rows = {row.name: row for row in TuBerlinExt.inspect_root(root).rows}
    assert rows["space shuttle"].folders == "ImageResized/spacesshuttle/"
    assert rows["banana"].folders == ""
    assert (
        rows["bear (animal)"].role == "seen" and rows["bear (animal)"].folders == "ImageResized/bearanimal/"
    )
    assert rows["trombone"].published == {"sketches": 80, "photos": 401}


def test_tuberlin_sake_preprocessed_copy_names_photo_folders_like_the_sketches(tmp_path):
    held = tuberlin_tree(tmp_path, use_ready=True)
    assert (tmp_path / "ImageResized_ready/t-shirt").is_dir()
    dataset = TuBerlinExt(tmp_path)
    assert keys(dataset.split("query")) == sorted(held["sketches"])
    assert keys(dataset.split("gallery")) == sorted(held["photos"])
    assert "_ready" in dataset.describe()["layout"]


def test_tuberlin_sempcyc_split_is_a_named_alternative(tuberlin):
    root, _ = tuberlin
    dataset = TuBerlinExt(root, split="sempcyc")
    expected = {TUBERLIN_SEMPCYC_SPELLINGS.get(n, n) for n in class_list("tuberlin_ext_sempcyc_seed0_unseen")}
    assert {item.label for item in dataset.split("query")} == expected
    assert {"door handle", "walkie talkie"} <= expected
    assert dataset.describe()["split"] == "sempcyc"
    assert not expected & {item.label for item in dataset.split("train")}
    with pytest.raises(BenchError, match="no split 'zs'") as error:
        TuBerlinExt(root, split="zs")
    assert "sake (default), sempcyc" in error.value.hint


def test_tuberlin_photo_folder_no_table_maps_is_an_error_naming_the_class(tmp_path):
    tuberlin_tree(tmp_path)
    (tmp_path / "ImageResized/tshirt").rename(tmp_path / "ImageResized/t_shirt")
    with pytest.raises(BenchError) as error:
        TuBerlinExt(tmp_path)
    message = error.value.message
    assert "unseen class 't-shirt' has no folder in ImageResized/" in message
    assert "'t-shirt' or 'tshirt'" in message and "closest folder there is 't_shirt'" in message


@pytest.fixture(scope="module")
def quickdraw(tmp_path_factory):
    root = tmp_path_factory.mktemp("quickdraw")
    return root, quickdraw_tree(root)


def test_quickdraw_test_set_equals_the_published_list_on_the_files_present(quickdraw):
    root, held = quickdraw
    dataset = QuickDrawExt(root)
    assert keys(dataset.split("query")) == sorted(held["sketches"])
    assert keys(dataset.split("gallery")) == sorted(held["photos"])
    palms = [item for item in dataset.split("gallery") if item.label == "palm tree"]
    assert palms and palms[0].path.parent.name == "palm tree"
    assert any(" " in item.path.name and item.path.suffix == ".jpeg" for item in dataset.split("gallery"))
    assert {item.label for item in dataset.split("train")} == set(class_list("quickdraw_ext_all110")) - set(
        class_list("quickdraw_ext_unseen")
    )
    facts = dataset.describe()
    assert facts["split"] == "dey" and facts["unseen_classes"] == 30 and facts["seen_classes"] == 80


def test_quickdraw_empty_unseen_class_is_an_error(tmp_path):
    quickdraw_tree(tmp_path)
    for path in (tmp_path / "sketches/palm tree").iterdir():
        path.unlink()
    with pytest.raises(BenchError, match="unseen class 'palm tree' has no sketches in sketches/palm tree/"):
        QuickDrawExt(tmp_path)
