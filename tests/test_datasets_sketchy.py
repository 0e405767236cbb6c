"""Sketchy adapters on fake trees: ``sketchy``, ``sketchy-ext`` and ``sketchy-fg``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from bench_datasets.layout import canonical_path
from bench_datasets.sketchy import Sketchy, SketchyExt, SketchyFineGrained
from bench_datasets.splits import class_list, file_list

from bench import BenchError
from tests.helpers.dataset_trees import image_bytes, sketchy_tree

YELAMARTHI_LISTS = ("sketchy_yelamarthi_zs0_sketch_zero", "sketchy_yelamarthi_zs0_photo_zero")
SAKE_LISTS = ("sketchy_ext_sake_zs1_sketch_zero", "sketchy_ext_sake_zs1_photo_zero")


@pytest.fixture(scope="module")
def yelamarthi(tmp_path_factory) -> tuple[Path, dict[str, list[str]]]:
    root = tmp_path_factory.mktemp("sketchy")
    return root, sketchy_tree(root, *YELAMARTHI_LISTS)


def keys(items) -> list[str]:
    return sorted(item.key for item in items)


def unique_photos(paths: list[str]) -> list[str]:
    """Published photo paths de-duplicated by (class, file name), keeping the extended-set copy."""
    extended = [p for p in paths if p.startswith("EXTEND")]
    pictures = {tuple(p.split("/")[-2:]) for p in extended}
    originals = [p for p in paths if p not in extended and tuple(p.split("/")[-2:]) not in pictures]
    return sorted(extended + originals)


def test_test_set_equals_the_published_list_on_the_files_present(yelamarthi):
    root, held = yelamarthi
    dataset = Sketchy(root)
    assert keys(dataset.split("query")) == sorted(held["sketches"])
    assert len(dataset.split("query")) == len(held["sketches"])
    gallery = dataset.split("gallery")
    assert keys(gallery) == unique_photos(held["photos"]) and len(gallery) == 21 * 4
    assert {item.label for item in gallery} == set(class_list("sketchy_yelamarthi_unseen"))
    assert all(item.modality == "photo" and item.instance is None for item in gallery)
    facts = dataset.describe()
    assert facts["split"] == "yelamarthi" and facts["gallery_rule"] == "unique"
    assert facts["gallery_unique"] is True and facts["gallery_duplicates"] == 0
    assert facts["unseen_classes"] == 21 and facts["seen_classes"] == 104
    assert facts["published_list"].startswith("differs from")  # a subset of the release


def test_listed_gallery_reproduces_the_list_with_its_duplicates(yelamarthi):
    root, held = yelamarthi
    dataset = Sketchy(root, gallery="listed")
    gallery = dataset.split("gallery")
    assert keys(gallery) == sorted(held["photos"]) and len(gallery) == 21 * 6
    facts = dataset.describe()
    assert facts["gallery_rule"] == "listed"
    assert facts["gallery_unique"] is False and facts["gallery_duplicates"] == 21 * 2
    train_photos = [item for item in dataset.split("train") if item.modality == "photo"]
    assert len(train_photos) == 104  # training photos stay unique


def test_unknown_gallery_rule_and_split_are_errors_listing_the_valid_ones(yelamarthi):
    root, _ = yelamarthi
    with pytest.raises(BenchError, match="no gallery rule 'dedup'") as error:
        Sketchy(root, gallery="dedup")
    assert "unique" in error.value.hint and "listed" in error.value.hint
    with pytest.raises(BenchError, match="no split 'sake'") as error:
        Sketchy(root, split="sake")
    assert "yelamarthi" in error.value.hint
    with pytest.raises(BenchError, match="no split 'val'") as error:
        Sketchy(root).split("val")
    assert "query, gallery, train" in error.value.hint


def test_train_split_holds_the_seen_classes_with_odd_folder_names(yelamarthi):
    root, _ = yelamarthi
    train = Sketchy(root).split("train")
    labels = {item.label for item in train}
    assert len(labels) == 104 and not labels & set(class_list("sketchy_yelamarthi_unseen"))
    assert {"hot-air_balloon", "jack-o-lantern", "car_(sedan)", "teddy_bear", "wine_bottle"} <= labels
    # one sketch and one photo per seen class: the photo in both photo folders counts once
    assert (
        sum(item.modality == "sketch" for item in train)
        == sum(item.modality == "photo" for item in train)
        == 104
    )


def test_sake_split_keeps_the_original_photo_missing_from_the_extended_set(tmp_path):
    held = sketchy_tree(tmp_path, *SAKE_LISTS)
    dataset = SketchyExt(tmp_path)
    camel = [item.key for item in dataset.split("gallery") if item.label == "camel"]
    assert "256x256/photo/tx_000000000000/camel/n02437136_5405.jpg" in camel
    assert keys(dataset.split("gallery")) == unique_photos(held["photos"])
    assert keys(SketchyExt(tmp_path, gallery="listed").split("gallery")) == sorted(held["photos"])
    assert keys(dataset.split("query")) == sorted(held["sketches"])
    assert dataset.describe()["split"] == "sake"


def test_sempcyc_split_is_a_named_alternative(yelamarthi):
    root, _ = yelamarthi
    dataset = SketchyExt(root, split="sempcyc")
    labels = {item.label for item in dataset.split("query")}
    assert labels == {
        "jack-o-lantern" if label == "jack_o_lantern" else label
        for label in class_list("sketchy_ext_sempcyc_seed0_unseen")
    }
    facts = dataset.describe()
    assert facts["split"] == "sempcyc" and "unverified" in facts["split_source"]
    assert facts["published_list"] == "none published for this split"


def test_sake_preprocessed_copy_gives_the_same_items(tmp_path):
    held = sketchy_tree(tmp_path, *YELAMARTHI_LISTS, use_ready=True)
    assert (tmp_path / "256x256/sketch/tx_000000000000_ready").is_dir()
    dataset = Sketchy(tmp_path)
    assert keys(dataset.split("query")) == sorted(held["sketches"])
    assert "_ready" in dataset.describe()["layout"]
    assert all("_ready" in str(item.path) for item in dataset.split("gallery"))


def test_fine_grained_pairs_each_sketch_with_its_photo_in_per_class_galleries(yelamarthi):
    root, held = yelamarthi
    dataset = SketchyFineGrained(root)
    assert dataset.group_by_label
    queries, gallery = dataset.split("query"), dataset.split("gallery")
    assert keys(queries) == sorted(held["sketches"])
    assert keys(gallery) == sorted(p for p in held["photos"] if p.startswith("256x256/"))
    photo_of = {item.instance: item for item in gallery}
    assert len(photo_of) == len(gallery) == 21 * 2
    for sketch in queries:
        photo = photo_of[sketch.instance]
        assert photo.label == sketch.label
        assert sketch.path.name.startswith(photo.path.stem + "-")


def test_fine_grained_sketch_without_its_photo_is_an_error_naming_it(tmp_path):
    sketchy_tree(tmp_path, *YELAMARTHI_LISTS)
    photo = next((tmp_path / "256x256/photo/tx_000000000000/bat").iterdir())
    photo.unlink()
    with pytest.raises(BenchError, match="sketches of unseen class 'bat' have no paired photo") as error:
        SketchyFineGrained(tmp_path)
    assert f"needs {photo.stem}.*" in error.value.message
    assert "bench datasets check sketchy-fg" in error.value.hint
    Sketchy(tmp_path)  # category-level retrieval does not need the pairing


def test_renamed_class_folder_is_an_error_naming_the_class_and_the_closest_folder(tmp_path):
    sketchy_tree(tmp_path, *YELAMARTHI_LISTS)
    sketches = tmp_path / "256x256/sketch/tx_000000000000"
    (sketches / "hot-air_balloon").rename(sketches / "hot_air_balloon")
    shutil.rmtree(sketches / "bat")
    with pytest.raises(BenchError) as error:
        Sketchy(tmp_path)
    assert "unseen class 'bat' has no folder in 256x256/sketch/tx_000000000000/" in error.value.message
    assert "(and 1 more problem)" in error.value.message
    assert "seen class 'hot-air_balloon'" in error.value.hint and "'hot_air_balloon'" in error.value.hint
    assert "Expected layout:" in error.value.hint


@pytest.mark.slow
def test_full_release_lists_give_the_protocol_counts_exactly(tmp_path):
    """The whole Yelamarthi test list as hard links to two tiny files: 12,694 queries vs 10,453 photos."""
    sketch_file, photo_file = tmp_path / "s.png", tmp_path / "p.jpg"
    sketch_file.write_bytes(image_bytes(".png", True))
    photo_file.write_bytes(image_bytes(".jpg", False))
    root = tmp_path / "Sketchy"
    for source, name in ((sketch_file, YELAMARTHI_LISTS[0]), (photo_file, YELAMARTHI_LISTS[1])):
        for path in map(canonical_path, file_list(name)):
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            os.link(source, root / path)
    for label in class_list("sketchy_all125"):
        for folder in (
            "256x256/sketch/tx_000000000000",
            "256x256/photo/tx_000000000000",
            "EXTEND_image_sketchy",
        ):
            (root / folder / label).mkdir(parents=True, exist_ok=True)
    dataset = Sketchy(root)
    assert (len(dataset.split("query")), len(dataset.split("gallery"))) == (12_694, 10_453)
    assert dataset.describe()["published_list"].startswith("identical to")
    listed = Sketchy(root, gallery="listed")
    assert len(listed.split("gallery")) == 12_553 and listed.describe()["gallery_duplicates"] == 2_100
    assert listed.describe()["published_list"].startswith("identical to")
    assert len(SketchyFineGrained(root).split("gallery")) == 2_100
    shutil.rmtree(root)  # 25,000 links: not left for pytest's temp-dir rotation to delete later
