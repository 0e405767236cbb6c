"""FS-COCO (Chowdhury et al., ECCV 2022): scene-level SBIR over freehand scene sketches, as released.

The release holds 10,000 raster sketches by 100 users, each paired by file id with the MS-COCO
photo it was drawn from and captioned by its sketcher (docs/protocol.md, sections 3 and 9):
``raster_sketches/<user>/<id>``, ``images/<user>/<id>``, ``text/<user>/<id>.txt``. The published
test lists ``val_normal.txt`` and ``val_unseen_user.txt`` name the test ids; option ``split``
picks one. The queries are the listed sketches, the gallery the listed photos (one per sketch),
the training split every other sketch and photo. Ids are compared as numbers, as the release's
own loaders do, so ``000123`` and ``123`` are one id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import BenchError, ImageItem
from bench_datasets import expected_layouts
from bench_datasets.base import ClassCount, FileBenchmark, LayoutReport
from bench_datasets.layout import closest, image_files, require_root, subfolder_names, wrong_root_error

TITLE = "FS-COCO"
SKETCH_FOLDER, PHOTO_FOLDER, TEXT_FOLDER = "raster_sketches", "images", "text"
SPLIT_LISTS = {"normal": "val_normal.txt", "unseen_user": "val_unseen_user.txt"}
"""``--dataset-option split=NAME`` -> the published list of its test ids."""
DEFAULT_SPLIT = "normal"
PUBLISHED_SKETCHES = 10_000
LABEL = "scene"
"""The label of every item: a scene has no class, only its pairing."""


def file_id(name: str) -> str:
    """The id of a file stem or list entry: ``"000123"`` -> ``"123"`` (numeric ids compare as numbers)."""
    return str(int(name)) if name.isdigit() else name


@dataclass
class FolderFiles:
    """The files of one release folder (``<folder>/<user>/<id>.<ext>``), by id.

    Attributes:
        paths: id -> file; users: id -> its user folder; repeated: ids found more than once.
    """

    paths: dict[str, Path] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    repeated: list[str] = field(default_factory=list)

    @classmethod
    def scan(cls, folder: Path, text: bool = False) -> FolderFiles:
        """The image files (``.txt`` files when ``text``) of every user folder of ``folder``."""
        found = cls()
        for user in sorted(subfolder_names(folder), key=lambda name: (not name.isdigit(), file_id(name))):
            user_folder = folder / user
            files = _text_files(user_folder) if text else image_files(user_folder)
            for path in files:
                key = file_id(path.stem)
                if key in found.paths:
                    found.repeated.append(key)
                    continue
                found.paths[key], found.users[key] = path, user
        return found


def _text_files(folder: Path) -> list[Path]:
    """The ``.txt`` files directly inside ``folder`` (hidden files skipped), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".txt" and not p.name.startswith("."))


def read_caption(path: Path | None) -> str | None:
    """The caption in ``path`` with its whitespace collapsed; None for no file or an empty one."""
    if path is None:
        return None
    text = " ".join(path.read_text(encoding="utf-8", errors="replace").split())
    return text or None


def check_split(split: Any) -> str:
    """``split`` when it names a published list.

    Raises:
        BenchError: naming the valid splits and their lists (and the closest one).
    """
    name = DEFAULT_SPLIT if split is None else str(split)
    if name in SPLIT_LISTS:
        return name
    near = closest(name, SPLIT_LISTS)
    guess = f" Did you mean {near}?" if near else ""
    valid = " or ".join(f"{key} ({path})" for key, path in SPLIT_LISTS.items())
    raise BenchError(
        f"Dataset 'fscoco' has no split {name!r}.{guess}",
        f"Valid: {valid}, e.g. --dataset-option split=unseen_user (default: {DEFAULT_SPLIT}).",
    )


@dataclass
class ReleaseFiles:
    """The sketches, photos and captions of a release root, by id (``captions`` None: no text/ folder)."""

    sketches: FolderFiles
    photos: FolderFiles
    captions: FolderFiles | None

    @classmethod
    def scan(cls, root: Path) -> ReleaseFiles:
        text = root / TEXT_FOLDER
        return cls(
            FolderFiles.scan(root / SKETCH_FOLDER),
            FolderFiles.scan(root / PHOTO_FOLDER),
            FolderFiles.scan(text, text=True) if text.is_dir() else None,
        )

    def problems(self) -> list[str]:
        """One problem per folder where an id has more than one file (its pairing is ambiguous)."""
        folders = ((SKETCH_FOLDER, self.sketches), (PHOTO_FOLDER, self.photos), (TEXT_FOLDER, self.captions))
        return [
            f"ids with more than one file in {folder}/: {len(files.repeated)} (first: {files.repeated[0]}); "
            "each id must be in one user folder only."
            for folder, files in folders
            if files is not None and files.repeated
        ]

    def items(self, ids: list[str], modality: str) -> list[ImageItem]:
        """The sketches (with their captions) or photos of ``ids`` that exist, in ``ids`` order."""
        files = self.sketches if modality == "sketch" else self.photos
        captions = self.captions.paths if self.captions is not None and modality == "sketch" else {}
        return [
            ImageItem(
                f"{modality}/{files.users[key]}/{key}",
                modality,  # type: ignore[arg-type]
                LABEL,
                key,
                read_caption(captions.get(key)),
                files.paths[key],
            )
            for key in ids
            if key in files.paths
        ]

    def users(self, ids: list[str]) -> set[str]:
        """The user folders of the sketches of ``ids``."""
        return {self.sketches.users[key] for key in ids if key in self.sketches.users}


class FSCOCO(FileBenchmark):
    """FS-COCO: each query sketch against the photos of every test id of the split. Option ``split``."""

    @classmethod
    def inspect_root(cls, root: Path, *, scan_train: bool = True, split: Any = None) -> LayoutReport:
        split = check_split(split)
        root = require_root(root, TITLE, expected_layouts.FSCOCO)
        absent = [f"{name}/" for name in (SKETCH_FOLDER, PHOTO_FOLDER) if not (root / name).is_dir()]
        if absent:
            raise wrong_root_error(root, TITLE, " nor ".join(absent), expected_layouts.FSCOCO)
        report = LayoutReport("fscoco", TITLE, root, expected_layouts.FSCOCO)
        files = ReleaseFiles.scan(root)
        report.problems += files.problems()
        test_ids = _listed_ids(root, split, files, report.problems)
        queries, gallery = files.items(test_ids, "sketch"), files.items(test_ids, "photo")
        report.splits = {"query": queries, "gallery": gallery}
        report.rows.append(_counts("test", test_ids, queries, gallery))
        uncaptioned = sum(item.caption is None for item in queries)
        if files.captions is None:
            report.notes.append(
                f"There is no {TEXT_FOLDER}/ folder: without captions --query-text caption fails."
            )
        elif uncaptioned:
            report.notes.append(
                f"test sketches without a caption in {TEXT_FOLDER}/: {uncaptioned}; "
                "--query-text caption fails."
            )
        if scan_train:
            _add_training(report, split, files, test_ids)
        if len(files.sketches.paths) != PUBLISHED_SKETCHES:
            report.notes.append(
                f"The FS-COCO release has {PUBLISHED_SKETCHES:,} sketches (100 users); this root has "
                f"{len(files.sketches.paths):,} in {SKETCH_FOLDER}/."
            )
        report.facts = {
            "split": split,
            "test_list": SPLIT_LISTS[split],
            "test_sketches": len(queries),
            "test_photos": len(gallery),
            "test_users": len(files.users(test_ids)),
            "captioned_test_sketches": len(queries) - uncaptioned,
        }
        return report


def _listed_ids(root: Path, split: str, files: ReleaseFiles, problems: list[str]) -> list[str]:
    """The ids ``split``'s list names, in list order; a missing list or listed file is a problem."""
    path = root / SPLIT_LISTS[split]
    if not path.is_file():
        problems.append(f"split={split} needs its test list {path.name}; it is missing.")
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    ids = list(dict.fromkeys(file_id(Path(line.strip()).stem) for line in lines if line.strip()))
    if not ids:
        problems.append(f"{path.name} names no test id.")
    for folder, found in ((SKETCH_FOLDER, files.sketches), (PHOTO_FOLDER, files.photos)):
        absent = [key for key in ids if key not in found.paths]
        if absent:
            problems.append(
                f"ids of {path.name} without a file in {folder}/<user>/: {len(absent)} (first: {absent[0]})."
            )
    return ids


def _counts(role: str, ids: list[str], sketches: list[ImageItem], photos: list[ImageItem]) -> ClassCount:
    """A report row: the ids of ``role`` (``"test"`` or ``"train"``) and the files found for them."""
    counts = {
        "ids": len(ids),
        "sketches": len(sketches),
        "photos": len(photos),
        "captions": sum(item.caption is not None for item in sketches),
    }
    return ClassCount(role, LABEL, counts)


def _add_training(report: LayoutReport, split: str, files: ReleaseFiles, test_ids: list[str]) -> None:
    """The training split (every paired id outside the test list: photo, then sketch) and its notes:
    files without a partner, and for ``unseen_user`` users that hold test and training sketches."""
    listed = set(test_ids)
    ids = [key for key in files.sketches.paths if key in files.photos.paths and key not in listed]
    sketches, photos = files.items(ids, "sketch"), files.items(ids, "photo")
    report.splits["train"] = [item for pair in zip(photos, sketches, strict=True) for item in pair]
    report.rows.append(_counts("train", ids, sketches, photos))
    sides = (
        (SKETCH_FOLDER, files.sketches, PHOTO_FOLDER, files.photos),
        (PHOTO_FOLDER, files.photos, SKETCH_FOLDER, files.sketches),
    )
    for folder, found, other_folder, other in sides:
        unpaired = [key for key in found.paths if key not in listed and key not in other.paths]
        if unpaired:
            report.notes.append(
                f"files of {folder}/ without a partner in {other_folder}/, left out of training: "
                f"{len(unpaired)} (first: {unpaired[0]})."
            )
    shared = sorted(files.users(test_ids) & files.users(ids))
    if split == "unseen_user" and shared:
        report.notes.append(
            f"user folders holding test and training sketches: {len(shared)} (first: {shared[0]}); "
            "not every test user is unseen."
        )
