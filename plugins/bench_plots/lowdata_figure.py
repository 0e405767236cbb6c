"""The low-data figure (Koley et al.'s Figure 4): per panel, the metric against the training data per
class, one line per configuration with its interval band, and the chance level as a dashed line.

Panels sit side by side (one per dataset and x axis); fractions are shown in percent.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from bench_plots.annotations import (
    BAND_ALPHA,
    NO_INTERVALS,
    chance_line,
    decimals,
    legend,
    metric_label,
    text_note,
    value_limits,
)
from bench_plots.lowdata_data import AXIS_LABELS, FRACTION, LowDataPanel
from bench_plots.style import DPI, new_figure, save_figure, styled, wrap_title
from bench_plots.ticks import PlainFormatter

PANEL_WIDTH = 6.5  # inches per panel
HEIGHT = 5.0
CURVE_COLORS = "tab10"
TITLE = "Low-data regime: prompts trained on part of each class's training data (Koley et al., Figure 4)"


def x_position(panel: LowDataPanel, x: float) -> float:
    """Where ``x`` is drawn: a fraction in percent, a count as it is."""
    return 100 * x if panel.axis == FRACTION else x


def render_lowdata(panels: Sequence[LowDataPanel], output: Path, *, dpi: int = DPI) -> Path:
    """Draw ``panels`` (see :func:`draw_lowdata`) and save to ``output`` (format from its suffix)."""
    with styled():
        return save_figure(draw_lowdata(panels), output, dpi)


def draw_lowdata(panels: Sequence[LowDataPanel]) -> Figure:
    """One panel per entry of ``panels``, side by side, under the figure's title."""
    width = PANEL_WIDTH * len(panels)
    figure = new_figure(width, HEIGHT)
    figure.suptitle(wrap_title(TITLE, width), fontweight="bold")
    for axes, panel in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels, strict=True):
        _draw_panel(axes, panel)
    return figure


def _draw_panel(axes: Axes, panel: LowDataPanel) -> None:
    colors = mpl.colormaps[CURVE_COLORS]
    for index, curve in enumerate(panel.curves):
        xs = sorted(curve.values)
        color = colors(index % 10)
        positions = [x_position(panel, x) for x in xs]
        axes.plot(
            positions,
            [curve.values[x] for x in xs],
            marker="o",
            markersize=5,
            linewidth=1.8,
            color=color,
            label=curve.label,
            zorder=3,
        )
        banded = [x for x in xs if x in curve.bounds]
        if banded:
            axes.fill_between(
                [x_position(panel, x) for x in banded],
                [curve.bounds[x][0] for x in banded],
                [curve.bounds[x][1] for x in banded],
                color=color,
                alpha=BAND_ALPHA,
                linewidth=0,
                zorder=2,
            )
    handles, _ = axes.get_legend_handles_labels()
    handles += chance_line(axes, panel)
    handles.append(
        Patch(color="0.5", alpha=2 * BAND_ALPHA, linewidth=0, label=f"shaded: {panel.interval}")
        if panel.interval
        else text_note(NO_INTERVALS)
    )
    numbers = [v for curve in panel.curves for v in curve.values.values()]
    numbers += [b for curve in panel.curves for pair in curve.bounds.values() for b in pair]
    axes.set_ylim(*value_limits(panel, numbers))
    axes.yaxis.set_major_formatter(PlainFormatter(decimals(panel)))
    ticks = [x_position(panel, x) for x in panel.xs]
    axes.set_xticks(ticks, labels=[f"{tick:g}" for tick in ticks])
    if panel.axis == FRACTION:
        axes.set_xlim(0, 105)
    axes.set_xlabel(AXIS_LABELS[panel.axis])
    axes.set_ylabel(metric_label(panel))
    benchmark = panel.task + (f"; {panel.options}" if panel.options else "")
    axes.set_title(wrap_title(f"{panel.metric} on {panel.dataset} ({benchmark})", PANEL_WIDTH))
    axes.grid(alpha=0.3)
    legend(axes, handles, loc="upper center", bbox_to_anchor=(0.5, -0.14))
