"""Fake release trees for the dataset-adapter tests: the real layouts and names, tiny real images.

Zero-shot trees hold, for each unseen class, a few files taken from the published test lists (so
the adapter's test set must equal those lists restricted to the files present), and one sketch
and one photo for each seen class. Images are 8x8: sketches are RGBA PNGs (transparent
background), photos JPEGs (or PNGs where the list says so).
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from bench_datasets.classnames import TUBERLIN_PHOTO_FOLDERS
from bench_datasets.layout import canonical_path
from bench_datasets.splits import class_list, file_list
from PIL import Image

SIZE = 8


@cache
def image_bytes(suffix: str, sketch: bool) -> bytes:
    """An encoded 8x8 image: a black stroke on transparent (sketch PNG) or a coloured photo."""
    buffer = io.BytesIO()
    if suffix.lower() == ".png" and sketch:
        image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
        image.putpixel((3, 3), (0, 0, 0, 255))
        image.save(buffer, "PNG")
    else:
        image = Image.new("RGB", (SIZE, SIZE), (200, 80, 40))
        image.save(buffer, "PNG" if suffix.lower() == ".png" else "JPEG")
    return buffer.getvalue()


def write_images(root: Path, paths: Iterable[str], sketch: bool) -> None:
    """Tiny images at ``root/<path>`` for each relative path."""
    for path in paths:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(image_bytes(target.suffix, sketch))


def by_class(paths: Iterable[str], depth: int) -> dict[str, list[str]]:
    """Paths grouped by their class folder, the ``depth``-th path component (0-based)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        groups[path.split("/")[depth]].append(path)
    return groups


def stem(path: str) -> str:
    """The file name of ``path`` without its suffix."""
    return path.rpartition("/")[2].rpartition(".")[0]


def ready(path: str, use_ready: bool) -> str:
    """A canonical published path, or SAKE's ``_ready`` spelling of it."""
    if not use_ready:
        return canonical_path(path)
    *folders, _label, name = canonical_path(path).split("/")
    folders[-1] += "_ready"
    return "/".join([*folders, _label, name])


def sketchy_tree(
    root: Path, sketch_list: str, photo_list: str, use_ready: bool = False, sketches_per_photo: int = 99
) -> dict[str, list[str]]:
    """A Sketchy tree: per unseen class of the lists, 2 original photos, their sketches, their copies in
    the extended set and 2 extended-only photos (camel keeps the photo missing from its extended set).

    Returns the published entries (canonical paths) the tree holds: ``{"sketches": [...], "photos": [...]}``.
    """
    drawn_from: dict[tuple[str, str], list[str]] = defaultdict(list)  # (class, photo id) -> sketches
    for path in map(canonical_path, file_list(sketch_list)):
        *_, label, name = path.split("/")
        drawn_from[(label, name.rpartition("-")[0])].append(path)
    photos = [canonical_path(p) for p in file_list(photo_list)]
    originals = by_class((p for p in photos if p.startswith("256x256/")), 3)
    extended = by_class((p for p in photos if p.startswith("EXTEND")), 1)
    held_sketches, held_photos = [], []
    for label, paths in originals.items():
        chosen = paths[:2] + [p for p in paths if p.endswith("n02437136_5405.jpg")]
        ids = [stem(p) for p in chosen]
        held_photos += chosen
        for photo_id in ids:
            assert drawn_from[(label, photo_id)], f"{label}/{photo_id} has no sketch in {sketch_list}"
            held_sketches += drawn_from[(label, photo_id)][:sketches_per_photo]
        held_photos += [p for p in extended[label] if stem(p) in ids]
        held_photos += [p for p in extended[label] if "/ext_" in p][:2]
    write_images(root, (ready(p, use_ready) for p in held_sketches), sketch=True)
    write_images(root, (ready(p, use_ready) for p in held_photos), sketch=False)
    unseen = set(originals)
    for label in class_list("sketchy_all125"):
        if label not in unseen:
            name = f"n0000_{len(label)}"
            write_images(
                root, [ready(f"256x256/sketch/tx_000000000000/{label}/{name}-1.png", use_ready)], True
            )
            for folder in ("256x256/photo/tx_000000000000", "EXTEND_image_sketchy"):
                write_images(root, [ready(f"{folder}/{label}/{name}.jpg", use_ready)], sketch=False)
    return {"sketches": held_sketches, "photos": held_photos}


def tuberlin_tree(root: Path, use_ready: bool = False) -> dict[str, list[str]]:
    """A TU-Berlin-ext tree: all 250 class folders (raw ``ImageResized`` names, or SAKE's ``_ready`` copy
    named like the sketches); 3 sketches and 3 photos of each SAKE unseen class from its lists."""
    sketches = [
        p for group in by_class(file_list("tuberlin_ext_sake_sketch_zero"), 1).values() for p in group[:3]
    ]
    photos = [
        p for group in by_class(file_list("tuberlin_ext_sake_photo_zero"), 1).values() for p in group[:3]
    ]
    photo_dir = "ImageResized_ready" if use_ready else "ImageResized"

    def photo_path(label: str, name: str) -> str:
        return f"{photo_dir}/{label if use_ready else TUBERLIN_PHOTO_FOLDERS.get(label, label)}/{name}"

    write_images(root, (ready(p, use_ready) for p in sketches), sketch=True)
    write_images(root, (photo_path(p.split("/")[1], p.split("/")[2]) for p in photos), sketch=False)
    unseen = {p.split("/")[1] for p in sketches}
    for label in class_list("tuberlin_all250"):
        if label not in unseen:
            write_images(root, [ready(f"png/{label}/1.png", use_ready)], sketch=True)
            write_images(root, [photo_path(label, "n0_1.JPEG")], sketch=False)
    return {"sketches": [canonical_path(p) for p in sketches], "photos": [canonical_path(p) for p in photos]}


def quickdraw_tree(root: Path) -> dict[str, list[str]]:
    """A QuickDraw-ext tree: all 110 class folders; per unseen class 3 sketches and 3 photos of its lists,
    plus every photo whose file name has a space (cow's ``304. cow-calf-...jpeg``)."""
    sketches = [
        p for group in by_class(file_list("quickdraw_ext_sketch_zero"), 1).values() for p in group[:3]
    ]
    photos = [
        p
        for group in by_class(file_list("quickdraw_ext_photo_zero"), 1).values()
        for p in group[:3] + [q for q in group[3:] if " " in q.split("/")[2]][:2]
    ]
    write_images(root, sketches, sketch=True)
    write_images(root, photos, sketch=False)
    unseen = {p.split("/")[1] for p in sketches}
    for label in class_list("quickdraw_ext_all110"):
        if label not in unseen:
            write_images(root, [f"sketches/{label}/1.png"], sketch=True)
            write_images(root, [f"images/{label}/image_00001.jpg"], sketch=False)
    return {"sketches": list(sketches), "photos": list(photos)}


def qmul_tree(root: Path, name: str, release: str, test_photos: int = 3, train_photos: int = 2) -> None:
    """A QMUL tree (release ``"a"`` or ``"b"``): photos ``<id>.png`` with sketches ``<id>_1/2.png``."""
    splits = {"test": [f"{2429245009 + i}" for i in range(test_photos)]}
    splits["train"] = [f"{1031000079 + i}" for i in range(train_photos)]
    for split, ids in splits.items():
        sketches = [f"{i}_{n}.png" for i in ids for n in (1, 2)]
        photos = [f"{i}.png" for i in ids]
        if release == "a":
            write_images(root, (f"{name}_sketch_png/{s}" for s in sketches), sketch=True)
            write_images(root, (f"{name}_photo/{p}" for p in photos), sketch=False)
            (root / f"sketch_{split}.txt").write_text("".join(f"{Path(s).stem}.svg\n" for s in sketches))
            (root / f"photo_{split}.txt").write_text("".join(f"{p}\n" for p in photos))
        else:
            sketch_dir, photo_dir = ("testA", "testB") if split == "test" else ("trainA", "trainB")
            write_images(root, (f"{sketch_dir}/{s}" for s in sketches), sketch=True)
            write_images(root, (f"{photo_dir}/{p}" for p in photos), sketch=False)
