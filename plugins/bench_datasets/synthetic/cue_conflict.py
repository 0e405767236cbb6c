"""The ``synthetic-cue-conflict`` adapter: one category's shape in another category's texture.

Every category of the dataset has a texture of its own (:mod:`bench_datasets.synthetic.textures`).
A *clean reference* (the gallery) is a shape of a category filled with that category's texture; a
*cue-conflict image* (a query) is a shape of one category (its label) filled with the texture of
another (its second label), for every ordered pair of distinct categories. Both kinds are drawn
alike on a neutral background (grey, no class colour), so the shape and the texture are the only
cues to a category. Scored by the ``shape-bias`` task (docs/protocol.md section 12), the stand-in
for Geirhos et al.'s stylised images that runs without any file.

Images are seeded by (seed, shape category, instance, texture category): references are instances
0..N-1 of their category, cue-conflict images the instances after them, so no query repeats a
reference's shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from bench import Dataset, ImageItem, SplitName
from bench_datasets.synthetic.adapter import check_int
from bench_datasets.synthetic.instances import (
    CUE_PHOTO_STREAM,
    CUE_SPLIT_STREAM,
    TEXTURE_STREAM,
    instance_outline,
    seeded_rng,
)
from bench_datasets.synthetic.photos import coverage, pixel_grid, rim
from bench_datasets.synthetic.shapes import CATEGORIES
from bench_datasets.synthetic.textures import Texture, category_textures


def _neutral_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A grey ramp (value 0.3-0.6, a faint random tint) in a random direction:
    ``(size, size, 3)`` float32, 0-255."""
    x, y = pixel_grid(size)
    angle = rng.uniform(0.0, 2 * math.pi)
    ramp = (x * math.cos(angle) + y * math.sin(angle)) / size
    low, high = rng.uniform(0.3, 0.45) * 255.0, rng.uniform(0.45, 0.6) * 255.0
    grey = low + (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6) * (high - low)
    tint = rng.normal(0.0, 6.0, 3).astype(np.float32)
    return grey[..., None] + tint


def render_textured_shape(
    seed: int, shape: int, instance: int, texture_category: int, texture: Texture, size: int
) -> Image.Image:
    """One image: instance ``instance`` of category ``shape``, its surface the ``texture`` of
    category ``texture_category`` (both indices into ``CATEGORIES``), with a darker rim, on a
    neutral background, with a little grain.

    Returns:
        An RGB image of ``size`` x ``size`` pixels.
    """
    rng = seeded_rng(CUE_PHOTO_STREAM, seed, shape, instance, texture_category)
    background = _neutral_background(rng, size)
    inside = coverage(instance_outline(seed, shape, instance, size), size)
    surface = texture.render(rng, size) * (1 - 0.35 * rim(inside, 0.02 * size))[..., None]
    image = background + (surface - background) * inside[..., None]
    image += rng.normal(0.0, 3.0, (size, size, 1)).astype(np.float32)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")


@dataclass(frozen=True)
class _TexturedShape:
    """What determines one image: a shape (class position and instance) and a texture (class position)."""

    shape: int
    instance: int
    texture: int


class SyntheticCueConflict(Dataset):
    """Cue-conflict images against clean references of generated categories (module docstring).

    Args:
        seed: seeds the categories, their textures and every image (>= 0).
        num_classes: categories, 2 to ``len(CATEGORIES)``; the first 8 get 8 distinct patterns.
        references_per_class: clean references (gallery images) per category.
        conflicts_per_pair: cue-conflict images per ordered pair (shape category, texture category).
        image_size: side of every image, pixels.

    Raises:
        ValueError: when an argument is out of range (the message says what is valid).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        num_classes: int = 8,
        references_per_class: int = 6,
        conflicts_per_pair: int = 2,
        image_size: int = 128,
    ) -> None:
        self._options: dict[str, int] = {
            "seed": check_int("seed", seed, 0),
            "num_classes": check_int("num_classes", num_classes, 2, len(CATEGORIES)),
            "references_per_class": check_int("references_per_class", references_per_class, 1, 999),
            "conflicts_per_pair": check_int("conflicts_per_pair", conflicts_per_pair, 1, 99),
            "image_size": check_int("image_size", image_size, 32, 1024),
        }
        seed, count = self._options["seed"], self._options["num_classes"]
        self._classes = sorted(
            seeded_rng(CUE_SPLIT_STREAM, seed).permutation(len(CATEGORIES))[:count].tolist()
        )
        self._textures = category_textures(count, seeded_rng(TEXTURE_STREAM, seed))
        references = self._options["references_per_class"]
        per_pair = self._options["conflicts_per_pair"]
        self._gallery = {
            self._key(spec): spec
            for position in range(count)
            for spec in (_TexturedShape(position, i, position) for i in range(references))
        }
        self._queries = {}
        for shape in range(count):
            others = [texture for texture in range(count) if texture != shape]
            for order, texture in enumerate(others):
                for n in range(per_pair):
                    spec = _TexturedShape(shape, references + order * per_pair + n, texture)
                    self._queries[self._key(spec)] = spec

    @property
    def classes(self) -> list[str]:
        """The categories, in ``CATEGORIES`` order."""
        return [CATEGORIES[index] for index in self._classes]

    def _key(self, spec: _TexturedShape) -> str:
        """``"reference/star/0003"`` or ``"conflict/star-heart/0007"`` (the shape's instance)."""
        shape, texture = CATEGORIES[self._classes[spec.shape]], CATEGORIES[self._classes[spec.texture]]
        if spec.shape == spec.texture:
            return f"reference/{shape}/{spec.instance:04d}"
        return f"conflict/{shape}-{texture}/{spec.instance:04d}"

    def _item(self, key: str, spec: _TexturedShape) -> ImageItem:
        shape, texture = self.classes[spec.shape], self.classes[spec.texture]
        return ImageItem(key, "photo", shape, second_label=texture if spec.shape != spec.texture else None)

    def split(self, name: SplitName) -> list[ImageItem]:
        """``"query"``: the cue-conflict images (label: shape class, second label: texture class),
        by shape class, then texture class; ``"gallery"``: the clean references, by class;
        ``"train"``: none."""
        specs = {"query": self._queries, "gallery": self._gallery, "train": {}}
        if name not in specs:
            raise ValueError(f"split must be one of {sorted(specs)}, got {name!r}")
        return [self._item(key, spec) for key, spec in specs[name].items()]

    def load_image(self, item: ImageItem) -> Image.Image:
        """Render ``item`` (an item of this dataset) as an RGB image of ``image_size`` pixels."""
        spec = self._queries.get(item.key) or self._gallery.get(item.key)
        if spec is None:
            raise ValueError(f"{item.key!r} is not an item of this dataset; pass items its split() returns")
        return render_textured_shape(
            self._options["seed"],
            self._classes[spec.shape],
            spec.instance,
            self._classes[spec.texture],
            self._textures[spec.texture],
            self._options["image_size"],
        )

    def describe(self) -> dict[str, object]:
        """The generator arguments, the categories and each one's texture."""
        textures = {
            name: texture.describe() for name, texture in zip(self.classes, self._textures, strict=True)
        }
        return {**self._options, "classes": self.classes, "textures": textures}
