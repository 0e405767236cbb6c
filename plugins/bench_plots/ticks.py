"""Tick labels that a printed figure can carry: plain decimals, and never two labels overlapping.

:class:`PlainFormatter` writes every tick as a plain decimal (no ``1e-9+3.8e-1`` offset or
scientific notation), with the fewest decimals that write every tick exactly.
:func:`label_subset` picks which of many positions get a label so that labels keep a minimum
distance; :func:`set_readable_ticks` applies it to an axis (unlabelled positions keep a minor tick).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.axis import Axis
from matplotlib.ticker import FixedLocator, Formatter, NullFormatter

CHAR_WIDTH = 0.6  # width of a digit in ems (DejaVu Sans digits are 0.64 em; labels are short)
LABEL_GAP = 0.15  # inches of free space between two tick labels
MAX_DECIMALS = 6


class PlainFormatter(Formatter):
    """Plain decimal tick labels: at least ``decimals`` digits after the point, more when a tick
    needs them to be written exactly (up to 6). Never an offset, never scientific notation."""

    def __init__(self, decimals: int = 0) -> None:
        self.decimals = decimals
        self._digits = decimals

    def set_locs(self, locs: Sequence[float]) -> None:
        super().set_locs(locs)
        visible = sorted({float(x) for x in locs})
        step = min((b - a for a, b in zip(visible, visible[1:], strict=False)), default=1.0)
        self._digits = self.decimals
        while self._digits < MAX_DECIMALS and not all(
            abs(round(x, self._digits) - x) <= 1e-6 * step for x in visible
        ):  # a label shows its tick's value, not a rounding of it (0.225 is not "0.23")
            self._digits += 1

    def __call__(self, x: float, pos: int | None = None) -> str:
        text = f"{x:.{self._digits}f}"
        return "0" + text[2:] if text.startswith("-0") and float(text) == 0 else text  # no "-0.000"

    def get_offset(self) -> str:
        return ""


def label_width(text: str, fontsize: float) -> float:
    """Estimated width in inches of ``text`` at ``fontsize`` points."""
    return len(text) * CHAR_WIDTH * fontsize / 72


def label_subset(
    positions: Sequence[float], labels: Sequence[str], *, span: float, width: float, fontsize: float
) -> list[int]:
    """Indices of the ``positions`` to label so that no two labels overlap.

    Args:
        positions: ascending tick positions in data units.
        labels: their texts.
        span: the data range the axis shows (data units across ``width``).
        width: the axis length in inches.
        fontsize: the tick labels' size in points.

    The first and the last positions are always labelled; the others from left to right whenever
    they keep ``LABEL_GAP`` inches clear of the previous label and of the last one.
    """
    if not positions:
        return []
    inches = width / span if span > 0 else math.inf

    def clear(i: int, j: int) -> bool:  # labels i < j do not touch
        needed = (label_width(labels[i], fontsize) + label_width(labels[j], fontsize)) / 2 + LABEL_GAP
        return (positions[j] - positions[i]) * inches >= needed

    last = len(positions) - 1
    chosen = [0]
    for index in range(1, last):
        if clear(chosen[-1], index) and clear(index, last):
            chosen.append(index)
    if last > 0:
        if not clear(chosen[-1], last) and len(chosen) > 1:
            chosen.pop()
        if clear(chosen[-1], last):
            chosen.append(last)
    return chosen


def set_readable_ticks(
    axis: Axis, positions: Sequence[float], labels: Sequence[str], *, span: float, width: float
) -> list[int]:
    """Major ticks with labels at the :func:`label_subset` of ``positions``, minor unlabelled ticks
    at the rest; returns the labelled indices."""
    fontsize = axis.get_ticklabels()[0].get_fontsize() if axis.get_ticklabels() else 9.0
    chosen = label_subset(positions, labels, span=span, width=width, fontsize=float(fontsize))
    axis.set_ticks([positions[i] for i in chosen], labels=[labels[i] for i in chosen])
    rest = [p for i, p in enumerate(positions) if i not in chosen]
    axis.set_minor_locator(FixedLocator(rest))
    axis.set_minor_formatter(NullFormatter())
    return chosen
