"""Reading release folders: image files, class folders, SAKE's ``_ready`` copies, and wrong roots.

Shared by every adapter, so all of them accept the same files and word their complaints alike.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from bench import BenchError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
"""File suffixes read as images (any case): releases mix ``.jpg``, ``.jpeg``, ``.JPEG`` and ``.png``."""

READY_SUFFIX = "_ready"
"""SAKE's preprocessed copies append this to the release folder names (``png_ready/``, ...)."""

ROOT_SIGNATURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Sketchy (--dataset sketchy, sketchy-ext or sketchy-fg)", ("256x256/sketch",)),
    ("TU-Berlin-ext (--dataset tuberlin-ext)", ("png", "ImageResized")),
    ("QuickDraw-ext (--dataset quickdraw-ext)", ("sketches", "images")),
    ("QMUL ShoeV2, release (a) (--dataset shoev2)", ("ShoeV2_photo",)),
    ("QMUL ChairV2, release (a) (--dataset chairv2)", ("ChairV2_photo",)),
    ("QMUL ShoeV2 or ChairV2, release (b) (--dataset shoev2 or chairv2)", ("testA", "testB")),
    ("FS-COCO (--dataset fscoco)", ("raster_sketches", "images")),
    (
        "Geirhos' texture-vs-shape stimuli (--dataset geirhos-cue-conflict)",
        ("stimuli/style-transfer-preprocessed-512",),
    ),
)
"""What each known release looks like: a description and folders its root holds."""


def find_dir(root: Path, relative: str) -> Path | None:
    """``root/relative`` or SAKE's copy ``root/relative_ready``, whichever is a directory (else None)."""
    for candidate in (root / relative, root / f"{relative}{READY_SUFFIX}"):
        if candidate.is_dir():
            return candidate
    return None


def canonical_path(path: str) -> str:
    """A release-relative path with SAKE's ``_ready`` dropped from its folder names (file name kept)."""
    *folders, name = path.split("/")
    return "/".join([*(folder.removesuffix(READY_SUFFIX) for folder in folders), name])


def entries(folder: Path) -> list[Path]:
    """What ``folder`` holds.

    Raises:
        BenchError: the folder cannot be listed (no permission, not a folder, an I/O error): an
            unreadable image is skipped and counted, but a folder nothing can be seen in is not.
    """
    try:
        return list(folder.iterdir())
    except OSError as exc:
        raise BenchError(
            f"Cannot list the dataset folder {str(folder)!r}: {exc.strerror or exc}.",
            "Let this user read it (e.g. chmod -R a+rX on the release), or point --data-root at a "
            "copy it can read.",
        ) from exc


def image_files(folder: Path) -> list[Path]:
    """The image files directly inside ``folder`` (hidden files skipped), sorted by name."""
    return sorted(
        (p for p in entries(folder) if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")),
        key=lambda p: p.name,
    )


def subfolder_names(folder: Path) -> list[str]:
    """The names of the (non-hidden) directories inside ``folder``, sorted."""
    return sorted(p.name for p in entries(folder) if p.is_dir() and not p.name.startswith("."))


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most similar to ``name`` (difflib ratio >= 0.6), or None."""
    matches = difflib.get_close_matches(name, list(candidates), n=1)
    return matches[0] if matches else None


def layout_hint(expected_layout: str) -> str:
    return f"Expected layout:\n{expected_layout}"


def require_root(root: Path | str | None, title: str, expected_layout: str) -> Path:
    """``root`` as a Path, checked to be an existing, non-empty directory.

    Raises:
        BenchError: naming the path and showing ``expected_layout``.
    """
    if root is None:
        raise BenchError(
            f"{title} is read from files and no root was given.",
            f"Pass --data-root DIR.\n{layout_hint(expected_layout)}",
        )
    path = Path(root).expanduser()
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a directory"
        raise BenchError(
            f"The {title} root {str(path)!r} {what}.",
            f"Point --data-root at the extracted release.\n{layout_hint(expected_layout)}",
        )
    if not entries(path):
        raise BenchError(
            f"The {title} root {str(path)!r} is empty.",
            f"Extract the release there.\n{layout_hint(expected_layout)}",
        )
    return path


def identify_root(root: Path) -> list[str]:
    """Descriptions of the known releases whose folders ``root`` holds (see ROOT_SIGNATURES)."""
    return [
        description
        for description, markers in ROOT_SIGNATURES
        if all(find_dir(root, marker) is not None for marker in markers)
    ]


def wrong_root_error(root: Path, title: str, missing: str, expected_layout: str) -> BenchError:
    """The error for a root that lacks the folders ``title`` needs (``missing``, in words).

    The hint says what the root holds, which known release it looks like, and the expected layout.
    """
    found = sorted(p.name + ("/" if p.is_dir() else "") for p in entries(root))
    shown = ", ".join(found[:12]) + (f", ... ({len(found)} entries)" if len(found) > 12 else "")
    lines = [f"It holds: {shown}."]
    guesses = identify_root(root)
    if guesses:
        lines.append(f"It looks like {' / '.join(guesses)}.")
    lines.append(layout_hint(expected_layout))
    return BenchError(
        f"{str(root)!r} does not hold {title}: it has no {missing}.",
        "\n".join(lines),
    )
