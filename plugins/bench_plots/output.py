"""Where a figure goes: the output path decides the format (checked before anything is computed)."""

from __future__ import annotations

from pathlib import Path

from bench import BenchError

FORMATS = (".png", ".svg", ".pdf")


def checked_output(path: Path) -> Path:
    """``path`` when its suffix names a supported format; BenchError listing the formats otherwise."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        given = f"{path.suffix!r}" if path.suffix else "no suffix"
        raise BenchError(
            f"Cannot tell the figure format of {str(path)!r} ({given}).",
            f"End --output with one of {', '.join(FORMATS)} (e.g. figures/sweep.png).",
        )
    if path.exists() and path.is_dir():
        raise BenchError(
            f"--output {str(path)!r} is a directory.", "Give a file name, e.g. figures/sweep.png."
        )
    return path
