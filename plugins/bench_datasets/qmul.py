"""QMUL ShoeV2 and ChairV2 (instance-level FG-SBIR), from either release layout (docs/protocol.md section 3).

* release (a): ``<Name>_photo/<id>.png`` and ``<Name>_sketch_png/<id>_<n>.png``; the splits are the
  files named by ``photo_{train,test}.txt`` and ``sketch_{train,test}.txt`` (matched by file stem,
  so list entries may carry another extension or a folder).
* release (b): sketches in ``trainA/``, ``testA/``; photos in ``trainB/``, ``testB/``.

A sketch ``<id>_<n>`` is drawn from the photo ``<id>``; the test gallery is the unique test photos.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from bench import BenchError, ImageItem
from bench_datasets import expected_layouts
from bench_datasets.base import ClassCount, FileBenchmark, LayoutReport
from bench_datasets.layout import find_dir, image_files, require_root, wrong_root_error

MODALITY_WORDS = {"sketch": "sketches", "photo": "photos"}


@dataclass(frozen=True)
class Release:
    """One release layout: where each (split, modality) lives, and whether split lists pick the files.

    Attributes:
        name: ``"a"`` or ``"b"``; description: the layout in words (recorded in results).
        folders: (split, modality) -> folder relative to the root.
        lists: whether ``<modality>_<split>.txt`` lists pick each split's files from the folders.
    """

    name: str
    description: str
    folders: dict[tuple[str, str], str]
    lists: bool

    def markers(self) -> tuple[str, str]:
        return self.folders[("test", "sketch")], self.folders[("test", "photo")]


def releases(dataset: str) -> dict[str, Release]:
    """The two release layouts of ``dataset`` (``ShoeV2`` or ``ChairV2``)."""
    sketches, photos = f"{dataset}_sketch_png", f"{dataset}_photo"
    return {
        "a": Release(
            "a",
            f"{sketches}/ and {photos}/ with photo_test.txt, sketch_test.txt (and _train)",
            {
                (split, modality): (sketches if modality == "sketch" else photos)
                for split in ("train", "test")
                for modality in ("sketch", "photo")
            },
            lists=True,
        ),
        "b": Release(
            "b",
            "trainA/, testA/ (sketches) and trainB/, testB/ (photos)",
            {
                ("train", "sketch"): "trainA",
                ("test", "sketch"): "testA",
                ("train", "photo"): "trainB",
                ("test", "photo"): "testB",
            },
            lists=False,
        ),
    }


def photo_id(sketch_stem: str) -> str | None:
    """``"2429245009_1"`` -> ``"2429245009"``; None when the stem does not end in ``_<n>``."""
    photo, underscore, number = sketch_stem.rpartition("_")
    return photo if underscore and photo and number.isdigit() else None


def _listed_stems(root: Path, modality: str, split: str, problems: list[str]) -> list[str] | None:
    """The file stems ``<modality>_<split>.txt`` names, in order (None, and a problem, when it is
    missing or cannot be read as UTF-8 text)."""
    path = root / f"{modality}_{split}.txt"
    if not path.is_file():
        problems.append(
            f"release (a) needs {path.name} (the {split} {MODALITY_WORDS[modality]}); it is missing."
        )
        return None
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # a byte-order mark is dropped
    except UnicodeDecodeError as exc:
        problems.append(
            f"{path.name} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8 "
            "(one file name per line)."
        )
        return None
    except OSError as exc:
        problems.append(f"{path.name} cannot be read: {exc.strerror or exc}.")
        return None
    return [Path(line.strip()).stem for line in lines if line.strip()]


class QmulBenchmark(FileBenchmark):
    """ShoeV2 or ChairV2 (subclasses set the names). Option ``release``: ``a``, ``b`` or unset (detected)."""

    dataset_id: ClassVar[str]  # "shoev2"
    release_name: ClassVar[str]  # "ShoeV2", as in the release's folder names
    category: ClassVar[str]  # the label of every item
    published_test_photos: ClassVar[int]

    @classmethod
    def title(cls) -> str:
        return f"QMUL {cls.release_name}"

    @classmethod
    def expected_layout(cls) -> str:
        return expected_layouts.qmul(cls.release_name)

    @classmethod
    def detect_release(cls, root: Path, release: Any = None) -> Release:
        """The release layout ``root`` holds (``release`` forces one: ``"a"`` or ``"b"``)."""
        layouts = releases(cls.release_name)
        if release is not None and str(release) not in layouts:
            raise BenchError(
                f"Dataset {cls.dataset_id!r} has no release {str(release)!r}.",
                "Valid: a, b, or leave it unset to detect it (--dataset-option release=a).",
            )
        wanted = [layouts[str(release)]] if release is not None else list(layouts.values())
        present = [r for r in wanted if all(find_dir(root, folder) for folder in r.markers())]
        if len(present) == 1:
            return present[0]
        if present:
            raise BenchError(
                f"{str(root)!r} holds both release layouts of {cls.title()}.",
                "Choose one with --dataset-option release=a or --dataset-option release=b.",
            )
        missing = " nor ".join(f"{'/ + '.join(r.markers())}/ (release {r.name})" for r in wanted)
        raise wrong_root_error(root, cls.title(), missing, cls.expected_layout())

    @classmethod
    def inspect_root(cls, root: Path, *, scan_train: bool = True, release: Any = None) -> LayoutReport:
        root = require_root(root, cls.title(), cls.expected_layout())
        layout = cls.detect_release(root, release)
        report = LayoutReport(cls.dataset_id, cls.title(), root, cls.expected_layout())
        splits: dict[str, list[ImageItem]] = {}
        for split in ("test", "train") if scan_train else ("test",):
            sketches, photos = cls._split_items(root, layout, split, report.problems)
            unpaired = [s for s in sketches if s.instance is None]
            if unpaired:
                first = unpaired[0].path.name  # type: ignore[union-attr]
                report.problems.append(
                    f"{len(unpaired)} {split} sketches have no paired photo in "
                    f"{layout.folders[(split, 'photo')]}/ (first: {first} needs photo "
                    f"{photo_id(Path(first).stem) or '<id> (its name does not end in _<n>)'})."
                )
            if split == "test":
                splits["query"], splits["gallery"] = sketches, photos
            else:
                splits["train"] = sketches + photos
            counts = {"sketches": len(sketches), "photos": len(photos), "unpaired": len(unpaired)}
            published = {"photos": cls.published_test_photos} if split == "test" else {}
            report.rows.append(ClassCount(split, cls.category, counts, published))
        gallery = splits["gallery"]
        if gallery and len(gallery) != cls.published_test_photos:
            report.notes.append(
                f"The published {cls.release_name} test set has {cls.published_test_photos} photos; "
                f"this root has {len(gallery)}."
            )
        report.splits = splits
        report.facts = {
            "release": layout.name,
            "release_layout": layout.description,
            "test_sketches": len(splits["query"]),
            "test_photos": len(gallery),
        }
        return report

    @classmethod
    def _split_items(
        cls, root: Path, layout: Release, split: str, problems: list[str]
    ) -> tuple[list[ImageItem], list[ImageItem]]:
        """The paired sketches and the photos of ``split`` (unpaired sketches get ``instance=None``)."""
        files = {}
        for modality in ("sketch", "photo"):
            folder = find_dir(root, layout.folders[(split, modality)])
            if folder is None:
                where = layout.folders[(split, modality)]
                problems.append(f"the {split} {MODALITY_WORDS[modality]} folder {where}/ is missing.")
                files[modality] = []
                continue
            found = image_files(folder)
            if layout.lists:
                found = cls._pick_listed(root, folder, found, modality, split, problems)
            if not found:
                problems.append(
                    f"no {split} {MODALITY_WORDS[modality]} in {folder.relative_to(root).as_posix()}/."
                )
            files[modality] = found
        photo_stems = {p.stem for p in files["photo"]}
        prefix = f"{cls.release_name}/{split}"
        photos = [
            ImageItem(f"{prefix}/photo/{p.name}", "photo", cls.category, p.stem, path=p)
            for p in files["photo"]
        ]
        sketches = []
        for p in files["sketch"]:
            paired = photo_id(p.stem)
            instance = paired if paired in photo_stems else None
            sketches.append(ImageItem(f"{prefix}/sketch/{p.name}", "sketch", cls.category, instance, path=p))
        return sketches, photos

    @staticmethod
    def _pick_listed(
        root: Path, folder: Path, found: list[Path], modality: str, split: str, problems: list[str]
    ) -> list[Path]:
        """The files of ``folder`` that ``<modality>_<split>.txt`` names, sorted; absent ones are problems."""
        stems = _listed_stems(root, modality, split, problems)
        if stems is None:
            return []
        by_stem = {p.stem: p for p in found}
        absent = [stem for stem in stems if stem not in by_stem]
        if absent:
            problems.append(
                f"{len(absent)} {MODALITY_WORDS[modality]} named in {modality}_{split}.txt are not in "
                f"{folder.relative_to(root).as_posix()}/ (first: {absent[0]})."
            )
        return sorted(
            (by_stem[stem] for stem in dict.fromkeys(stems) if stem in by_stem), key=lambda p: p.name
        )


class ShoeV2(QmulBenchmark):
    """QMUL-Shoe-V2: 200 test photos."""

    dataset_id = "shoev2"
    release_name = "ShoeV2"
    category = "shoe"
    published_test_photos = 200


class ChairV2(QmulBenchmark):
    """QMUL-Chair-V2: 100 test photos."""

    dataset_id = "chairv2"
    release_name = "ChairV2"
    category = "chair"
    published_test_photos = 100
