"""Benchmarks read from class folders: zero-shot category-level SBIR, and Sketchy's zero-shot FG-SBIR.

A benchmark is a :class:`CategorySpec`: where its sketches and photos live, its class lists, and
its named splits with their published test file lists. Queries are all sketches of the unseen
classes, the gallery all their photos, the training split the sketches and photos of the seen
classes (docs/protocol.md section 1). A photo present in several photo folders (Sketchy's originals are
also in its extended set) is one photo: the default ``unique`` gallery holds it once, the
``listed`` gallery once per folder, as the published lists do.

Item keys are release-relative paths with canonical folder names (SAKE's ``_ready`` dropped, the
class label as class folder), so they compare directly with the published file lists.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from bench import BenchError, ImageItem
from bench_datasets.base import ClassCount, FileBenchmark, LayoutReport
from bench_datasets.classnames import labels_of
from bench_datasets.layout import (
    READY_SUFFIX,
    canonical_path,
    closest,
    find_dir,
    image_files,
    require_root,
    subfolder_names,
    wrong_root_error,
)
from bench_datasets.splits import class_list, file_list

GALLERY_RULES = {
    "unique": "every photo once (a photo in two photo folders counts once)",
    "listed": "every photo once per photo folder holding it, as the published lists do (duplicates kept)",
}
SHOWN_NAMES = 3


@dataclass(frozen=True, eq=False)
class Source:
    """A release folder of class folders (of sketches, or of photos).

    Attributes:
        path: the folder relative to the root, ``/``-separated, as the release names it.
        folder_names: label -> this folder's name for the class, where it differs from the label.
    """

    path: str
    folder_names: Mapping[str, str] = field(default_factory=dict)

    def candidates(self, label: str) -> tuple[str, ...]:
        """The folder names that hold ``label`` in a release: the label, then the table's name."""
        other = self.folder_names.get(label)
        return (label,) if other is None else (label, other)

    def key(self, label: str, name: str) -> str:
        return f"{self.path}/{label}/{name}"


@dataclass(frozen=True, eq=False)
class SplitDef:
    """A named zero-shot split.

    Attributes:
        name: the value of ``--dataset-option split=NAME``.
        unseen: the ``split_data`` class list of its unseen (test) classes.
        provenance: where the list comes from, recorded in results.
        spellings: the list's spellings of labels that differ from the folder names.
        sketch_list, photo_list: the ``split_data/filelists`` test lists, when published.
    """

    name: str
    unseen: str
    provenance: str
    spellings: Mapping[str, str] = field(default_factory=dict)
    sketch_list: str | None = None
    photo_list: str | None = None


@dataclass(frozen=True, eq=False)
class CategorySpec:
    """Everything that defines one benchmark read from class folders.

    Attributes:
        id: the dataset id; title: its name in messages.
        all_classes: the ``split_data`` list of every class (seen = all - unseen).
        splits: the named splits; the first is the default.
        sketches: the sketch folder.
        photos: the photo folders, in de-duplication priority (a duplicate keeps the first's copy).
        gallery_rules: the gallery rules offered (``--dataset-option gallery=``); the first is the default.
        expected_layout: shown when a root is wrong.
        photo_id: for fine-grained pairing, sketch file name -> the id (file stem) of its photo,
            or None when the name does not follow the release's pattern.
    """

    id: str
    title: str
    all_classes: str
    splits: tuple[SplitDef, ...]
    sketches: Source
    photos: tuple[Source, ...]
    expected_layout: str
    gallery_rules: tuple[str, ...] = ("unique",)
    photo_id: Callable[[str], str | None] | None = None

    def split_named(self, name: Any) -> SplitDef:
        """The split called ``name`` (None: the default one)."""
        if name is None:
            return self.splits[0]
        for split in self.splits:
            if split.name == str(name):
                return split
        raise BenchError(
            f"Dataset {self.id!r} has no split {str(name)!r}.",
            f"Valid: {_choices([s.name for s in self.splits])} (--dataset-option split=NAME).",
        )

    def gallery_rule(self, name: Any) -> str:
        """The gallery rule called ``name`` (None: the default one)."""
        if name is None:
            return self.gallery_rules[0]
        if str(name) not in self.gallery_rules:
            raise BenchError(
                f"Dataset {self.id!r} has no gallery rule {str(name)!r}.",
                "Valid (--dataset-option gallery=NAME): "
                + "; ".join(f"{rule}: {GALLERY_RULES[rule]}" for rule in self.gallery_rules)
                + f". Default: {self.gallery_rules[0]}.",
            )
        return str(name)


def _choices(names: Sequence[str]) -> str:
    return ", ".join(f"{name} (default)" if i == 0 else name for i, name in enumerate(names))


@dataclass(frozen=True)
class Photo:
    """A photo file of a class in one photo folder (``path`` is None for a published-list entry)."""

    source: Source
    label: str
    name: str
    path: Path | None = None

    @property
    def key(self) -> str:
        return self.source.key(self.label, self.name)


def select_photos(photos: Sequence[Photo], sources: Sequence[Source], rule: str) -> list[Photo]:
    """``photos`` ordered by source priority; ``unique`` keeps one per (label, file name): the first."""
    order = {source.path: i for i, source in enumerate(sources)}
    ordered = sorted(photos, key=lambda photo: order[photo.source.path])
    if rule == "listed":
        return ordered
    seen: set[tuple[str, str]] = set()
    kept = []
    for photo in ordered:
        if (photo.label, photo.name) not in seen:
            seen.add((photo.label, photo.name))
            kept.append(photo)
    return kept


@dataclass(frozen=True)
class PublishedTestSet:
    """A published test list, as this adapter's keys.

    Attributes:
        sketch_list, photo_list: the file list names; sketches / photos: the keys of the queries
        and of the gallery the rule selects; per_class: label -> {"sketches": n, "photos": m}.
    """

    sketch_list: str
    photo_list: str
    sketches: tuple[str, ...]
    photos: tuple[str, ...]
    per_class: dict[str, dict[str, int]]


def _split_key(path: str, prefix: str) -> tuple[str, str]:
    label, _, name = path.removeprefix(prefix + "/").partition("/")
    return label, name


@cache
def published_test_set(spec: CategorySpec, split: SplitDef, rule: str) -> PublishedTestSet | None:
    """The test set the published lists of ``split`` define under ``rule`` (None when not published).

    Photo entries outside ``spec.photos`` are dropped (``sketchy-fg`` uses the original photos only).
    Cached: specs and splits compare by identity (they are module constants).
    """
    if split.sketch_list is None or split.photo_list is None:
        return None
    sketches = tuple(canonical_path(path) for path in file_list(split.sketch_list))
    photos = []
    for path in map(canonical_path, file_list(split.photo_list)):
        source = next((s for s in spec.photos if path.startswith(s.path + "/")), None)
        if source is not None:
            photos.append(Photo(source, *_split_key(path, source.path)))
    selected = select_photos(photos, spec.photos, rule)
    sketch_counts = Counter(_split_key(key, spec.sketches.path)[0] for key in sketches)
    photo_counts = Counter(photo.label for photo in selected)
    per_class = {
        label: {"sketches": sketch_counts[label], "photos": photo_counts[label]}
        for label in sketch_counts | photo_counts
    }
    keys = tuple(p.key for p in selected)
    return PublishedTestSet(split.sketch_list, split.photo_list, sketches, keys, per_class)


def compare_with_list(found: Sequence[str], listed: Sequence[str], what: str, list_name: str) -> str | None:
    """None when ``found`` holds exactly the ``listed`` keys, else a note saying how they differ."""
    found_set, listed_set = set(found), set(listed)
    if found_set == listed_set and len(found) == len(listed):
        return None
    missing, unlisted = sorted(listed_set - found_set), sorted(found_set - listed_set)

    def first(keys: list[str]) -> str:
        return f" (first: {keys[0]})" if keys else ""

    return (
        f"The {what} differ from the published list {list_name}: {len(missing):,} listed files not found"
        f"{first(missing)}, {len(unlisted):,} files not listed{first(unlisted)}."
    )


class _ClassScan:
    """One pass over a root for one spec: resolves class folders, lists files, collects problems."""

    def __init__(self, spec: CategorySpec, root: Path, report: LayoutReport) -> None:
        self.spec, self.root, self.report = spec, root, report
        self.sources = (spec.sketches, *spec.photos)
        dirs = {source.path: find_dir(root, source.path) for source in self.sources}
        missing = [path for path, found in dirs.items() if found is None]
        if missing:
            where = ", ".join(f"{m}/" for m in missing)
            raise wrong_root_error(root, spec.title, where, spec.expected_layout)
        self.dirs: dict[str, Path] = dirs  # type: ignore[assignment]
        self.existing = {path: subfolder_names(folder) for path, folder in self.dirs.items()}
        self.used: dict[str, set[str]] = {path: set() for path in self.dirs}

    def relative(self, source: Source, *parts: str) -> str:
        return "/".join([self.dirs[source.path].relative_to(self.root).as_posix(), *parts])

    def folders(self, label: str, role: str) -> dict[str, str] | None:
        """Source path -> the folder holding ``label``; None (a problem per source) when one is missing."""
        found = {}
        for source in self.sources:
            candidates = source.candidates(label)
            name = next((c for c in candidates if c in self.existing[source.path]), None)
            if name is None:
                near = closest(label, self.existing[source.path])
                hint = f"; the closest folder there is {near!r}" if near else ""
                looked = " or ".join(map(repr, candidates))
                where = self.relative(source)
                self.report.problems.append(
                    f"{role} class {label!r} has no folder in {where}/ (looked for {looked}{hint})."
                )
                continue
            self.used[source.path].add(name)
            found[source.path] = name
        return found if len(found) == len(self.sources) else None

    def items(
        self, label: str, folders: dict[str, str], rule: str
    ) -> tuple[list[ImageItem], list[ImageItem]]:
        """The sketches and the photos ``rule`` selects of one class, as items.

        Fine-grained items carry pairing ids ``<label>/<photo id>``; a sketch without its photo gets None.
        """
        photos = select_photos(
            [
                Photo(source, label, p.name, p)
                for source in self.spec.photos
                for p in image_files(self.dirs[source.path] / folders[source.path])
            ],
            self.spec.photos,
            rule,
        )
        pair = self.spec.photo_id
        photo_ids = {Path(photo.name).stem for photo in photos}
        sketches = []
        for path in image_files(self.dirs[self.spec.sketches.path] / folders[self.spec.sketches.path]):
            photo_id = pair(path.name) if pair is not None else None
            instance = f"{label}/{photo_id}" if photo_id in photo_ids else None
            sketches.append(
                ImageItem(self.spec.sketches.key(label, path.name), "sketch", label, instance, path=path)
            )
        photo_items = [
            ImageItem(p.key, "photo", label, f"{label}/{Path(p.name).stem}" if pair else None, path=p.path)
            for p in photos
        ]
        return sketches, photo_items

    def renamed(self, label: str, folders: dict[str, str]) -> str:
        """Where a class's folders are named otherwise than the class, in words ('' when nowhere)."""
        return ", ".join(
            f"{self.relative(source, folders[source.path])}/"
            for source in self.sources
            if folders[source.path] != label
        )

    def extra_folder_notes(self) -> list[str]:
        notes = []
        for source in self.sources:
            extra = [name for name in self.existing[source.path] if name not in self.used[source.path]]
            if extra:
                shown = ", ".join(map(repr, extra[:SHOWN_NAMES])) + (
                    ", ..." if len(extra) > SHOWN_NAMES else ""
                )
                notes.append(f"{self.relative(source)}/ has {len(extra)} folders of no class: {shown}.")
        return notes

    def layout(self) -> str:
        ready = [self.relative(s) for s in self.sources if self.dirs[s.path].name.endswith(READY_SUFFIX)]
        if not ready:
            return "release folders"
        if len(ready) == len(self.sources):
            return "SAKE's preprocessed copy (_ready folders)"
        return f"mixed: {', '.join(ready)} from SAKE's preprocessed copy"


class CategoryBenchmark(FileBenchmark):
    """A benchmark of :attr:`spec` (subclasses set it, ``task`` and, for fine-grained, ``group_by_label``).

    Options: ``split`` (a :class:`SplitDef` name) and ``gallery`` (a rule of ``spec.gallery_rules``).
    """

    spec: ClassVar[CategorySpec]

    @classmethod
    def inspect_root(
        cls, root: Path, *, scan_train: bool = True, split: Any = None, gallery: Any = None
    ) -> LayoutReport:
        spec = cls.spec
        split_def, rule = spec.split_named(split), spec.gallery_rule(gallery)
        root = require_root(root, spec.title, spec.expected_layout)
        report = LayoutReport(spec.id, spec.title, root, spec.expected_layout)
        scan = _ClassScan(spec, root, report)
        labels = class_list(spec.all_classes)
        unseen = labels_of(
            class_list(split_def.unseen), split_def.spellings, labels, f"Split list {split_def.unseen}.txt"
        )
        test_classes = set(unseen)
        seen = tuple(label for label in labels if label not in test_classes)
        published = published_test_set(spec, split_def, rule)
        splits: dict[str, list[ImageItem]] = {"query": [], "gallery": [], "train": []}
        for role, classes in (("unseen", unseen), ("seen", seen)):
            for label in classes:
                folders = scan.folders(label, role)
                if folders is None or (role == "seen" and not scan_train):
                    continue
                # the gallery rule is about the test gallery; training photos are always unique
                sketches, photo_items = scan.items(label, folders, rule if role == "unseen" else "unique")
                if role == "unseen":
                    splits["query"] += sketches
                    splits["gallery"] += photo_items
                    _check_test_class(scan, label, folders, sketches, photo_items)
                else:
                    splits["train"] += sketches + photo_items
                counts = {"sketches": len(sketches), "photos": len(photo_items)}
                if spec.photo_id is not None:
                    counts["unpaired"] = sum(sketch.instance is None for sketch in sketches)
                published_counts = (
                    published.per_class.get(label, {}) if published and role == "unseen" else {}
                )
                report.rows.append(
                    ClassCount(role, label, counts, published_counts, scan.renamed(label, folders))
                )
        if not scan_train:
            del splits["train"]
        report.splits = splits
        report.notes += scan.extra_folder_notes()
        report.facts = _facts(split_def, rule, unseen, seen, splits["gallery"], scan.layout())
        report.facts["published_list"] = _compare_published(report, splits, published)
        return report


def _check_test_class(
    scan: _ClassScan, label: str, folders: dict[str, str], sketches: list[ImageItem], photos: list[ImageItem]
) -> None:
    """Problems of one unseen class: no sketches, no photos, sketches without their photo."""
    spec, problems = scan.spec, scan.report.problems
    if not sketches:
        where = scan.relative(spec.sketches, folders[spec.sketches.path])
        problems.append(f"unseen class {label!r} has no sketches in {where}/.")
    if not photos:
        where = " or ".join(f"{scan.relative(s, folders[s.path])}/" for s in spec.photos)
        problems.append(f"unseen class {label!r} has no photos in {where}.")
    if spec.photo_id is None or not photos:
        return
    unpaired = [sketch for sketch in sketches if sketch.instance is None]
    if unpaired:
        first = unpaired[0].path.name  # type: ignore[union-attr]
        photo_id = spec.photo_id(first)
        wanted = f"{photo_id}.*" if photo_id else "(the name does not follow the release's pattern)"
        where = "/".join(scan.relative(s, folders[s.path]) for s in spec.photos)
        problems.append(
            f"{len(unpaired)} sketches of unseen class {label!r} have no paired photo in {where}/ "
            f"(first: {first} needs {wanted})."
        )


def _facts(
    split: SplitDef,
    rule: str,
    unseen: Sequence[str],
    seen: Sequence[str],
    gallery: list[ImageItem],
    layout: str,
) -> dict[str, Any]:
    pictures = {(item.label, item.path.name) for item in gallery}  # type: ignore[union-attr]
    duplicates = len(gallery) - len(pictures)
    return {
        "split": split.name,
        "split_source": split.provenance,
        "unseen_classes": len(unseen),
        "seen_classes": len(seen),
        "gallery_rule": rule,
        "gallery_unique": duplicates == 0,
        "gallery_duplicates": duplicates,
        "layout": layout,
    }


def _compare_published(
    report: LayoutReport, splits: dict[str, list[ImageItem]], published: PublishedTestSet | None
) -> str:
    """The ``published_list`` fact; differences also become notes."""
    if published is None:
        return "none published for this split"
    differences = [
        compare_with_list(
            [i.key for i in splits["query"]], published.sketches, "query sketches", published.sketch_list
        ),
        compare_with_list(
            [i.key for i in splits["gallery"]], published.photos, "gallery photos", published.photo_list
        ),
    ]
    report.notes += [d for d in differences if d]
    verdict = "differs from" if any(differences) else "identical to"
    return f"{verdict} {published.sketch_list}, {published.photo_list}"
