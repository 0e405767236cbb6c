"""QMUL ShoeV2 / ChairV2 on fake trees of both release layouts."""

from __future__ import annotations

import pytest
from bench_datasets.qmul import ChairV2, ShoeV2

from bench import BenchError
from tests.helpers.dataset_trees import qmul_tree


@pytest.mark.parametrize("release", ["a", "b"])
def test_release_is_detected_and_sketches_pair_with_their_photos(tmp_path, release):
    qmul_tree(tmp_path, "ShoeV2", release)
    dataset = ShoeV2(tmp_path)
    assert not dataset.group_by_label
    queries, gallery = dataset.split("query"), dataset.split("gallery")
    assert len(queries) == 6 and len(gallery) == 3
    assert sorted(item.instance for item in gallery) == ["2429245009", "2429245010", "2429245011"]
    assert all(q.instance == q.path.stem.rsplit("_", 1)[0] for q in queries)
    assert {item.label for item in queries + gallery} == {"shoe"}
    train = dataset.split("train")
    assert len(train) == 6 and {item.instance for item in train} == {"1031000079", "1031000080"}
    facts = dataset.describe()
    assert facts["release"] == release and facts["test_sketches"] == 6 and facts["test_photos"] == 3
    notes = ShoeV2.inspect_root(tmp_path).notes
    assert any("published ShoeV2 test set has 200 photos" in note for note in notes)


def test_release_a_lists_pick_the_files_by_stem(tmp_path):
    """sketch_test.txt names .svg files: they match the PNGs by stem; unlisted files are left out."""
    qmul_tree(tmp_path, "ChairV2", "a")
    (tmp_path / "ChairV2_photo/9999.png").write_bytes(
        (tmp_path / "ChairV2_photo/2429245009.png").read_bytes()
    )
    dataset = ChairV2(tmp_path)
    assert len(dataset.split("gallery")) == 3 and len(dataset.split("query")) == 6
    assert "9999" not in {item.instance for item in dataset.split("train")}


def test_both_layouts_in_one_root_must_be_chosen(tmp_path):
    qmul_tree(tmp_path, "ShoeV2", "a")
    qmul_tree(tmp_path, "ShoeV2", "b")
    with pytest.raises(BenchError, match="holds both release layouts") as error:
        ShoeV2(tmp_path)
    assert "release=a" in error.value.hint
    assert ShoeV2(tmp_path, release="b").describe()["release"] == "b"


def test_forced_release_that_is_absent_and_unknown_release_are_errors(tmp_path):
    qmul_tree(tmp_path, "ShoeV2", "a")
    with pytest.raises(BenchError, match=r"no testA/ \+ testB/ \(release b\)"):
        ShoeV2(tmp_path, release="b")
    with pytest.raises(BenchError, match="no release 'c'"):
        ShoeV2(tmp_path, release="c")


def test_chairv2_root_given_to_shoev2_says_what_it_looks_like(tmp_path):
    qmul_tree(tmp_path, "ChairV2", "a")
    with pytest.raises(BenchError, match="does not hold QMUL ShoeV2") as error:
        ShoeV2(tmp_path)
    assert "QMUL ChairV2, release (a) (--dataset chairv2)" in error.value.hint
    assert "release (b): <root>/testA/" in error.value.hint


def test_sketch_whose_photo_is_missing_is_an_error_naming_it(tmp_path):
    qmul_tree(tmp_path, "ShoeV2", "b")
    (tmp_path / "testB/2429245010.png").unlink()
    with pytest.raises(BenchError) as error:
        ShoeV2(tmp_path)
    assert "2 test sketches have no paired photo in testB/" in error.value.message
    assert "2429245010_1.png needs photo 2429245010" in error.value.message


def test_missing_list_and_listed_file_are_errors(tmp_path):
    qmul_tree(tmp_path, "ShoeV2", "a")
    (tmp_path / "photo_test.txt").unlink()
    with pytest.raises(BenchError, match="release \\(a\\) needs photo_test.txt"):
        ShoeV2(tmp_path)
    qmul_tree(tmp_path, "ShoeV2", "a")
    (tmp_path / "ShoeV2_sketch_png/2429245011_2.png").unlink()
    with pytest.raises(BenchError, match="1 sketches named in sketch_test.txt are not in ShoeV2_sketch_png/"):
        ShoeV2(tmp_path)
