"""One instance of a category: its geometry, pose, colour and caption, from seeded generators."""

from __future__ import annotations

import math

import numpy as np

from bench_datasets.synthetic.shapes import CATEGORIES, CATEGORY_SPECS, Category, Outline, rotation

_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (205, 35, 40),
    "orange": (240, 130, 25),
    "yellow": (240, 205, 40),
    "green": (45, 150, 60),
    "teal": (25, 150, 150),
    "blue": (40, 85, 205),
    "purple": (125, 55, 175),
    "pink": (235, 115, 170),
    "brown": (130, 80, 40),
    "gray": (135, 135, 135),
}
"""Named object colours for photos and captions (RGB, 0-255)."""

# Stream tags keep the generators of the different random decisions of one instance independent.
SPLIT_STREAM, GEOMETRY_STREAM, COLOUR_STREAM, PHOTO_STREAM, SKETCH_STREAM = range(5)


def seeded_rng(*entropy: int) -> np.random.Generator:
    """A generator seeded from the non-negative integers ``entropy`` (a stream tag first)."""
    return np.random.default_rng(np.random.SeedSequence(list(entropy)))


def _posed(outline: Outline, category: Category, rng: np.random.Generator) -> Outline:
    """``outline`` (unit frame) stretched, maybe mirrored and rotated within the category's ranges."""
    aspect = rng.uniform(*category.aspect)
    mirror = -1.0 if category.flip and rng.random() < 0.5 else 1.0
    stretch = np.diag([mirror * math.sqrt(aspect), 1.0 / math.sqrt(aspect)])
    matrix = stretch @ rotation(rng.uniform(-category.rotation, category.rotation))
    return outline.mapped(lambda points: points @ matrix)


def _placed(outline: Outline, rng: np.random.Generator, size: int) -> Outline:
    """``outline`` scaled so its longer side spans 50-85% of a ``size`` px canvas, placed at random.

    The result lies inside the canvas with a margin of 4% of ``size`` on every side.
    """
    low, high = outline.bounds()
    scale = rng.uniform(0.5, 0.85) * size / (high - low).max()
    margin = 0.04 * size
    room = size - 2 * margin - (high - low) * scale
    offset = margin + rng.uniform(0.0, 1.0, 2) * room - low * scale
    return outline.mapped(lambda points: points * scale + offset)


def instance_outline(seed: int, category_index: int, instance: int, size: int) -> Outline:
    """The geometry of one instance in canvas pixels of a ``size`` px image; photo and sketches share it."""
    category = CATEGORY_SPECS[category_index]
    rng = seeded_rng(GEOMETRY_STREAM, seed, category_index, instance)
    return _placed(_posed(category.build(rng), category, rng), rng, size)


def object_colour(seed: int, category_index: int, instance: int) -> tuple[str, np.ndarray]:
    """The colour name of one instance's photo and its jittered RGB value (``(3,)`` float32, 0-255)."""
    rng = seeded_rng(COLOUR_STREAM, seed, category_index, instance)
    name = str(rng.choice(list(_COLOURS)))
    rgb = np.array(_COLOURS[name]) * rng.uniform(0.85, 1.1) + rng.normal(0.0, 12.0, 3)
    return name, np.clip(rgb, 0.0, 255.0).astype(np.float32)


def photo_caption(seed: int, category_index: int, instance: int) -> str:
    """The caption of one instance's photo, e.g. ``"a red star"`` (its colour name and category)."""
    colour, _ = object_colour(seed, category_index, instance)
    return _caption(colour, CATEGORIES[category_index])


def _caption(colour: str, category: str) -> str:
    """A short description such as ``"a red star"`` or ``"an orange gear"``."""
    article = "an" if colour[0] in "aeiou" else "a"
    return f"{article} {colour} {category}"
