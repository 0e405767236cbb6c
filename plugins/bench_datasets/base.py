"""What the file-reading adapters share: the report of a root, and a Dataset served from it.

An adapter inspects a root once (:meth:`FileBenchmark.inspect_root`): the result lists every
class with its image counts, the split items, the facts recorded in results files, and the
problems that make the root unusable. A run refuses a root with problems; ``bench datasets
check`` prints the whole report.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import BenchError, Dataset, ImageItem, load_rgb
from bench_datasets.layout import layout_hint

if TYPE_CHECKING:
    from PIL import Image

SPLIT_NAMES = ("query", "gallery", "train")
SHOWN_PROBLEMS = 10


@dataclass
class ClassCount:
    """One row of a report: a class (or, for instance-level data, a whole split) and its images.

    Attributes:
        role: ``"unseen"`` / ``"seen"`` (zero-shot classes) or ``"test"`` / ``"train"``.
        name: the class (label) or split name.
        counts: column -> number found, e.g. ``{"sketches": 635, "photos": 443}``.
        published: the same columns in the published test list ({} when there is none).
        folders: where the images were found, when that is not simply the class name.
    """

    role: str
    name: str
    counts: dict[str, int]
    published: dict[str, int] = field(default_factory=dict)
    folders: str = ""


@dataclass
class LayoutReport:
    """What an adapter found under a root.

    Attributes:
        dataset: the dataset id; title: its name in words; root: the directory read (None: generated).
        expected_layout: the layout the adapter reads, shown with problems.
        facts: recorded in results files (:meth:`bench.Dataset.describe`).
        rows: per-class (or per-split) counts.
        splits: ``query``, ``gallery`` and, when scanned, ``train`` items.
        problems: what makes the root unusable (a run stops on the first report with any).
        notes: what is worth knowing but harmless (differences from the published list, extra folders).
    """

    dataset: str
    title: str
    root: Path | None
    expected_layout: str
    facts: dict[str, Any] = field(default_factory=dict)
    rows: list[ClassCount] = field(default_factory=list)
    splits: dict[str, list[ImageItem]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def error(self) -> BenchError:
        """One BenchError for all problems: the first in the message, the rest and the layout in the hint."""
        first, rest = self.problems[0], self.problems[1:]
        more = f" (and {len(rest)} more problem{'s' if len(rest) > 1 else ''})" if rest else ""
        lines = [f"- {problem}" for problem in rest[:SHOWN_PROBLEMS]]
        if len(rest) > SHOWN_PROBLEMS:
            lines.append(f"- ... {len(rest) - SHOWN_PROBLEMS} more")
        lines.append(
            f"Run `bench datasets check {self.dataset} --data-root {self.root}` for the full report."
        )
        lines.append(layout_hint(self.expected_layout))
        return BenchError(f"{self.title} at {str(self.root)!r}: {first}{more}", "\n".join(lines))


class FileBenchmark(Dataset):
    """A benchmark read from a release on disk; splits come from :meth:`inspect_root`.

    Args:
        root: the release root (``--data-root``).
        options: the adapter's options (``--dataset-option KEY=VALUE``), passed to :meth:`inspect_root`.

    Raises:
        BenchError: when the root cannot be used (the message names the path and what was expected).
    """

    def __init__(self, root: Path, **options: Any) -> None:
        self.root = Path(root)
        self.options = options
        self._report = self._usable_report(scan_train=False)

    @classmethod
    @abc.abstractmethod
    def inspect_root(cls, root: Path, *, scan_train: bool = True, **options: Any) -> LayoutReport:
        """Everything found under ``root``; raises BenchError only when the root is not this release at all.

        ``scan_train=False`` checks that the training classes' folders exist without listing their files.
        """

    def _usable_report(self, scan_train: bool) -> LayoutReport:
        report = self.inspect_root(self.root, scan_train=scan_train, **self.options)
        if report.problems:
            raise report.error()
        return report

    def split(self, name: str) -> list[ImageItem]:
        if name not in SPLIT_NAMES:
            raise BenchError(
                f"Dataset {self._report.dataset!r} has no split {name!r}.",
                f"Valid splits: {', '.join(SPLIT_NAMES)}.",
            )
        if name not in self._report.splits:  # the training split is listed on first use
            self._report = self._usable_report(scan_train=True)
        return self._report.splits[name]

    def load_image(self, item: ImageItem) -> Image.Image:
        return load_rgb(item.path)

    def describe(self) -> dict[str, Any]:
        return dict(self._report.facts)
