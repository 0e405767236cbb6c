"""The PCA figure (Koley et al.'s Figure 5): input pairs, then their features as RGB per timestep."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import SubFigure

from bench_plots.pca import RGBProjection, joint_pca_rgb
from bench_plots.style import DPI, new_figure, save_figure, styled, wrap_title

if TYPE_CHECKING:  # annotations only: this module imports no torch
    from bench_plots.pair_features import PairFeatures, PcaSettings

CELL = 1.5  # inches per image
MARGIN_WIDTH = 0.5  # inches for the row labels
HEADINGS_HEIGHT = 0.9  # inches for the column-group headings and the sketch/photo labels
TITLE_LINE_HEIGHT = 0.25  # inches per line of the figure title


@dataclass(frozen=True)
class PcaColumn:
    """One group of two columns: a heading and (P, h, w, 3) sketch and photo images."""

    heading: str
    sketches: np.ndarray
    photos: np.ndarray


def pca_columns(features: PairFeatures) -> list[PcaColumn]:
    """Per timestep, a PCA fitted jointly on the sketch and photo maps, as a column group."""
    columns = []
    for t, (sketch_maps, photo_maps) in features.maps.items():
        projection = joint_pca_rgb([sketch_maps, photo_maps])
        sketches, photos = projection.images
        columns.append(PcaColumn(timestep_heading(t, projection), sketches, photos))
    return columns


def pca_title(settings: PcaSettings, features: PairFeatures) -> str:
    """What the figure shows and how the features were computed (two lines, three with a note)."""
    info = features.info
    lines = [
        f"PCA of {info.id} {settings.layer} features on {settings.dataset}: principal components "
        "1, 2, 3 as red, green, blue, fitted jointly on sketches and photos"
        + (" at each timestep" if info.num_timesteps is not None else ""),
        f"prompt {settings.prompt}; {settings.noise_samples} noise draw(s), seed {settings.seed}; "
        f"{features.image_size} px input",
    ]
    if info.note:
        lines.append(f"{info.id}: {info.note}")
    return "\n".join(lines)


def figure_size(pairs: int, timesteps: int, title: str) -> tuple[float, float]:
    """(width, height) in inches: ``pairs`` rows, the inputs plus ``timesteps`` column groups, ``title``."""
    width = 2 * (1 + timesteps) * CELL + MARGIN_WIDTH
    title_lines = len(wrap_title(title, width).splitlines())
    return width, pairs * CELL + HEADINGS_HEIGHT + title_lines * TITLE_LINE_HEIGHT


def timestep_heading(t: int | None, projection: RGBProjection) -> str:
    """``t = 273`` over the share of variance the three components explain."""
    name = "features" if t is None else f"t = {t}"
    return f"{name}\nPC1–3: {100 * projection.explained.sum():.0f}% of variance"


def render_pca(
    inputs: PcaColumn,
    columns: Sequence[PcaColumn],
    labels: Sequence[str],
    output: Path,
    *,
    title: str,
    dpi: int = DPI,
) -> Path:
    """Draw the input pairs and each column group side by side, one row per pair, and save.

    Args:
        inputs: the sketches and photos, (P, S, S, 3) uint8.
        columns: per timestep, the PCA colours of the same sketches and photos, (P, h, w, 3) in [0, 1].
        labels: the P pairs' class names (row labels).
        title: the figure title (backbone, layer, dataset).
    """
    pairs = len(labels)
    with styled():
        width, height = figure_size(pairs, len(columns), title)
        figure = new_figure(width, height)
        figure.suptitle(wrap_title(title, width))
        groups = figure.subfigures(1, 1 + len(columns), squeeze=False, wspace=0.04)[0]
        for index, (group, column) in enumerate(zip(groups, [inputs, *columns], strict=True)):
            _draw_group(group, column, labels if index == 0 else None, smooth=index == 0)
        return save_figure(figure, output, dpi)


def _draw_group(group: SubFigure, column: PcaColumn, labels: Sequence[str] | None, smooth: bool) -> None:
    """Two columns (sketch, photo) of images under ``column.heading``; row labels when given."""
    group.suptitle(column.heading)
    axes = group.subplots(len(column.sketches), 2, squeeze=False)
    for row, (sketch, photo) in enumerate(zip(column.sketches, column.photos, strict=True)):
        for side, (image, name) in enumerate(((sketch, "sketch"), (photo, "photo"))):
            cell: Axes = axes[row, side]
            cell.imshow(image, interpolation="bicubic" if smooth else "nearest")
            cell.set_xticks([])
            cell.set_yticks([])
            cell.spines[:].set_visible(False)
            if row == 0:
                cell.set_title(name, fontsize=9)
        if labels is not None:
            axes[row, 0].set_ylabel(f"{row + 1}: {labels[row]}", fontsize=9)
