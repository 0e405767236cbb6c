"""The retrieval figure: each query sketch, then per configuration its top-k gallery images.

A relevant image is framed green, any other red; under each, its rank and cosine similarity. For a
paired task (fine-grained, scene-level) each configuration ends with the query's own photo and its
rank there, framed blue. Configurations stand side by side on the same queries (one row each).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from PIL import Image

from bench_plots.retrieval_data import RetrievalSource, main_score, source_label
from bench_plots.style import new_figure, save_figure, styled, wrap_title

CELL = 1.1  # inches per image
CAPTION_HEIGHT = 0.28  # inches under each image for its caption
HEADING_HEIGHT = 0.55  # inches for a configuration's two-line heading
TITLE_LINE_HEIGHT = 0.24  # inches per line of the figure title
THUMBNAIL = 192  # pixels per side of an image as drawn
RELEVANT = "#2ca02c"
NOT_RELEVANT = "#d62728"
PAIRED_PHOTO = "#1f77b4"
FRAME_WIDTH = 3.5  # points
CAPTION_SIZE = 7.5  # points


@dataclass(frozen=True)
class Tile:
    """One image of the figure: (S, S, 3) uint8 pixels, the caption under it, its frame's colour
    (None: no frame) and a note beside it (left, vertical). ``pixels`` None leaves the cell empty."""

    pixels: np.ndarray | None
    caption: str
    frame: str | None = None
    side: str = ""


@dataclass(frozen=True)
class Panel:
    """A group of columns under one heading: ``tiles[row][column]``."""

    heading: str
    tiles: list[list[Tile]]


class Thumbnails:
    """Images as square thumbnails (letterboxed on white), each loaded once."""

    def __init__(self) -> None:
        self._done: dict[tuple[int, str], np.ndarray] = {}

    def __call__(self, source: RetrievalSource, key: str) -> np.ndarray:
        slot = (id(source.dataset), key)
        if slot not in self._done:
            image = source.dataset.load_image(source.item(key)).convert("RGB")
            scale = THUMBNAIL / max(image.size)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.BICUBIC)
            canvas = Image.new("RGB", (THUMBNAIL, THUMBNAIL), "white")
            canvas.paste(image, ((THUMBNAIL - image.width) // 2, (THUMBNAIL - image.height) // 2))
            self._done[slot] = np.asarray(canvas)
        return self._done[slot]


def query_panel(source: RetrievalSource, keys: Sequence[str], thumbnails: Thumbnails) -> Panel:
    """The query sketches, captioned with their class and the last part of their key."""
    rows = []
    for key in keys:
        record = source.record(key)
        rows.append([Tile(thumbnails(source, key), f"{record.label}\n{key.rsplit('/', 1)[-1]}")])
    return Panel("query", rows)


def retrieval_panel(
    source: RetrievalSource, keys: Sequence[str], top_k: int, thumbnails: Thumbnails, specs: Any
) -> Panel:
    """One configuration's top ``top_k`` for each query (and the paired photo, for paired tasks)."""
    paired = source.log.relevance == "paired"
    rows = []
    for key in keys:
        record = source.record(key)
        similarities = record.top_similarity or []
        relevant = record.top_relevant or []
        row = []
        for position in range(top_k):
            if position >= len(record.top):  # fewer candidates than top_k (a per-class gallery)
                row.append(Tile(None, ""))
                continue
            frame = RELEVANT if relevant[position] else NOT_RELEVANT
            caption = f"#{position + 1}  {similarities[position]:.3f}"
            side = "" if paired or position else f"AP {record.average_precision:.3f}"
            row.append(Tile(thumbnails(source, record.top[position]), caption, frame, side))
        if paired:
            row.append(_paired_tile(source, record, thumbnails))
        rows.append(row)
    heading = f"{source_label(source)}\n{main_score(source, specs)} over all queries"
    return Panel(heading, rows)


def _paired_tile(source: RetrievalSource, record: Any, thumbnails: Thumbnails) -> Tile:
    if record.paired_photo is None:
        return Tile(None, "no paired photo\nin the gallery")
    return Tile(thumbnails(source, record.paired_photo), f"its photo: #{record.rank}", PAIRED_PHOTO)


def figure_title(sources: Sequence[RetrievalSource], top_k: int, choice: str, specs: Any) -> str:
    """What the figure shows: the dataset and task, how to read frames and captions, which queries."""
    first = sources[0]
    task = specs.task(first.log.task)
    dataset = first.config.get("dataset", "?")
    paired = first.log.relevance == "paired"
    frames = (
        "green: the query's own photo, red: any other; blue: its photo and its rank"
        if paired
        else "green: same class as the query, red: another class"
    )
    return (
        f"Top-{top_k} retrievals on {dataset} ({task.title}); queries: {choice}\n"
        f"Frames {frames}. Under each image: rank and cosine similarity"
        + ("." if paired else "; beside each row: the query's average precision (AP).")
    )


def render_retrievals(queries: Panel, panels: Sequence[Panel], output: Path, *, title: str, dpi: int) -> Path:
    """Draw the query column and the configurations' panels side by side and save to ``output``."""
    rows = len(queries.tiles)
    widths = [len(queries.tiles[0]), *(len(panel.tiles[0]) for panel in panels)]
    width = sum(widths) * CELL + 0.25 * len(panels)
    title_lines = len(wrap_title(title, width).splitlines())
    height = rows * (CELL + CAPTION_HEIGHT) + HEADING_HEIGHT + title_lines * TITLE_LINE_HEIGHT
    with styled():
        figure = new_figure(width, height)
        figure.suptitle(wrap_title(title, width), fontsize=10)
        columns = figure.subfigures(1, len(widths), width_ratios=widths, wspace=0.02)
        for column, panel in zip(columns, [queries, *panels], strict=True):
            column.suptitle(panel.heading, fontsize=9, fontweight="bold" if panel is not queries else None)
            axes = column.subplots(rows, len(panel.tiles[0]), squeeze=False)
            for axes_row, tiles in zip(axes, panel.tiles, strict=True):
                for ax, tile in zip(axes_row, tiles, strict=True):
                    _draw(ax, tile)
        return save_figure(figure, output, dpi)


def _draw(ax: Axes, tile: Tile) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if tile.pixels is None:
        ax.set_axis_off()
        ax.text(0.5, 0.5, tile.caption, ha="center", va="center", fontsize=CAPTION_SIZE, color="0.4")
        return
    # an image fills its axes: unclipped, so SVG needs no clip path (whose id would hash the axes'
    # float position, which constrained layout may vary in the last bits between figures)
    ax.imshow(tile.pixels, interpolation="lanczos", clip_on=False)
    ax.set_xlabel(tile.caption, fontsize=CAPTION_SIZE, labelpad=2)
    ax.set_ylabel(tile.side, fontsize=CAPTION_SIZE, labelpad=2)
    for spine in ax.spines.values():
        spine.set_visible(tile.frame is not None)
        if tile.frame is not None:
            spine.set_color(tile.frame)
            spine.set_linewidth(FRAME_WIDTH)
