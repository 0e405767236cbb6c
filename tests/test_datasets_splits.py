"""The packaged split data and the class-name tables: published counts, spellings, TU-Berlin folders."""

from __future__ import annotations

import pytest
from bench_datasets.category import published_test_set
from bench_datasets.classnames import TUBERLIN_PHOTO_FOLDERS, labels_of
from bench_datasets.quickdraw import QUICKDRAW_EXT
from bench_datasets.sketchy import SKETCHY, SKETCHY_EXT, SKETCHY_FG
from bench_datasets.splits import DATA, class_list
from bench_datasets.tuberlin import TUBERLIN_EXT

from bench import BenchError

SPECS = (SKETCHY, SKETCHY_EXT, SKETCHY_FG, TUBERLIN_EXT, QUICKDRAW_EXT)


@pytest.mark.parametrize(
    ("spec", "split", "rule", "queries", "gallery"),
    [
        (SKETCHY, "yelamarthi", "unique", 12_694, 10_453),
        (SKETCHY, "yelamarthi", "listed", 12_694, 12_553),
        (SKETCHY_EXT, "sake", "unique", 15_229, 14_602),
        (SKETCHY_EXT, "sake", "listed", 15_229, 17_101),
        (TUBERLIN_EXT, "sake", "unique", 2_400, 27_989),
        (QUICKDRAW_EXT, "dey", "unique", 92_291, 54_151),
        (SKETCHY_FG, "yelamarthi", "unique", 12_694, 2_100),
    ],
)
def test_published_lists_give_the_protocol_counts(spec, split, rule, queries, gallery):
    """docs/protocol.md section 1: the test sets the adapters build from the published lists."""
    published = published_test_set(spec, spec.split_named(split), rule)
    assert (len(published.sketches), len(published.photos)) == (queries, gallery)
    assert len(set(published.sketches)) == queries and len(set(published.photos)) == gallery


def _tsv_counts() -> dict[str, dict[str, tuple[int, int, int]]]:
    rows = (DATA / "per_class_counts.tsv").read_text().splitlines()[1:]
    table: dict[str, dict[str, tuple[int, int, int]]] = {}
    for row in rows:
        split, label, *numbers = row.split("\t")
        table.setdefault(split, {})[label] = tuple(map(int, numbers))
    return table


@pytest.mark.parametrize(
    ("spec", "split", "tsv_split"),
    [
        (SKETCHY, "yelamarthi", "sketchy_yelamarthi_zs0"),
        (SKETCHY_EXT, "sake", "sketchy_ext_sake_zs1"),
        (TUBERLIN_EXT, "sake", "tuberlin_ext_sake"),
        (QUICKDRAW_EXT, "dey", "quickdraw_ext"),
    ],
)
def test_gallery_rules_match_the_published_per_class_counts(spec, split, tsv_split):
    """``unique`` drops duplicated photos class by class exactly as per_class_counts.tsv counts them."""
    expected = _tsv_counts()[tsv_split]
    split_def = spec.split_named(split)
    unique = published_test_set(spec, split_def, "unique").per_class
    listed = published_test_set(spec, split_def, spec.gallery_rules[-1]).per_class
    assert set(unique) == set(expected) == set(class_list(split_def.unseen))
    for label, (sketches, photos_listed, photos_unique) in expected.items():
        assert unique[label] == {"sketches": sketches, "photos": photos_unique}, label
        assert listed[label]["photos"] == photos_listed, label


UNSEEN_COUNTS = {
    ("sketchy", "yelamarthi"): 21,
    ("sketchy-ext", "sake"): 25,
    ("sketchy-ext", "sempcyc"): 25,
    ("tuberlin-ext", "sake"): 30,
    ("tuberlin-ext", "sempcyc"): 30,
    ("quickdraw-ext", "dey"): 30,
    ("sketchy-fg", "yelamarthi"): 21,
}


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.id)
def test_every_split_list_names_classes_of_its_release(spec):
    labels = class_list(spec.all_classes)
    assert len(labels) == {"sketchy": 125, "tuberlin": 250, "quickdraw": 110}[spec.id.split("-")[0]]
    for split in spec.splits:
        unseen = labels_of(class_list(split.unseen), split.spellings, labels, split.unseen)
        assert len(set(unseen)) == len(unseen) == UNSEEN_COUNTS[(spec.id, split.name)]
        assert set(unseen) <= set(labels)


def test_sempcyc_spellings_map_to_release_folder_names():
    sketchy = labels_of(
        class_list("sketchy_ext_sempcyc_seed0_unseen"),
        SKETCHY_EXT.split_named("sempcyc").spellings,
        class_list("sketchy_all125"),
        "sem-pcyc",
    )
    assert "jack-o-lantern" in sketchy and "jack_o_lantern" not in sketchy
    tuberlin = labels_of(
        class_list("tuberlin_ext_sempcyc_seed0_unseen"),
        TUBERLIN_EXT.split_named("sempcyc").spellings,
        class_list("tuberlin_all250"),
        "sem-pcyc",
    )
    assert {"door handle", "walkie talkie", "tablelamp"} <= set(tuberlin)


def test_a_class_name_no_table_maps_is_an_error_naming_it():
    with pytest.raises(BenchError, match="'bear_animal'") as error:
        labels_of(["bear (animal)", "bear_animal"], {}, class_list("tuberlin_all250"), "A split list")
    assert "classnames.py" in error.value.hint


def test_tuberlin_photo_folder_table():
    """Every entry is a TU-Berlin class; the release's folder names are distinct and space-less."""
    labels = set(class_list("tuberlin_all250"))
    assert set(TUBERLIN_PHOTO_FOLDERS) <= labels
    folders = [TUBERLIN_PHOTO_FOLDERS.get(label, label) for label in labels]
    assert len(set(folders)) == len(labels) == 250
    assert not any(set(" -()") & set(folder) for folder in folders)
    assert TUBERLIN_PHOTO_FOLDERS["bear (animal)"] == "bearanimal"
    assert TUBERLIN_PHOTO_FOLDERS["trombone"] == "tromobone"
    assert TUBERLIN_PHOTO_FOLDERS["space shuttle"] == "spacesshuttle"
    assert TUBERLIN_PHOTO_FOLDERS["t-shirt"] == "tshirt"
    # every class whose sketch folder has a space, hyphen or parenthesis is in the table
    assert {label for label in labels if set(" -()") & set(label)} <= set(TUBERLIN_PHOTO_FOLDERS)
