"""What every metric plot marks the same way: the chance line, interval bands, the metric's axis
label and range, and legends that wrap.

A *panel* here is anything with ``metric``, its registered unit and direction, ``chance`` and
``chance_method`` (:class:`MetricPanel`): a sweep panel or a low-data panel.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from typing import Protocol

from matplotlib.axes import Axes
from matplotlib.lines import Line2D

CHANCE_COLOR = "0.15"
CHANCE_STYLE = (0, (6, 3))  # dashed
BAND_ALPHA = 0.18
NO_CHANCE = "no chance level in these results files"
NO_INTERVALS = "no confidence intervals in these results files"
LEGEND_CHARS = 40  # legend entries wrap here, so the plots keep their width


class MetricPanel(Protocol):
    """What the helpers here read of a panel."""

    metric: str
    chance: float | None
    chance_method: str | None
    higher_is_better: bool

    @property
    def unit(self) -> str: ...

    @property
    def fractional(self) -> bool: ...

    def format(self, value: float) -> str: ...


def metric_label(panel: MetricPanel) -> str:
    """``mAP@all (fraction)``, ``Acc@1 (%)``, ``MedR (rank, lower is better)``."""
    direction = "" if panel.higher_is_better else ", lower is better"
    return f"{panel.metric} ({panel.unit}{direction})"


def decimals(panel: MetricPanel) -> int:
    """Fewest decimals of the metric's axis labels: two decimals of a fraction, whole percent or rank."""
    return 2 if panel.fractional else 0


def chance_label(panel: MetricPanel) -> str:
    method = f" ({panel.chance_method})" if panel.chance_method else ""
    return f"chance{method}: {panel.format(panel.chance)}"


def text_note(label: str) -> Line2D:
    """A legend entry that is text only (e.g. what the results files lack)."""
    return Line2D([], [], linestyle="none", label=label)


def legend(axes: Axes, handles: Sequence, **where) -> None:
    """A frameless legend of ``handles`` with long entries wrapped (the plot keeps its width)."""
    labels = [textwrap.fill(handle.get_label(), LEGEND_CHARS) for handle in handles]
    axes.legend(handles=handles, labels=labels, frameon=False, **where)


def chance_line(axes: Axes, panel: MetricPanel, *, vertical: bool = False) -> list[Line2D]:
    """The dashed chance line labelled "chance" (legend handles: the line, or a note without it)."""
    if panel.chance is None:
        return [text_note(NO_CHANCE)]
    draw = axes.axvline if vertical else axes.axhline
    line = draw(
        panel.chance,
        color=CHANCE_COLOR,
        linestyle=CHANCE_STYLE,
        linewidth=1.4,
        zorder=1,
        label=chance_label(panel),
    )
    if vertical:
        axes.annotate(
            "chance",
            (panel.chance, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -3),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=8,
            color=CHANCE_COLOR,
        )
    else:
        axes.annotate(
            "chance",
            (0.01, panel.chance),
            xycoords=("axes fraction", "data"),
            ha="left",
            va="bottom",
            fontsize=8,
            color=CHANCE_COLOR,
        )
    return [line]


def value_limits(panel: MetricPanel, numbers: Iterable[float]) -> tuple[float, float]:
    """The metric's axis range: ``numbers`` (values and interval bounds) and the chance level, with
    a margin."""
    numbers = list(numbers)
    if panel.chance is not None:
        numbers.append(panel.chance)
    low, high = min(numbers), max(numbers)
    margin = max(0.08 * (high - low), 0.005 if panel.fractional else 0.5)
    return low - margin, high + margin
