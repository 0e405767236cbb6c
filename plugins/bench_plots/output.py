"""Where a figure goes: the output path decides the format (checked before anything is computed)."""

from __future__ import annotations

from pathlib import Path

from bench import BenchError, output_problem

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
    problem = output_problem(path)
    if problem:
        raise cannot_write(path, problem)
    return path


def cannot_write(path: Path, reason: str) -> BenchError:
    """The error for a figure that cannot be written to ``path`` (``reason``: why, in words)."""
    return BenchError(
        f"Cannot write the figure to {str(path)!r}: {reason}.",
        "Pass --output a file in a folder you can write to (with free space).",
    )
