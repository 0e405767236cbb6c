"""Tests of the procedural synthetic sketch/photo datasets, through their public API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from bench_datasets.synthetic import CATEGORIES, SyntheticCategory, SyntheticFineGrained
from PIL import Image

from bench.api.datasets import Dataset, ImageItem
from bench.registry.manager import load_plugins

SMALL = {
    "num_classes": 6,
    "num_unseen": 2,
    "photos_per_class": 3,
    "train_photos_per_class": 2,
    "image_size": 64,
}
"""Arguments of a small dataset that renders quickly."""


def pixels(image: Image.Image) -> np.ndarray:
    """The image as a ``(H, W, 3)`` uint8 array."""
    return np.asarray(image.convert("RGB"))


def gray(image: Image.Image) -> np.ndarray:
    """The image's luminance as a ``(H, W)`` float array, 0-255."""
    return np.asarray(image.convert("L"), dtype=float)


def all_items(dataset: Dataset) -> list[ImageItem]:
    """The items of every split of ``dataset``."""
    return [item for name in ("query", "gallery", "train") for item in dataset.split(name)]


def test_categories_are_many_unique_names() -> None:
    assert len(CATEGORIES) >= 24
    assert len(set(CATEGORIES)) == len(CATEGORIES)
    assert all(re.fullmatch(r"[a-z]+", name) for name in CATEGORIES)


def test_tasks() -> None:
    datasets = load_plugins().build_registry().datasets
    assert datasets.get("synthetic").task == "zs-sbir" and not SyntheticCategory.group_by_label
    assert datasets.get("synthetic-fg").task == "fg-sbir" and SyntheticFineGrained.group_by_label
    assert isinstance(SyntheticCategory(**SMALL), Dataset)


def test_same_arguments_give_identical_pixels() -> None:
    first, second = SyntheticCategory(seed=3, **SMALL), SyntheticCategory(seed=3, **SMALL)
    assert all_items(first) == all_items(second)
    for item in first.split("query") + first.split("gallery"):
        assert first.load_image(item).tobytes() == second.load_image(item).tobytes()


def test_rendering_is_order_independent() -> None:
    dataset = SyntheticCategory(seed=5, **SMALL)
    items = dataset.split("gallery") + dataset.split("query")
    after_others = {item.key: dataset.load_image(item).tobytes() for item in items[::-1]}
    for item in items[::3]:
        alone = SyntheticCategory(seed=5, **SMALL).load_image(item)
        assert alone.tobytes() == after_others[item.key]


def test_different_seeds_give_different_images() -> None:
    everything = {**SMALL, "num_classes": len(CATEGORIES), "train_photos_per_class": 3}
    seed0, seed1 = SyntheticCategory(seed=0, **everything), SyntheticCategory(seed=1, **everything)
    for item in seed0.split("gallery")[:4] + seed0.split("query")[:4]:
        assert seed0.load_image(item).tobytes() != seed1.load_image(item).tobytes()


def test_split_sizes_labels_and_keys() -> None:
    args = {**SMALL, "sketches_per_photo": 2}
    dataset = SyntheticCategory(**args)
    query, gallery, train = (dataset.split(name) for name in ("query", "gallery", "train"))
    unseen, seen = set(dataset.unseen_classes), set(dataset.seen_classes)
    assert len(query) == args["num_unseen"] * args["photos_per_class"] * 2
    assert len(gallery) == args["num_unseen"] * args["photos_per_class"]
    assert {item.modality for item in query} == {"sketch"} and {item.label for item in query} == unseen
    assert {item.modality for item in gallery} == {"photo"} and {item.label for item in gallery} == unseen
    train_photos = (args["num_classes"] - args["num_unseen"]) * args["train_photos_per_class"]
    assert Counter(item.modality for item in train) == {"photo": train_photos, "sketch": 2 * train_photos}
    assert {item.label for item in train} == seen
    keys = [item.key for item in query + gallery + train]
    assert len(set(keys)) == len(keys)
    assert all(item.path is None for item in query + gallery + train)
    assert all(re.fullmatch(r"photo/[a-z]+/\d{4}", item.key) for item in gallery)
    assert all(re.fullmatch(r"sketch/[a-z]+/\d{4}-\d", item.key) for item in query)
    assert all(item.instance == f"{item.label}/{item.key.split('/')[2][:4]}" for item in all_items(dataset))


def test_split_returns_a_fresh_list() -> None:
    dataset = SyntheticCategory(**SMALL)
    dataset.split("query").clear()
    assert dataset.split("query")


def test_unseen_and_seen_classes_are_disjoint_and_seeded() -> None:
    unseen_sets = set()
    for seed in range(5):
        dataset = SyntheticCategory(seed=seed, num_classes=20, num_unseen=7)
        unseen, seen = dataset.unseen_classes, dataset.seen_classes
        assert len(unseen) == 7 and len(seen) == 13 and not set(unseen) & set(seen)
        assert set(unseen) | set(seen) <= set(CATEGORIES)
        assert unseen == SyntheticCategory(seed=seed, num_classes=20, num_unseen=7).unseen_classes
        unseen_sets.add(tuple(unseen))
    assert len(unseen_sets) > 1


def test_fine_grained_pairs_each_sketch_with_one_gallery_photo() -> None:
    dataset = SyntheticFineGrained(**{**SMALL, "sketches_per_photo": 2})
    gallery = Counter(item.instance for item in dataset.split("gallery"))
    labels = {item.instance: item.label for item in dataset.split("gallery")}
    for sketch in dataset.split("query"):
        assert gallery[sketch.instance] == 1
        assert labels[sketch.instance] == sketch.label
    train_photos = {item.instance for item in dataset.split("train") if item.modality == "photo"}
    assert {item.instance for item in dataset.split("train") if item.modality == "sketch"} == train_photos


def test_fine_grained_has_the_same_images_as_category_level() -> None:
    category, fine = SyntheticCategory(seed=2, **SMALL), SyntheticFineGrained(seed=2, **SMALL)
    assert all_items(category) == all_items(fine)
    for item in fine.split("query")[:2] + fine.split("gallery")[:2]:
        assert fine.load_image(item).tobytes() == category.load_image(item).tobytes()


def test_images_are_rgb_of_the_requested_size() -> None:
    for size in (48, 96):
        dataset = SyntheticCategory(**{**SMALL, "image_size": size})
        for item in dataset.split("query")[:2] + dataset.split("gallery")[:2] + dataset.split("train")[:2]:
            image = dataset.load_image(item)
            assert image.mode == "RGB" and image.size == (size, size)


Pairs = list[tuple[Image.Image, Image.Image]]


@pytest.fixture(scope="module")
def default_pairs() -> Pairs:
    """(photo, the sketch drawn from it) for every query of a default-sized (128 px) dataset."""
    dataset = SyntheticFineGrained(seed=1, photos_per_class=2)
    photos = {item.instance: item for item in dataset.split("gallery")}
    return [
        (dataset.load_image(photos[sketch.instance]), dataset.load_image(sketch))
        for sketch in dataset.split("query")
    ]


def test_sketches_are_dark_strokes_on_white(default_pairs: Pairs) -> None:
    for _, sketch in default_pairs:
        values = pixels(sketch)
        assert (values.min(axis=2) > 230).mean() > 0.7
        assert (values.max(axis=2) < 90).mean() > 0.005
        assert np.ptp(values.astype(int), axis=2).max() <= 2  # no colour


def test_photos_are_colourful_and_varied(default_pairs: Pairs) -> None:
    mean_colours = []
    for photo, _ in default_pairs:
        values = pixels(photo).astype(float)
        assert (values.min(axis=2) > 230).mean() < 0.3
        assert values.reshape(-1, 3).std(axis=0).max() > 15
        mean_colours.append(values.reshape(-1, 3).mean(axis=0))
    spread = np.linalg.norm(np.array(mean_colours) - np.mean(mean_colours, axis=0), axis=1)
    assert np.median(spread) > 20


def test_sketch_is_not_a_pixel_transform_of_its_photo(default_pairs: Pairs) -> None:
    for photo, sketch in default_pairs:
        strokes = gray(sketch) < 128
        luminance = gray(photo)
        thresholded = luminance < np.median(luminance)
        assert (strokes != thresholded).mean() > 0.2
        gy, gx = np.gradient(luminance)
        edges = np.hypot(gx, gy) > 20
        overlap = (strokes & edges).sum() / max(1, (strokes | edges).sum())
        assert overlap < 0.5


def test_sketches_of_one_photo_differ() -> None:
    dataset = SyntheticCategory(**{**SMALL, "sketches_per_photo": 2})
    first, second = dataset.split("query")[:2]
    assert first.instance == second.instance
    difference = np.abs(gray(dataset.load_image(first)) - gray(dataset.load_image(second)))
    assert (difference > 64).mean() > 0.01


def stroke_box(sketch: Image.Image) -> np.ndarray:
    """The bounding box (x0, y0, x1, y1), pixels, of a sketch's dark strokes."""
    ys, xs = np.nonzero(gray(sketch) < 128)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=float)


def box_iou(first: np.ndarray, second: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    low, high = np.maximum(first[:2], second[:2]), np.minimum(first[2:], second[2:])
    inter = np.prod(np.clip(high - low, 0, None))
    area = np.prod(first[2:] - first[:2]) + np.prod(second[2:] - second[:2])
    return float(inter / (area - inter))


def test_sketches_of_one_instance_share_its_geometry() -> None:
    dataset = SyntheticCategory(**{**SMALL, "photos_per_class": 6, "sketches_per_photo": 2, "image_size": 96})
    boxes: dict[str, list[np.ndarray]] = {}
    for sketch in dataset.split("query"):
        boxes.setdefault(sketch.instance, []).append(stroke_box(dataset.load_image(sketch)))
    pairs = list(boxes.values())
    same = [box_iou(first, second) for first, second in pairs]
    other = [box_iou(first[0], second[1]) for first in pairs for second in pairs if first is not second]
    assert min(same) > 0.75
    assert np.median(other) < 0.6


def test_captions_name_colour_and_category() -> None:
    dataset = SyntheticCategory(**{**SMALL, "photos_per_class": 12})
    colours = Counter()
    for item in dataset.split("gallery") + dataset.split("train"):
        if item.modality == "sketch":
            assert item.caption is None
            continue
        match = re.fullmatch(rf"(a|an) ([a-z]+) {item.label}", item.caption or "")
        assert match, item.caption
        article, colour = match.groups()
        assert (article == "an") == (colour[0] in "aeiou")
        colours[colour] += 1
    assert len(colours) >= 5


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"num_classes": 1}, "num_classes"),
        ({"num_classes": len(CATEGORIES) + 1}, "num_classes"),
        ({"num_classes": True}, "num_classes"),
        ({"num_unseen": 0}, "num_unseen"),
        ({"num_classes": 6, "num_unseen": 6}, "num_unseen"),
        ({"photos_per_class": 0}, "photos_per_class"),
        ({"train_photos_per_class": 0}, "train_photos_per_class"),
        ({"sketches_per_photo": 0}, "sketches_per_photo"),
        ({"image_size": 8}, "image_size"),
        ({"image_size": "128"}, "image_size"),
    ],
)
def test_invalid_arguments_raise_helpful_errors(arguments: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=rf"{name} must be an integer (in \[|>=)") as error:
        SyntheticCategory(**arguments)
    assert repr(arguments[name]) in str(error.value)


def test_unknown_split_and_foreign_items_are_rejected() -> None:
    dataset = SyntheticCategory(**SMALL)
    with pytest.raises(ValueError, match="split must be one of"):
        dataset.split("test")
    with pytest.raises(ValueError, match="not an item of this dataset"):
        dataset.load_image(ImageItem("photo/star/9999", "photo", "star"))


def test_describe_lists_arguments_and_classes() -> None:
    dataset = SyntheticFineGrained(seed=4, **SMALL)
    facts = dataset.describe()
    assert {key: facts[key] for key in SMALL} == SMALL
    assert facts["seed"] == 4 and facts["sketches_per_photo"] == 1 and facts["train_photos_per_class"] == 2
    assert facts["unseen_classes"] == dataset.unseen_classes
    assert facts["seen_classes"] == dataset.seen_classes
    json.dumps(facts)


def test_module_does_not_import_torch() -> None:
    code = "import sys, bench_datasets.synthetic; sys.exit(2 if 'torch' in sys.modules else 0)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0
