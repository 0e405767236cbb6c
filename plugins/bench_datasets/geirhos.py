"""Geirhos et al. (ICLR 2019) cue-conflict stimuli as distributed, for the ``shape-bias`` task.

The repository github.com/rgeirhos/texture-vs-shape ships the 1,280 cue-conflict images of
"ImageNet-trained CNNs are biased towards texture" under
``stimuli/style-transfer-preprocessed-512/<shape class>/<shape><n>-<texture><m>.png``: content
image ``<shape><n>`` (10 per class) rendered by style transfer in the texture of image
``<texture><m>`` (3 per class), 16 classes. The queries are these images, each labelled with its
shape class and, as its second label, its texture class; the 80 whose shape and texture classes
agree carry no conflict and are left out, as the repository's shape-bias recipe says (1,200 are
scored). The gallery is a folder of clean references under ``stimuli/`` in the same class-folder
layout, option ``references``: ``edges`` (default: line drawings of the 160 content images, the
sketches of this sketch benchmark) or ``filled-silhouettes`` (their black silhouettes), both
shipped beside the stimuli, or any other folder, such as photos of the 16 classes a user supplies
(the original photos are not distributed). docs/protocol.md section 12.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from bench import ImageItem
from bench_datasets import expected_layouts
from bench_datasets.base import ClassCount, FileBenchmark, LayoutReport
from bench_datasets.layout import image_files, require_root, subfolder_names, wrong_root_error

TITLE = "Geirhos' cue-conflict stimuli"
STIMULI = "stimuli"
CUE_CONFLICT = "style-transfer-preprocessed-512"
DEFAULT_REFERENCES = "edges"
LINE_DRAWINGS = frozenset({"edges", "filled-silhouettes"})
"""Reference folders of black-on-white drawings (read as sketches); any other holds photos."""
CLASSES = (
    "airplane",
    "bear",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "car",
    "cat",
    "chair",
    "clock",
    "dog",
    "elephant",
    "keyboard",
    "knife",
    "oven",
    "truck",
)
"""The 16 entry-level ImageNet categories of the stimuli (the repository's class folders)."""
PUBLISHED_IMAGES, PUBLISHED_WITHOUT_CONFLICT, PUBLISHED_REFERENCES = 1280, 80, 10
STIMULUS_NAME = re.compile(r"(?P<shape>[a-z]+)(?P<n>\d+)-(?P<texture>[a-z]+)(?P<m>\d+)")
SHOWN = 3


def _stimuli_folder(root: Path) -> Path:
    """The ``stimuli/`` folder of ``root`` (the repository), or ``root`` itself when it is one.

    Raises:
        BenchError: the root holds no cue-conflict folder.
    """
    for folder in (root / STIMULI, root):
        if (folder / CUE_CONFLICT).is_dir():
            return folder
    raise wrong_root_error(root, TITLE, f"{STIMULI}/{CUE_CONFLICT}/ folder", expected_layouts.GEIRHOS)


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f", ... ({len(names)} in all)" if len(names) > SHOWN else "")


class _Stimuli:
    """The cue-conflict images found under ``stimuli/style-transfer-preprocessed-512/``."""

    def __init__(self, folder: Path) -> None:
        self.queries: list[ImageItem] = []
        self.without_conflict: Counter[str] = Counter()
        self.unnamed: list[str] = []
        self.misplaced: list[str] = []
        self.foreign: list[str] = []
        self.other_folders = [name for name in subfolder_names(folder) if name not in CLASSES]
        for label in (name for name in CLASSES if (folder / name).is_dir()):
            for path in image_files(folder / label):
                self._add(label, path)

    def _add(self, folder: str, path: Path) -> None:
        name = f"{folder}/{path.name}"
        match = STIMULUS_NAME.fullmatch(path.stem)
        if match is None:
            self.unnamed.append(name)
        elif match["shape"] != folder:
            self.misplaced.append(name)
        elif match["texture"] not in CLASSES:
            self.foreign.append(name)
        elif match["texture"] == folder:
            self.without_conflict[folder] += 1
        else:
            key = f"{CUE_CONFLICT}/{name}"
            self.queries.append(ImageItem(key, "photo", folder, path=path, second_label=match["texture"]))

    def found(self) -> int:
        return len(self.queries) + sum(self.without_conflict.values()) + len(self.foreign)


def _references(folder: Path, name: str) -> list[ImageItem]:
    """The clean references of the 16 class folders of ``folder`` (``stimuli/<name>``), by class."""
    modality = "sketch" if name in LINE_DRAWINGS else "photo"
    return [
        ImageItem(f"{name}/{label}/{path.name}", modality, label, path=path)  # type: ignore[arg-type]
        for label in CLASSES
        if (folder / label).is_dir()
        for path in image_files(folder / label)
    ]


class GeirhosCueConflict(FileBenchmark):
    """Geirhos et al.'s cue-conflict images against clean references (module docstring).
    Option ``references``: a folder of ``stimuli/`` (default ``edges``)."""

    @classmethod
    def inspect_root(cls, root: Path, *, scan_train: bool = True, references: Any = None) -> LayoutReport:
        reference_name = DEFAULT_REFERENCES if references is None else str(references)
        folder = _stimuli_folder(require_root(root, TITLE, expected_layouts.GEIRHOS))
        report = LayoutReport("geirhos-cue-conflict", TITLE, Path(root), expected_layouts.GEIRHOS)
        stimuli = _Stimuli(folder / CUE_CONFLICT)
        reference_folder = folder / reference_name
        if reference_name in ("", ".", "..") or "/" in reference_name or not reference_folder.is_dir():
            offered = [name for name in subfolder_names(folder) if name != CUE_CONFLICT]
            report.problems.append(
                f"references={reference_name} names no folder of {STIMULI}/ (its folders: "
                f"{', '.join(offered) or 'none'}); pass --dataset-option references=edges, "
                "filled-silhouettes or one of them."
            )
            gallery = []
        else:
            gallery = _references(reference_folder, reference_name)
        report.splits = {"query": stimuli.queries, "gallery": gallery, "train": []}
        _check(report, stimuli, gallery, reference_name)
        report.rows = _rows(stimuli, gallery)
        report.facts = {
            "stimuli": f"{STIMULI}/{CUE_CONFLICT}",
            "references": reference_name,
            "references_per_class": dict(Counter(item.label for item in gallery)),
            "cue_conflict_images": stimuli.found(),
            "without_conflict": sum(stimuli.without_conflict.values()),
            "scored": len(stimuli.queries),
        }
        return report


def _check(report: LayoutReport, stimuli: _Stimuli, gallery: list[ImageItem], references: str) -> None:
    """The problems (no stimuli, classes without references) and notes (files not read, counts
    that differ from the release) of a report."""
    if not stimuli.queries:
        report.problems.append(
            f"{STIMULI}/{CUE_CONFLICT}/ holds no cue-conflict image named <shape><n>-<texture><m> in a "
            "folder of one of the 16 classes."
        )
    referenced = {item.label for item in gallery}
    if gallery:
        needed = sorted({c for q in stimuli.queries for c in (q.label, q.second_label)} - referenced)
        if needed:
            report.problems.append(
                f"classes of cue-conflict images without a reference in {STIMULI}/{references}/: "
                f"{_listed(needed)}; every shape and texture class needs references to be decided for."
            )
    not_read = (
        (stimuli.unnamed, "not named <shape><n>-<texture><m>"),
        (stimuli.misplaced, "whose shape class is not their folder's"),
        (stimuli.foreign, "whose texture class is not one of the 16"),
    )
    for names, why in not_read:
        if names:
            report.notes.append(f"cue-conflict files {why}, not read: {len(names)} ({_listed(names)}).")
    if stimuli.other_folders:
        report.notes.append(
            f"folders of {STIMULI}/{CUE_CONFLICT}/ that are not one of the 16 classes, not read: "
            f"{_listed(stimuli.other_folders)}."
        )
    counts = Counter(item.label for item in gallery)
    uneven = [
        f"{label} {counts[label]}" for label in CLASSES if counts[label] not in (0, PUBLISHED_REFERENCES)
    ]
    if references in LINE_DRAWINGS and uneven:
        report.notes.append(
            f"The release has {PUBLISHED_REFERENCES} images per class in {STIMULI}/{references}/; this root "
            f"has {_listed(uneven)}."
        )
    found, without = stimuli.found(), sum(stimuli.without_conflict.values())
    if (found, without) != (PUBLISHED_IMAGES, PUBLISHED_WITHOUT_CONFLICT):
        report.notes.append(
            f"The release has {PUBLISHED_IMAGES:,} cue-conflict images, {PUBLISHED_WITHOUT_CONFLICT} of them "
            f"without a conflict; this root has {found:,} ({without} without)."
        )


def _rows(stimuli: _Stimuli, gallery: list[ImageItem]) -> list[ClassCount]:
    """One row per class: its scored images, those without a conflict, the images in its texture
    and its references (the release: 75 / 5 / 75 / 10 per class on average)."""
    shapes = Counter(item.label for item in stimuli.queries)
    textures = Counter(item.second_label for item in stimuli.queries)
    references = Counter(item.label for item in gallery)
    return [
        ClassCount(
            "test",
            label,
            {
                "cue-conflict": shapes[label],
                "no conflict": stimuli.without_conflict[label],
                "as texture": textures[label],
                "references": references[label],
            },
        )
        for label in CLASSES
        if shapes[label] or references[label] or stimuli.without_conflict[label]
    ]
