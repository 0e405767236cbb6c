"""The look shared by every figure (fonts, SVG text) and saving a figure reproducibly.

Draw and save inside :func:`styled`: matplotlib reads these settings when artists are created.
"""

from __future__ import annotations

import contextlib
import io
import textwrap
from collections.abc import Iterator
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from bench_plots.output import cannot_write

DPI = 200  # raster resolution of PNG output (vector formats ignore it)
REFERENCE_COLOR = "0.3"
BEST_COLOR = "#d62728"
TIMESTEP_LABEL = "diffusion timestep t (DDPM steps, 0–999)"
TITLE_CHARS_PER_INCH = 9.5  # characters of a 12 pt title that fit in one inch

CREATOR = "sbir-bench"
METADATA: dict[str, dict[str, str | None]] = {
    ".png": {"Software": CREATOR},
    ".svg": {"Date": None, "Creator": CREATOR},
    ".pdf": {"CreationDate": None, "Creator": CREATOR, "Producer": CREATOR},
}
"""Each format's metadata: no date, the toolkit (not the matplotlib version) as its creator."""

RC_PARAMS = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "figure.titlesize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",  # text stays text in SVG: editable and searchable
    "svg.hashsalt": "sbir-bench",  # stable element ids: the same figure gives the same file
    "text.parse_math": False,  # names from results files are literal text: "$x$" is not mathtext
}


@contextlib.contextmanager
def styled() -> Iterator[None]:
    """Apply the shared style while a figure is drawn and saved."""
    with mpl.rc_context(RC_PARAMS):
        yield


def wrap_title(text: str, width: float) -> str:
    """``text`` with each line wrapped to fit a figure ``width`` inches wide."""
    chars = max(20, int(width * TITLE_CHARS_PER_INCH))
    return "\n".join(textwrap.fill(line, chars) for line in text.splitlines())


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches with constrained layout (the saved size is exact)."""
    return Figure(figsize=(width, height), layout="constrained")


def save_figure(figure: Figure, path: Path, dpi: int = DPI) -> Path:
    """Write ``figure`` to ``path`` in the format its suffix names (parents created), without dates
    and with the same creator fields everywhere: the same figure gives the same bytes."""
    path = Path(path)
    metadata = METADATA[path.suffix.lower()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=dpi, metadata=metadata)
    except OSError as exc:
        raise cannot_write(path, exc.strerror or str(exc)) from exc
    return path


def svg_text(figure: Figure) -> str:
    """``figure`` as the text of an SVG file, without dates (the same figure gives the same text)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()
