"""Scenes: two to four shapes of the synthetic categories on one background, as a photo and a sketch.

A scene cuts the canvas into a 2 x 2 grid and puts one object in each of 2-4 randomly chosen cells
(distinct categories, each posed, scaled and coloured like a single-category instance). Its photo
paints the objects on one textured background under one light (:func:`paint_photo`); its sketch
draws the same outlines with one pen (:func:`draw_sketch`). A scene is determined by
``(seed, split, index)``, so any scene renders alone, in any order, with identical pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from bench_datasets.synthetic.instances import (
    SCENE_PHOTO_STREAM,
    SCENE_SKETCH_STREAM,
    SCENE_STREAM,
    drawn_colour,
    object_caption,
    placed,
    posed_shape,
    seeded_rng,
)
from bench_datasets.synthetic.photos import paint_photo
from bench_datasets.synthetic.shapes import CATEGORIES, Outline
from bench_datasets.synthetic.sketches import draw_sketch

GRID = 2
"""The canvas is cut into GRID x GRID cells; each object of a scene has a cell of its own."""

OBJECTS_PER_SCENE = (2, 4)
"""The fewest and most objects in a scene (both included)."""

SPLIT_CODES = {"test": 0, "train": 1}
"""Each split's scenes come from their own generators: changing one split's size leaves the other's."""

_CELL_NAMES = ("top left", "top right", "bottom left", "bottom right")
"""Where each cell lies, in reading order (cell index = row * GRID + column)."""


@dataclass(frozen=True)
class SceneObject:
    """One object of a scene.

    Attributes:
        category_index: index into ``CATEGORIES``.
        cell: its grid cell, ``row * GRID + column`` (0 = top left).
        colour_name: the name its caption uses; colour: its base RGB, ``(3,)`` float32, 0-255.
        outline: its geometry in canvas pixels.
    """

    category_index: int
    cell: int
    colour_name: str
    colour: np.ndarray
    outline: Outline


def scene_objects(seed: int, split: str, index: int, size: int) -> list[SceneObject]:
    """The objects of scene ``index`` of ``split`` (``"test"`` or ``"train"``) on a ``size`` px canvas,
    in reading order of their cells."""
    rng = seeded_rng(SCENE_STREAM, seed, SPLIT_CODES[split], index)
    low, high = OBJECTS_PER_SCENE
    count = int(rng.integers(low, high + 1))
    categories = rng.choice(len(CATEGORIES), count, replace=False)
    cells = np.sort(rng.permutation(GRID * GRID)[:count])
    extent = np.full(2, size / GRID)
    objects = []
    for category, cell in zip(categories.tolist(), cells.tolist(), strict=True):
        origin = np.array([cell % GRID, cell // GRID]) * extent
        outline = placed(posed_shape(category, rng), rng, origin, extent)
        colour_name, colour = drawn_colour(rng)
        objects.append(SceneObject(category, cell, colour_name, colour, outline))
    return objects


def scene_caption(objects: list[SceneObject]) -> str:
    """E.g. ``"a red star at the top left and an orange gear at the bottom right"``."""
    parts = [
        f"{object_caption(o.colour_name, CATEGORIES[o.category_index])} at the {_CELL_NAMES[o.cell]}"
        for o in objects
    ]
    return ", ".join(parts[:-1]) + f" and {parts[-1]}"


def render_scene_photo(seed: int, split: str, index: int, size: int) -> Image.Image:
    """The photo of one scene: an RGB image of ``size`` x ``size`` pixels."""
    objects = scene_objects(seed, split, index, size)
    rng = seeded_rng(SCENE_PHOTO_STREAM, seed, SPLIT_CODES[split], index)
    return paint_photo([(o.outline, o.colour) for o in objects], rng, size)


def render_scene_sketch(seed: int, split: str, index: int, size: int) -> Image.Image:
    """The sketch of one scene (its objects' outlines, one pen): an RGB ``size`` px image on white."""
    objects = scene_objects(seed, split, index, size)
    rng = seeded_rng(SCENE_SKETCH_STREAM, seed, SPLIT_CODES[split], index)
    return draw_sketch([o.outline for o in objects], rng, size)
