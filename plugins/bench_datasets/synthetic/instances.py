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

# Stream tags keep the generators of the different random decisions of one instance (or scene) independent.
SPLIT_STREAM, GEOMETRY_STREAM, COLOUR_STREAM, PHOTO_STREAM, SKETCH_STREAM = range(5)
SCENE_STREAM, SCENE_PHOTO_STREAM, SCENE_SKETCH_STREAM = range(5, 8)
CUE_SPLIT_STREAM, TEXTURE_STREAM, CUE_PHOTO_STREAM = range(8, 11)


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


def placed(outline: Outline, rng: np.random.Generator, origin: np.ndarray, extent: np.ndarray) -> Outline:
    """``outline`` scaled and placed at random inside a box of the canvas.

    Args:
        origin: the box's top-left corner, ``(2,)`` canvas pixels.
        extent: the box's width and height, ``(2,)`` pixels.

    Returns:
        The outline scaled so that it spans 50-85% of the box along its tighter side, lying inside
        the box with a margin of 4% of the box's smaller side all round.
    """
    low, high = outline.bounds()
    tight = int(np.argmin(extent / (high - low)))  # the axis whose fit limits the scale
    scale = rng.uniform(0.5, 0.85) * extent[tight] / (high - low)[tight]
    margin = 0.04 * extent.min()
    room = extent - 2 * margin - (high - low) * scale
    offset = origin + margin + rng.uniform(0.0, 1.0, 2) * room - low * scale
    return outline.mapped(lambda points: points * scale + offset)


def posed_shape(category_index: int, rng: np.random.Generator) -> Outline:
    """A new shape of one category drawn from ``rng``, posed (stretched, mirrored, turned), unit frame."""
    category = CATEGORY_SPECS[category_index]
    return _posed(category.build(rng), category, rng)


def instance_outline(seed: int, category_index: int, instance: int, size: int) -> Outline:
    """The geometry of one instance in canvas pixels of a ``size`` px image; photo and sketches share it."""
    rng = seeded_rng(GEOMETRY_STREAM, seed, category_index, instance)
    canvas = np.array([size, size], dtype=float)
    return placed(posed_shape(category_index, rng), rng, np.zeros(2), canvas)


def drawn_colour(rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """A colour name drawn from ``rng`` and its jittered RGB value (``(3,)`` float32, 0-255)."""
    name = str(rng.choice(list(_COLOURS)))
    rgb = np.array(_COLOURS[name]) * rng.uniform(0.85, 1.1) + rng.normal(0.0, 12.0, 3)
    return name, np.clip(rgb, 0.0, 255.0).astype(np.float32)


def object_colour(seed: int, category_index: int, instance: int) -> tuple[str, np.ndarray]:
    """The colour name of one instance's photo and its jittered RGB value (``(3,)`` float32, 0-255)."""
    return drawn_colour(seeded_rng(COLOUR_STREAM, seed, category_index, instance))


def photo_caption(seed: int, category_index: int, instance: int) -> str:
    """The caption of one instance's photo, e.g. ``"a red star"`` (its colour name and category)."""
    colour, _ = object_colour(seed, category_index, instance)
    return object_caption(colour, CATEGORIES[category_index])


def object_caption(colour: str, category: str) -> str:
    """A short description such as ``"a red star"`` or ``"an orange gear"``."""
    article = "an" if colour[0] in "aeiou" else "a"
    return f"{article} {colour} {category}"
