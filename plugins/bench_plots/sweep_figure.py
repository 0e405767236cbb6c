"""The sweep figure: per panel, a layer x timestep heatmap and the metric against timestep per layer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

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
from bench_plots.sweep_data import REFERENCE_T, SweepPanel, format_metric

WIDTH = 13.0  # inches, whatever the number of panels
LAYER_COLORS = "tab10"
HEATMAP = "viridis"


def panel_height(panel: SweepPanel) -> float:
    """Height in inches of one panel: room for its title, legends and one row per layer."""
    return max(4.2, 2.6 + 0.42 * len(panel.layers))


def figure_size(panels: Sequence[SweepPanel]) -> tuple[float, float]:
    """(width, height) in inches of the figure of ``panels`` (stacked vertically)."""
    return WIDTH, sum(panel_height(panel) for panel in panels)


def render_sweep(
    panels: Sequence[SweepPanel], output: Path, *, reference_t: int = REFERENCE_T, dpi: int = DPI
) -> Path:
    """Draw ``panels`` (one row each) and save to ``output`` (format from its suffix).

    Each row: left, a heatmap of the metric (rows: layers, columns: timesteps) with every value
    printed, the best cell outlined and the ``reference_t`` column dashed when swept; right, the
    metric against timestep, one line per layer, the best point starred and ``reference_t`` as a
    vertical reference line.
    """
    with styled():
        figure = new_figure(*figure_size(panels))
        rows = figure.subfigures(
            len(panels), 1, squeeze=False, height_ratios=[panel_height(p) for p in panels]
        )[:, 0]
        for row, panel in zip(rows, panels, strict=True):
            _draw_panel(row, panel, reference_t)
        return save_figure(figure, output, dpi)


def _draw_panel(row: SubFigure, panel: SweepPanel, reference_t: int) -> None:
    heatmap_axes, curve_axes = row.subplots(1, 2, width_ratios=[1.0, 1.1])
    row.suptitle(wrap_title(_title(panel), WIDTH), fontweight="bold")
    image = _heatmap(heatmap_axes, panel, reference_t)
    colorbar = row.colorbar(image, ax=heatmap_axes, fraction=0.06, pad=0.02)
    colorbar.set_label(_metric_label(panel))
    _curves(curve_axes, panel, reference_t)


def _title(panel: SweepPanel) -> str:
    """``mAP@all of sd-tiny on synthetic (zs-sbir)``, the distinguishing settings, the backbone note."""
    title = f"{panel.metric} of {panel.backbone} on {panel.dataset} ({panel.task}) by layer and timestep"
    if panel.variant:
        title += " — " + ", ".join(f"{name} {value}" for name, value in panel.variant)
    if panel.note:
        title += f"\n{panel.backbone}: {panel.note}"
    return title


def _metric_label(panel: SweepPanel) -> str:
    return f"{panel.metric} ({panel.unit})"


def _grid(panel: SweepPanel) -> np.ndarray:
    """(layers, timesteps) float array of the panel's values, NaN where a cell was not run."""
    grid = np.full((len(panel.layers), len(panel.timesteps)), np.nan)
    for i, layer in enumerate(panel.layers):
        for j, t in enumerate(panel.timesteps):
            grid[i, j] = panel.values.get((layer, t), np.nan)
    return grid


def _heatmap(axes: Axes, panel: SweepPanel, reference_t: int) -> mpl.cm.ScalarMappable:
    grid = _grid(panel)
    low, high = float(np.nanmin(grid)), float(np.nanmax(grid))
    norm = Normalize(low, high if high > low else low + 1e-9)
    cmap = mpl.colormaps[HEATMAP].with_extremes(bad="0.9")
    image = axes.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, aspect="auto")
    axes.set_xticks(range(len(panel.timesteps)), labels=[str(t) for t in panel.timesteps])
    axes.set_yticks(range(len(panel.layers)), labels=list(panel.layers))
    axes.tick_params(length=0)
    axes.spines[:].set_visible(False)
    axes.set_xlabel(TIMESTEP_LABEL)
    axes.set_ylabel("feature layer")
    axes.set_title(f"{panel.metric}: layer × timestep")
    for i, layer in enumerate(panel.layers):
        for j, t in enumerate(panel.timesteps):
            value = panel.values.get((layer, t))
            text = "not run" if value is None else format_metric(panel.metric, value)
            color = "0.4" if value is None else _ink(cmap(norm(value)))
            axes.text(j, i, text, ha="center", va="center", color=color, fontsize=9)
    handles = [_outline_best(axes, panel)]
    if reference_t in panel.timesteps:
        handles.append(_outline_reference(axes, panel, reference_t))
    axes.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    return image


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
            label=f"best: {layer} at t = {t} ({format_metric(panel.metric, value)})",
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


def _curves(axes: Axes, panel: SweepPanel, reference_t: int) -> None:
    colors = mpl.colormaps[LAYER_COLORS]
    for index, layer in enumerate(panel.layers):
        points = [(t, panel.values[(layer, t)]) for t in panel.timesteps if (layer, t) in panel.values]
        xs, ys = zip(*points, strict=True)
        axes.plot(xs, ys, marker="o", markersize=5, linewidth=1.8, color=colors(index % 10), label=layer)
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
    axes.axvline(reference_t, linestyle="--", linewidth=1.3, color=REFERENCE_COLOR, zorder=0)
    reference = Line2D(
        [], [], linestyle="--", color=REFERENCE_COLOR, label=f"t = {reference_t} (Koley et al.)"
    )
    low, high = min(*panel.timesteps, reference_t), max(*panel.timesteps, reference_t)
    margin = max(0.05 * (high - low), 15)
    axes.set_xlim(low - margin, high + margin)
    axes.set_xticks(panel.timesteps)
    axes.set_xlabel(TIMESTEP_LABEL)
    axes.set_ylabel(_metric_label(panel))
    axes.set_title(f"{panel.metric} against timestep, one line per layer")
    axes.grid(alpha=0.3)
    handles, _ = axes.get_legend_handles_labels()
    axes.legend(
        handles=[*handles, reference],
        title="layer",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
