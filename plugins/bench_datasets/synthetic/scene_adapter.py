"""The ``synthetic-scene`` adapter: generated scenes for scene-level SBIR (docs/protocol.md section 9).

Each scene (:mod:`bench_datasets.synthetic.scenes`) gives one photo and one sketch that share a
pairing id; a query sketch's only relevant gallery item is its scene's photo, ranked against the
photos of every test scene. Sketches carry the scene's caption (as FS-COCO's sketches carry their
sketcher's), for ``--query-text caption``. Training scenes come from generators of their own.
"""

from __future__ import annotations

from PIL import Image

from bench import Dataset, ImageItem, SplitName
from bench_datasets.synthetic.adapter import check_int
from bench_datasets.synthetic.scenes import (
    SPLIT_CODES,
    render_scene_photo,
    render_scene_sketch,
    scene_caption,
    scene_objects,
)

SCENE_LABEL = "scene"
"""The label of every item: scenes have no class, only their pairing."""


class SyntheticScene(Dataset):
    """Scene-level SBIR on generated scenes.

    Args:
        seed: seeds every scene (>= 0).
        scenes: test scenes: the query sketches and the gallery photos, one of each per scene.
        train_scenes: training scenes (a photo and a sketch each), for ``bench train``.
        image_size: side of every image, pixels.

    Raises:
        ValueError: when an argument is out of range (the message says what is valid).
    """

    def __init__(
        self, *, seed: int = 0, scenes: int = 96, train_scenes: int = 96, image_size: int = 128
    ) -> None:
        self._options: dict[str, int] = {
            "seed": check_int("seed", seed, 0),
            "scenes": check_int("scenes", scenes, 2, 9999),
            "train_scenes": check_int("train_scenes", train_scenes, 2, 9999),
            "image_size": check_int("image_size", image_size, 32, 1024),
        }

    def _count(self, split: str) -> int:
        return self._options["scenes" if split == "test" else "train_scenes"]

    def _sketches(self, split: str) -> list[ImageItem]:
        """The sketches of ``split``'s scenes (``"test"`` or ``"train"``), in scene order, with captions."""
        seed, size = self._options["seed"], self._options["image_size"]
        return [
            ImageItem(
                f"sketch/{split}/{index:04d}",
                "sketch",
                SCENE_LABEL,
                f"{split}/{index:04d}",
                scene_caption(scene_objects(seed, split, index, size)),
            )
            for index in range(self._count(split))
        ]

    def _photos(self, split: str) -> list[ImageItem]:
        """The photos of ``split``'s scenes, in scene order."""
        return [
            ImageItem(f"photo/{split}/{index:04d}", "photo", SCENE_LABEL, f"{split}/{index:04d}")
            for index in range(self._count(split))
        ]

    def split(self, name: SplitName) -> list[ImageItem]:
        """``"query"``: the test sketches; ``"gallery"``: the test photos (scene order, pairs share
        ``instance``); ``"train"``: each training scene's photo then its sketch."""
        if name == "query":
            return self._sketches("test")
        if name == "gallery":
            return self._photos("test")
        if name == "train":
            pairs = zip(self._photos("train"), self._sketches("train"), strict=True)
            return [item for pair in pairs for item in pair]
        raise ValueError(f"split must be one of ['gallery', 'query', 'train'], got {name!r}")

    def load_image(self, item: ImageItem) -> Image.Image:
        """Render ``item`` (an item of this dataset) as an RGB image of ``image_size`` pixels."""
        parts = item.key.split("/")  # "sketch/test/0003"
        if not (
            len(parts) == 3
            and parts[0] in ("sketch", "photo")
            and parts[1] in SPLIT_CODES
            and parts[2].isdigit()
            and int(parts[2]) < self._count(parts[1])
        ):
            raise ValueError(f"{item.key!r} is not an item of this dataset; pass items its split() returns")
        modality, split, index = parts
        render = render_scene_sketch if modality == "sketch" else render_scene_photo
        return render(self._options["seed"], split, int(index), self._options["image_size"])

    def describe(self) -> dict[str, object]:
        """The generator arguments and the scene layout."""
        return {**self._options, "objects_per_scene": "2-4 on a 2x2 grid", "label": SCENE_LABEL}
