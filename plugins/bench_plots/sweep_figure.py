"""The sweep figure: per panel, a layer x timestep heatmap and the metric against timestep per layer.

Every panel that shows a metric shows its chance level (a dashed horizontal line labelled
"chance") and, on the t-curves, the confidence interval of each point as a shaded band; results
files without them say so in the legend. A panel of one layer is drawn as its curve alone, a
panel of one timestep as bars (one per layer): a heatmap needs two of each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from bench import BenchError
from bench_plots.annotations import (
    BAND_ALPHA,
    CHANCE_COLOR,
    CHANCE_STYLE,
    NO_CHANCE,
    NO_INTERVALS,
    chance_label,
    chance_line,
    decimals,
    legend,
    metric_label,
    text_note,
    value_limits,
)
from bench_plots.labels import setting_name
from bench_plots.style import (
    BEST_COLOR,
    DPI,
    REFERENCE_COLOR,
    TIMESTEP_LABEL,
    new_figure,
    save_figure,
    styled,
    wrap_title,
)
from bench_plots.sweep_data import REFERENCE_T, SweepPanel
from bench_plots.ticks import PlainFormatter, label_width, set_readable_ticks

WIDTH = 13.0  # inches, whatever the number of panels
LAYER_COLORS = "tab10"
HEATMAP = "viridis"
CELL_FONT_SIZES = (9.0, 5.0)  # a heatmap's values: largest, and smallest before they may touch


@dataclass(frozen=True)
class _TickRequest:
    """Tick labels to thin out once the layout has fixed the axis length, and a heatmap's cell
    texts to fit into its columns."""

    axes: Axes
    positions: tuple[float, ...]
    labels: tuple[str, ...]
    cell_texts: tuple[Text, ...] = ()


def panel_kind(panel: SweepPanel) -> str:
    """``grid`` (heatmap and curves), ``curve`` (one layer), ``bars`` (one timestep) or ``single``."""
    layers, timesteps = len(panel.layers), len(panel.timesteps)
    if layers > 1 and timesteps > 1:
        return "grid"
    if timesteps > 1:
        return "curve"
    return "bars" if layers > 1 else "single"


def panel_height(panel: SweepPanel) -> float:
    """Height in inches of one panel: room for its title, legends and one row per layer."""
    if panel_kind(panel) == "bars":
        return max(3.4, 2.0 + 0.4 * len(panel.layers))
    return max(4.2, 2.6 + 0.42 * len(panel.layers))


def figure_size(panels: Sequence[SweepPanel]) -> tuple[float, float]:
    """(width, height) in inches of the figure of ``panels`` (stacked vertically)."""
    return WIDTH, sum(panel_height(panel) for panel in panels)


def render_sweep(
    panels: Sequence[SweepPanel], output: Path, *, reference_t: int = REFERENCE_T, dpi: int = DPI
) -> Path:
    """Draw ``panels`` (one row each, see :func:`draw_sweep`) and save to ``output`` (format from
    its suffix)."""
    with styled():
        return save_figure(draw_sweep(panels, reference_t=reference_t), output, dpi)


def draw_sweep(panels: Sequence[SweepPanel], *, reference_t: int = REFERENCE_T) -> Figure:
    """The figure of ``panels``, one row each.

    A ``grid`` row: left, a heatmap of the metric (rows: layers, columns: timesteps) with every
    value printed, the best cell outlined and the ``reference_t`` column dashed when swept; right,
    the metric against timestep, one line per layer with its interval band, the chance line, the
    best point starred and ``reference_t`` as a vertical reference line. A ``curve`` row is the
    right half alone; a ``bars`` row compares the layers at their one timestep.

    Raises:
        BenchError: a panel of one layer at one timestep (one number is no figure).
    """
    single = [p for p in panels if panel_kind(p) == "single"]
    if single:
        raise BenchError(
            f"{single[0].backbone} on {single[0].dataset} has one layer at one timestep: one number "
            "is not a figure.",
            "Leave such panels out (`bench plot sweep` does), or sweep more --layer or --t values.",
        )
    figure = new_figure(*figure_size(panels))
    rows = figure.subfigures(len(panels), 1, squeeze=False, height_ratios=[panel_height(p) for p in panels])
    requests: list[_TickRequest] = []
    for row, panel in zip(rows[:, 0], panels, strict=True):
        requests += _draw_panel(row, panel, reference_t)
    _thin_tick_labels(figure, requests)
    return figure


def _draw_panel(row: SubFigure, panel: SweepPanel, reference_t: int) -> list[_TickRequest]:
    row.suptitle(wrap_title(_title(panel), WIDTH), fontweight="bold")
    kind = panel_kind(panel)
    if kind == "bars":
        _bars(row.subplots(1, 1), panel)
        return []
    if kind == "curve":
        return [_curves(row.subplots(1, 1), panel, reference_t)]
    heatmap_axes, curve_axes = row.subplots(1, 2, width_ratios=[1.0, 1.1])
    image, request = _heatmap(heatmap_axes, panel, reference_t)
    colorbar = row.colorbar(image, ax=heatmap_axes, fraction=0.06, pad=0.02)
    colorbar.set_label(metric_label(panel))
    colorbar.locator = MaxNLocator(nbins=5)
    colorbar.formatter = PlainFormatter(decimals(panel))
    colorbar.update_ticks()
    if panel.chance is not None and image.norm.vmin <= panel.chance <= image.norm.vmax:
        colorbar.ax.axhline(panel.chance, color=CHANCE_COLOR, linestyle=CHANCE_STYLE, linewidth=1.5)
    return [request, _curves(curve_axes, panel, reference_t)]


def _title(panel: SweepPanel) -> str:
    """``mAP@all of sd-tiny on synthetic (zs-sbir; num_unseen=4)``, what tells it apart, the note."""
    benchmark = panel.task + (f"; {panel.options}" if panel.options else "")
    title = f"{panel.metric} of {panel.backbone} on {panel.dataset} ({benchmark})"
    kind = panel_kind(panel)
    title += f" by layer at t = {panel.timesteps[0]}" if kind == "bars" else " by layer and timestep"
    if panel.variant:
        title += " — " + "; ".join(f"{setting_name(name)}: {value}" for name, value in panel.variant)
    if panel.note:
        title += f"\n{panel.backbone}: {panel.note}"
    return title


def _grid(panel: SweepPanel) -> np.ndarray:
    """(layers, timesteps) float array of the panel's values, NaN where a cell was not run."""
    grid = np.full((len(panel.layers), len(panel.timesteps)), np.nan)
    for i, layer in enumerate(panel.layers):
        for j, t in enumerate(panel.timesteps):
            grid[i, j] = panel.values.get((layer, t), np.nan)
    return grid


def _colour_range(panel: SweepPanel, grid: np.ndarray) -> tuple[float, float]:
    """The colour scale: the values' range, widened to at least 20 units of the printed precision
    (differences the printed values do not show get no contrast either)."""
    low, high = float(np.nanmin(grid)), float(np.nanmax(grid))
    least = 0.02 if panel.fractional else 2.0
    if high - low < least:
        middle = (low + high) / 2
        low, high = middle - least / 2, middle + least / 2
    return low, high


def _heatmap(axes: Axes, panel: SweepPanel, reference_t: int) -> tuple[mpl.cm.ScalarMappable, _TickRequest]:
    grid = _grid(panel)
    norm = mpl.colors.Normalize(*_colour_range(panel, grid))
    cmap = mpl.colormaps[HEATMAP].with_extremes(bad="0.9")
    image = axes.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, aspect="auto")
    axes.set_yticks(range(len(panel.layers)), labels=list(panel.layers))
    axes.tick_params(length=0)
    axes.spines[:].set_visible(False)
    axes.set_xlabel(TIMESTEP_LABEL)
    axes.set_ylabel("feature layer")
    axes.set_title(f"{panel.metric}: layer × timestep")
    texts = []
    for i, layer in enumerate(panel.layers):
        for j, t in enumerate(panel.timesteps):
            value = panel.values.get((layer, t))
            text = "not run" if value is None else panel.format(value)
            color = "0.4" if value is None else _ink(cmap(norm(value)))
            texts.append(axes.text(j, i, text, ha="center", va="center", color=color, fontsize=9))
    handles = [_outline_best(axes, panel)]
    if reference_t in panel.timesteps:
        handles.append(_outline_reference(axes, panel, reference_t))
    if panel.chance is None:
        handles.append(text_note(NO_CHANCE))
    else:
        handles.append(Line2D([], [], color=CHANCE_COLOR, linestyle=CHANCE_STYLE, label=chance_label(panel)))
    legend(axes, handles, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    positions = tuple(float(j) for j in range(len(panel.timesteps)))
    return image, _TickRequest(axes, positions, tuple(str(t) for t in panel.timesteps), tuple(texts))


def _ink(rgba: tuple[float, float, float, float]) -> str:
    """Black or white, whichever reads better on the background colour ``rgba``."""
    red, green, blue = rgba[:3]
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"


def _outline_best(axes: Axes, panel: SweepPanel) -> Rectangle:
    layer, t, value = panel.best
    i, j = panel.layers.index(layer), panel.timesteps.index(t)
    return axes.add_patch(
        Rectangle(
            (j - 0.5, i - 0.5),
            1,
            1,
            fill=False,
            edgecolor=BEST_COLOR,
            linewidth=3,
            label=f"best: {layer} at t = {t} ({panel.format(value)})",
        )
    )


def _outline_reference(axes: Axes, panel: SweepPanel, reference_t: int) -> Rectangle:
    j = panel.timesteps.index(reference_t)
    return axes.add_patch(
        Rectangle(
            (j - 0.5, -0.5),
            1,
            len(panel.layers),
            fill=False,
            edgecolor=REFERENCE_COLOR,
            linestyle="--",
            linewidth=1.5,
            label=f"t = {reference_t}: Koley et al.'s operating point",
        )
    )


def _numbers(panel: SweepPanel) -> list[float]:
    """Every value and interval bound of the panel."""
    return [*panel.values.values(), *(bound for pair in panel.bounds.values() for bound in pair)]


def _curves(axes: Axes, panel: SweepPanel, reference_t: int) -> _TickRequest:
    colors = mpl.colormaps[LAYER_COLORS]
    for index, layer in enumerate(panel.layers):
        ts = [t for t in panel.timesteps if (layer, t) in panel.values]
        color = colors(index % 10)
        axes.plot(
            ts,
            [panel.values[(layer, t)] for t in ts],
            marker="o",
            markersize=5,
            linewidth=1.8,
            color=color,
            label=layer,
            zorder=3,
        )
        band = [panel.bounds.get((layer, t), (np.nan, np.nan)) for t in ts]
        if any(not np.isnan(low) for low, _ in band):
            lows, highs = zip(*band, strict=True)
            axes.fill_between(ts, lows, highs, color=color, alpha=BAND_ALPHA, linewidth=0, zorder=2)
    layer, t, value = panel.best
    axes.plot(
        [t],
        [value],
        linestyle="none",
        marker="*",
        markersize=17,
        markerfacecolor="none",
        markeredgecolor=BEST_COLOR,
        markeredgewidth=1.6,
        zorder=5,
        label=f"best ({layer}, t = {t})",
    )
    handles, _ = axes.get_legend_handles_labels()
    handles += chance_line(axes, panel)
    handles.append(
        Patch(color="0.5", alpha=2 * BAND_ALPHA, linewidth=0, label=f"shaded: {panel.interval}")
        if panel.interval
        else text_note(NO_INTERVALS)
    )
    axes.axvline(reference_t, linestyle="--", linewidth=1.3, color=REFERENCE_COLOR, zorder=0)
    reference = f"t = {reference_t} (Koley et al.)"
    handles.append(Line2D([], [], linestyle="--", color=REFERENCE_COLOR, label=reference))
    low, high = min(*panel.timesteps, reference_t), max(*panel.timesteps, reference_t)
    margin = max(0.05 * (high - low), 15)
    axes.set_xlim(low - margin, high + margin)
    axes.set_ylim(*value_limits(panel, _numbers(panel)))
    axes.yaxis.set_major_formatter(PlainFormatter(decimals(panel)))
    axes.set_xlabel(TIMESTEP_LABEL)
    axes.set_ylabel(metric_label(panel))
    axes.set_title(f"{panel.metric} against timestep, one line per layer")
    axes.grid(alpha=0.3)
    legend(axes, handles, title="layer", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    positions = tuple(float(t) for t in panel.timesteps)
    return _TickRequest(axes, positions, tuple(str(t) for t in panel.timesteps))


def _bars(axes: Axes, panel: SweepPanel) -> None:
    """One horizontal bar per layer at the panel's one timestep, interval whiskers and chance."""
    (t,) = panel.timesteps
    layers = [layer for layer in panel.layers if (layer, t) in panel.values]
    values = [panel.values[(layer, t)] for layer in layers]
    best = panel.best[0]
    colors = ["#4c72b0" if layer != best else BEST_COLOR for layer in layers]
    y = np.arange(len(layers))
    axes.barh(y, values, color=colors, height=0.6, zorder=2)
    with_bounds = [i for i, layer in enumerate(layers) if (layer, t) in panel.bounds]
    if with_bounds:
        lows = [values[i] - panel.bounds[(layers[i], t)][0] for i in with_bounds]
        highs = [panel.bounds[(layers[i], t)][1] - values[i] for i in with_bounds]
        axes.errorbar(
            [values[i] for i in with_bounds],
            y[with_bounds],
            xerr=[lows, highs],
            fmt="none",
            ecolor="black",
            capsize=4,
            linewidth=1.2,
            zorder=3,
        )
    for i, value in enumerate(values):
        axes.annotate(
            panel.format(value),
            (value, i),
            xytext=(4, 6),
            textcoords="offset points",
            fontsize=9,
            va="bottom",
        )
    handles = [Patch(color=BEST_COLOR, label=f"best: {best} ({panel.format(panel.best[2])})")]
    handles += chance_line(axes, panel, vertical=True)
    handles.append(
        Line2D([], [], color="black", marker="|", linestyle="-", label=f"whiskers: {panel.interval}")
        if panel.interval
        else text_note(NO_INTERVALS)
    )
    low, high = value_limits(panel, _numbers(panel))
    axes.set_xlim(min(0.0, low), high + 0.1 * (high - min(0.0, low)))
    axes.xaxis.set_major_formatter(PlainFormatter(decimals(panel)))
    axes.set_yticks(y, labels=layers)
    axes.set_ylim(len(layers) - 0.5, -1.1)  # the first layer on top; room above it for "chance"
    axes.set_xlabel(metric_label(panel))
    axes.set_ylabel("feature layer")
    axes.set_title(f"{panel.metric} per layer at t = {t} (one timestep: no heatmap, no curve)")
    axes.grid(axis="x", alpha=0.3)
    legend(axes, handles, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _thin_tick_labels(figure: Figure, requests: Sequence[_TickRequest]) -> None:
    """Label only as many timesteps as fit: after a layout pass, each axis's length is known."""
    if not requests:
        return
    figure.draw_without_rendering()
    for request in requests:
        box = request.axes.get_window_extent()
        low, high = request.axes.get_xlim()
        if request.cell_texts:  # a heatmap: its values shrink to fit their columns
            column = box.width / figure.dpi / len(request.positions)
            widest = max(request.cell_texts, key=lambda text: len(text.get_text()))
            size = CELL_FONT_SIZES[0] * 0.9 * column / label_width(widest.get_text(), CELL_FONT_SIZES[0])
            for text in request.cell_texts:
                text.set_fontsize(max(CELL_FONT_SIZES[1], min(CELL_FONT_SIZES[0], size)))
        set_readable_ticks(
            request.axes.xaxis,
            request.positions,
            request.labels,
            span=abs(high - low),
            width=box.width / figure.dpi,
        )
