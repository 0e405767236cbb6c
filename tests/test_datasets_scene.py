"""Scene-level datasets: FS-COCO on a fake tree of its released layout, and the generated synthetic-scene."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bench_datasets.fscoco import FSCOCO
from bench_datasets.synthetic import CATEGORIES, SyntheticScene
from bench_datasets.synthetic.scenes import GRID, scene_objects

import bench
from bench import BenchError
from bench.plan.query_text import query_texts
from tests.helpers.cli import run_bench
from tests.helpers.dataset_trees import write_images

USERS = ("1", "2", "3")
IDS = {user: [str(int(user) * 1000 + k) for k in range(4)] for user in USERS}  # 4 sketches per user
NORMAL = ["1000", "2001", "3002"]  # one id of each user
UNSEEN_USER = IDS["3"]  # every id of user 3


def fscoco_tree(root: Path) -> Path:
    """A tiny FS-COCO release: per user folder, photos (JPEG), raster sketches (JPEG, one PNG as some
    copies render them), captions, vector-sketch folders the adapter ignores, and both test lists."""
    for user, ids in IDS.items():
        write_images(root, [f"images/{user}/{key}.jpg" for key in ids], sketch=False)
        suffix = {key: ".png" if key == "2003" else ".jpg" for key in ids}
        write_images(root, [f"raster_sketches/{user}/{key}{suffix[key]}" for key in ids], sketch=True)
        (root / "text" / user).mkdir(parents=True)
        for key in ids:
            (root / "text" / user / f"{key}.txt").write_text(
                f"  a giraffe near\n tree {key}\n", encoding="utf-8"
            )
        for folder in ("raw_data", "vector_sketches"):
            (root / folder / user).mkdir(parents=True)
    (root / "val_normal.txt").write_text("\n".join(NORMAL) + "\n")
    (root / "val_unseen_user.txt").write_text("\n".join(UNSEEN_USER) + "\n\n")
    return root


@pytest.fixture
def fscoco_root(tmp_path: Path) -> Path:
    return fscoco_tree(tmp_path / "fscoco")


def instances(items) -> list[str | None]:
    return [item.instance for item in items]


# ----------------------------------------------------------------------------- FS-COCO


def test_check_prints_the_counts_of_the_split_and_training(fscoco_root):
    result = run_bench("datasets", "check", "fscoco", "--data-root", str(fscoco_root))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "val_normal.txt" in out and "test_sketches" in out
    assert "│ scene │ 3   │ 3        │ 3      │ 3        │" in out  # test: ids, sketches, photos, captions
    assert "│ scene │ 9   │ 9        │ 9      │ 9        │" in out  # training: the other 9 ids
    assert "│ train   │ 18    │ 9        │ 9      │" in out
    assert "The FS-COCO release has 10,000 sketches (100 users); this root has 12" in out
    assert "6 of 6 decoded images are readable" in out and "OK: `bench run --dataset fscoco" in out


def test_check_reports_a_missing_listed_file_and_refuses_the_root(fscoco_root):
    (fscoco_root / "images/2/2001.jpg").unlink()
    result = run_bench("datasets", "check", "fscoco", "--data-root", str(fscoco_root))
    assert result.returncode == 1
    assert "problem: ids of val_normal.txt without a file in images/<user>/: 1 (first: 2001)" in result.stdout
    assert "fscoco cannot be run from this root" in result.stdout
    with pytest.raises(BenchError, match="without a file in images/<user>/: 1 \\(first: 2001\\)") as error:
        FSCOCO(fscoco_root)
    assert "bench datasets check fscoco" in error.value.hint and "raster_sketches/<user>" in error.value.hint


def test_split_option_selects_each_published_list(fscoco_root):
    normal = FSCOCO(fscoco_root)
    assert bench.plugin_registry().datasets.get("fscoco").task == "scene-sbir"
    assert instances(normal.split("query")) == NORMAL == instances(normal.split("gallery"))
    assert [item.modality for item in normal.split("gallery")] == ["photo"] * 3
    assert normal.describe() == {
        "split": "normal",
        "test_list": "val_normal.txt",
        "test_sketches": 3,
        "test_photos": 3,
        "test_users": 3,
        "captioned_test_sketches": 3,
    }
    train = normal.split("train")
    assert sorted(set(instances(train))) == sorted(set(sum(IDS.values(), [])) - set(NORMAL))
    assert len(train) == 18 and {item.modality for item in train} == {"sketch", "photo"}

    unseen = FSCOCO(fscoco_root, split="unseen_user")
    assert instances(unseen.split("query")) == UNSEEN_USER == instances(unseen.split("gallery"))
    assert unseen.describe()["test_list"] == "val_unseen_user.txt" and unseen.describe()["test_users"] == 1
    assert not {item.instance for item in unseen.split("train")} & set(UNSEEN_USER)
    assert {item.key.split("/")[1] for item in unseen.split("train")} == {"1", "2"}
    checked = run_bench(
        "datasets",
        "check",
        "fscoco",
        "--data-root",
        str(fscoco_root),
        "--dataset-option",
        "split=unseen_user",
    )
    assert checked.returncode == 0 and "val_unseen_user.txt" in checked.stdout


def test_unseen_user_list_sharing_a_user_with_training_is_noted(fscoco_root):
    (fscoco_root / "val_unseen_user.txt").write_text("3000\n3001\n")
    notes = FSCOCO.inspect_root(fscoco_root, split="unseen_user").notes
    assert any("user folders holding test and training sketches: 1 (first: 3)" in note for note in notes)


def test_ids_compare_as_numbers_and_sketches_pair_with_their_photos(fscoco_root):
    (fscoco_root / "val_normal.txt").write_text("0001000\n2003.jpg\n2003\n")  # padded, with suffix, repeated
    dataset = FSCOCO(fscoco_root)
    queries, gallery = dataset.split("query"), dataset.split("gallery")
    assert instances(queries) == ["1000", "2003"] == instances(gallery)
    assert queries[1].path.name == "2003.png" and gallery[1].path.name == "2003.jpg"
    assert [item.key for item in queries] == ["sketch/1/1000", "sketch/2/2003"]
    assert dataset.load_image(queries[1]).mode == "RGB"


def test_captions_are_on_the_sketches_for_query_text_caption(fscoco_root):
    dataset = FSCOCO(fscoco_root)
    assert [item.caption for item in dataset.split("query")] == [
        f"a giraffe near tree {key}" for key in NORMAL
    ]
    assert all(item.caption is None for item in dataset.split("gallery"))
    assert all(item.caption for item in dataset.split("train") if item.modality == "sketch")
    texts = query_texts("caption", dataset, "fscoco")
    assert texts.texts == tuple(f"a giraffe near tree {key}" for key in NORMAL)
    assert texts.from_photo == (False, False, False)


def test_missing_captions_are_noted_and_stop_only_query_text_caption(fscoco_root):
    (fscoco_root / "text/3/3002.txt").write_text("  \n")
    notes = FSCOCO.inspect_root(fscoco_root).notes
    assert any("test sketches without a caption in text/: 1" in note for note in notes)
    dataset = FSCOCO(fscoco_root)
    assert dataset.describe()["captioned_test_sketches"] == 2
    with pytest.raises(BenchError, match="no caption for 1 of its 3 queries, e.g. 'sketch/3/3002'"):
        query_texts("caption", dataset, "fscoco")


def test_bad_split_value_is_one_clear_error(fscoco_root):
    for args in (
        ("datasets", "check", "fscoco", "--data-root", str(fscoco_root)),
        ("run", "--backbone", "sd-mini", "--dataset", "fscoco", "--data-root", str(fscoco_root)),
    ):
        result = run_bench(*args, "--dataset-option", "split=unseen")
        assert result.returncode == 1
        assert "Dataset 'fscoco' has no split 'unseen'. Did you mean unseen_user?" in result.stderr
        assert "Valid: normal (val_normal.txt) or unseen_user (val_unseen_user.txt)" in result.stderr
        assert "Traceback" not in result.stderr


def test_missing_list_and_wrong_roots_say_what_is_expected(fscoco_root, tmp_path):
    (fscoco_root / "val_unseen_user.txt").unlink()
    with pytest.raises(BenchError, match="split=unseen_user needs its test list val_unseen_user.txt"):
        FSCOCO(fscoco_root, split="unseen_user")
    assert FSCOCO(fscoco_root).describe()["split"] == "normal"  # the other list still serves
    other = tmp_path / "quickdraw"
    write_images(other, ["sketches/cat/1.png"], sketch=True)
    write_images(other, ["images/cat/image_00001.jpg"], sketch=False)
    with pytest.raises(BenchError, match="does not hold FS-COCO: it has no raster_sketches/") as error:
        FSCOCO(other)
    assert "QuickDraw-ext" in error.value.hint and "<root>/val_unseen_user.txt" in error.value.hint
    check = run_bench("datasets", "check", "quickdraw-ext", "--data-root", str(fscoco_root))
    assert check.returncode == 1 and "It looks like FS-COCO (--dataset fscoco)." in check.stderr


def test_an_id_in_two_user_folders_is_a_problem(fscoco_root):
    write_images(fscoco_root, ["raster_sketches/2/1001.jpg"], sketch=True)
    problems = FSCOCO.inspect_root(fscoco_root).problems
    assert problems == [
        "ids with more than one file in raster_sketches/: 1 (first: 1001); "
        "each id must be in one user folder only."
    ]


# ----------------------------------------------------------------------------- synthetic-scene


def test_scene_sketches_pair_one_to_one_with_their_photos():
    dataset = SyntheticScene()
    assert bench.plugin_registry().datasets.get("synthetic-scene").task == "scene-sbir"
    queries, gallery, train = dataset.split("query"), dataset.split("gallery"), dataset.split("train")
    assert len(queries) == len(gallery) == 96 and len(train) == 2 * 96
    assert instances(queries) == instances(gallery) and len(set(instances(gallery))) == 96
    assert {item.modality for item in queries} == {"sketch"} and {item.modality for item in gallery} == {
        "photo"
    }
    assert not set(instances(train)) & set(instances(gallery))
    assert [item.modality for item in train[:2]] == ["photo", "sketch"] and train[0].instance == train[
        1
    ].instance
    assert {item.label for item in queries + gallery + train} == {"scene"}


def test_scenes_have_two_to_four_distinct_shapes_in_their_own_cells():
    counts = []
    for index in range(96):
        objects = scene_objects(0, "test", index, 128)
        counts.append(len(objects))
        assert len({o.category_index for o in objects}) == len(objects)
        assert len({o.cell for o in objects}) == len(objects)
        for o in objects:  # each outline lies inside its cell of the 2 x 2 grid
            low, high = o.outline.bounds()
            cell_low = np.array([o.cell % GRID, o.cell // GRID]) * 128 / GRID
            assert (low >= cell_low).all() and (high <= cell_low + 128 / GRID).all()
    assert set(counts) == {2, 3, 4}


def test_scene_sketch_and_photo_show_the_same_scene():
    dataset = SyntheticScene(scenes=12, image_size=64)
    for query, photo in zip(dataset.split("query"), dataset.split("gallery"), strict=True):
        index = int(query.instance.split("/")[1])
        objects = scene_objects(0, "test", index, 64)
        for o in objects:
            assert CATEGORIES[o.category_index] in query.caption and o.colour_name in query.caption
        ink = np.asarray(dataset.load_image(query).convert("L")) < 128
        pixels = np.asarray(dataset.load_image(photo), dtype=float)
        occupied = {o.cell for o in objects}
        for cell in range(GRID * GRID):
            rows, cols = (
                slice(32 * (cell // 2), 32 * (cell // 2 + 1)),
                slice(32 * (cell % 2), 32 * (cell % 2 + 1)),
            )
            if cell in occupied:
                assert ink[rows, cols].mean() > 0.02
            else:
                assert ink[rows, cols].mean() < 0.005
        assert pixels.reshape(-1, 3).std(axis=0).max() > 15  # a coloured photo, not a blank


def test_synthetic_scene_is_deterministic_and_seeded():
    first, again = SyntheticScene(scenes=4), SyntheticScene(scenes=4)
    photo = first.split("gallery")[3]
    sketch = first.split("query")[3]
    for item in (photo, sketch):
        assert np.array_equal(np.asarray(first.load_image(item)), np.asarray(again.load_image(item)))
    assert [item.caption for item in first.split("query")] == [item.caption for item in again.split("query")]
    # a scene does not depend on how many scenes there are, nor on the training scenes
    bigger = SyntheticScene(scenes=8, train_scenes=5)
    assert np.array_equal(np.asarray(bigger.load_image(photo)), np.asarray(first.load_image(photo)))
    other = SyntheticScene(seed=1, scenes=4)
    assert not np.array_equal(np.asarray(other.load_image(photo)), np.asarray(first.load_image(photo)))
    image = first.load_image(sketch)
    assert image.mode == "RGB" and image.size == (128, 128)


@pytest.mark.parametrize(
    ("arguments", "name"),
    [({"scenes": 1}, "scenes"), ({"train_scenes": "4"}, "train_scenes"), ({"image_size": 16}, "image_size")],
)
def test_synthetic_scene_rejects_bad_options(arguments, name):
    with pytest.raises(ValueError, match=f"{name} must be an integer"):
        SyntheticScene(**arguments)


def test_synthetic_scene_renders_only_its_own_items():
    with pytest.raises(ValueError, match="'sketch/test/0002' is not an item of this dataset"):
        SyntheticScene(scenes=2).load_image(SyntheticScene(scenes=3).split("query")[2])


def test_scene_datasets_are_listed_and_checked():
    listed = run_bench("list", "datasets", "--json")
    rows = {row["id"]: row for row in json.loads(listed.stdout)["datasets"]}
    for dataset in ("fscoco", "synthetic-scene"):
        assert rows[dataset]["task"] == "scene-sbir" and rows[dataset]["columns"] == ["R@1", "R@10"]
    assert list(rows["fscoco"]["options"]) == ["split"] and rows["synthetic-scene"]["needs_root"] is False
    check = run_bench(
        "datasets",
        "check",
        "synthetic-scene",
        "--dataset-option",
        "scenes=6",
        "--dataset-option",
        "image_size=32",
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert (
        "│ query   │ 6     │ 6        │ 0      │" in check.stdout
        and "12 of 12 decoded images" in check.stdout
    )


@pytest.mark.slow
@pytest.mark.parametrize(("split", "ids"), [("normal", NORMAL), ("unseen_user", UNSEEN_USER)])
def test_a_run_on_each_published_split_scores_scene_retrieval(fscoco_root, tmp_path, split, ids):
    """`bench run --dataset fscoco` on the fake release: each split's sketches against its photos,
    R@K and ranks with chance levels and intervals, and the paper's columns first."""
    out = tmp_path / "out"
    result = run_bench(
        "run", "--backbone", "vit-tiny", "--dataset", "fscoco", "--data-root", str(fscoco_root),
        "--dataset-option", f"split={split}", "--output-dir", str(out), "--cache-dir", str(tmp_path / "c"),
        "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (run,) = json.loads(result.stdout)
    assert run["task"] == "scene-sbir" and run["config"]["dataset_options"] == {"split": split}
    assert run["dataset"]["test_list"] == f"val_{split}.txt"
    assert run["dataset"]["num_queries"] == run["dataset"]["num_gallery"] == len(ids)
    assert set(run["metrics"]) == {"R@1", "R@5", "R@10", "MeanR", "MedR"}
    assert run["chance"]["metrics"]["R@1"] == pytest.approx(100 / len(ids))
    assert set(run["intervals"]["bounds"]) == set(run["metrics"])
