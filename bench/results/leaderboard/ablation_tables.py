"""A section's ablations as layer x t grids and its one-factor studies as tables, shared by the
markdown page and the web page (their titles and fixed settings written in either's
:class:`~.markup.Markup`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bench.api.evaluation import ResolvedMetric
from bench.results.leaderboard.markup import MARKDOWN, Markup
from bench.results.leaderboard.model import (
    ABLATION_GRID_AXES,
    Ablation,
    LeaderboardSection,
    Run,
    is_number,
    settings,
)
from bench.results.leaderboard.ranking import marked, metric_columns, natural_key
from bench.results.leaderboard.section_text import (
    CONFIG_LABELS,
    MISSING,
    config_value,
    format_value,
    literal_text,
    raw_text,
    settings_text,
)


def ablations(section: LeaderboardSection) -> list[Ablation]:
    """Groups of the section's runs sharing every setting but layer and t, with two cells or more.

    Ordered by backbone, then by the shared settings (canonical JSON); compared on the first paper
    column (the first metric of the measured table when the dataset declares none).
    """
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in section.runs:
        if run.result.ablation:  # runs of a study are shown in its own table
            continue
        fixed = settings(run.result.config, ABLATION_GRID_AXES)
        key = (literal_text(fixed.get("backbone")), json.dumps(fixed, sort_keys=True, default=str))
        groups.setdefault(key, []).append(run)
    metric = next(iter(metric_columns(section)), "")
    return [
        Ablation(metric, tuple(runs))
        for _, runs in sorted(groups.items())
        if len({_cell(run) for run in runs}) >= 2
    ]


def _cell(run: Run) -> tuple[str, str]:
    """(layer, t) of a run, as text (the missing mark for None)."""
    return raw_text(run.result.config.get("layer")), raw_text(run.result.config.get("t"))


@dataclass(frozen=True)
class AblationGrid:
    """An ablation as a layer (rows) x t (columns) table of its metric.

    Attributes:
        ablation: the runs and the metric; metric: that metric, resolved.
        layers: row labels (text, natural order); steps: the timesteps, ascending (None last).
        cells: ``(layer, t as text) -> run`` (a configuration found twice: its best run).
        marks: the names of the runs marked best or tied with it among the cells.
    """

    ablation: Ablation
    metric: ResolvedMetric
    layers: list[str]
    steps: list[Any]
    cells: dict[tuple[str, str], Run]
    marks: set[str]

    def run(self, layer: str, t: object) -> Run | None:
        return self.cells.get((layer, raw_text(t)))


def ablation_grid(section: LeaderboardSection, ablation: Ablation) -> AblationGrid:
    """The :class:`AblationGrid` of one of the section's :func:`ablations`."""
    cells: dict[tuple[str, str], Run] = {}
    for run in ablation.runs:  # best first: a configuration found twice shows its best value
        cells.setdefault(_cell(run), run)
    metric = section.metric(ablation.metric)
    return AblationGrid(
        ablation=ablation,
        metric=metric,
        layers=sorted({layer for layer, _ in cells}, key=natural_key),
        steps=sorted({run.result.config.get("t") for run in ablation.runs}, key=_timestep_order),
        cells=cells,
        marks=marked(list(cells.values()), metric),
    )


def ablation_title(grid: AblationGrid, markup: Markup = MARKDOWN) -> str:
    """``Ablation: sd-mini, layer × t (mAP@all)``."""
    counts = (("layer", len(grid.layers)), ("t", len(grid.steps)))
    varying = " × ".join(axis for axis, count in counts if count > 1)
    backbone = grid.ablation.config.get("backbone")
    backbone_text = MISSING if backbone is None else markup.text(backbone)
    return f"Ablation: {backbone_text}, {varying} ({markup.text(grid.ablation.metric)})"


def ablation_fixed(grid: AblationGrid, markup: Markup = MARKDOWN) -> str:
    """``Fixed: <the shared settings>. Chance: 0.183. Note: ...``."""
    first = grid.ablation.runs[0].result
    fixed = f"Fixed: {settings_text(grid.ablation.config, ('backbone', *ABLATION_GRID_AXES), markup)}."
    chance = (first.chance or {}).get("metrics", {}).get(grid.metric.name)
    if is_number(chance):
        fixed += f" Chance: {format_value(chance, grid.metric)}."
    if first.backbone_note:
        fixed += f" Note: {markup.text(first.backbone_note)}."
    return fixed


def studies(section: LeaderboardSection) -> list[tuple[str, list[tuple[dict[str, Any], Run]]]]:
    """The one-factor ablation studies of the section: (study name, [(tag, run)] in the study's axis
    and value order), sorted by name."""
    found: dict[str, list[tuple[dict[str, Any], Run]]] = {}
    for run in section.runs:
        for tag in run.result.ablation:
            found.setdefault(str(tag["study"]), []).append((tag, run))
    return [(name, sorted(rows, key=lambda row: row[0]["order"])) for name, rows in sorted(found.items())]


@dataclass(frozen=True)
class StudyTable:
    """A one-factor study as a table: one row per (factor, setting), its paper columns.

    Attributes:
        study: its name; rows: ``(tag, run)`` in order; metrics: the columns shown;
        marks: per metric, the runs marked best or tied with it; base: the study's base run;
        varied: the factors it varies, in order.
    """

    study: str
    rows: list[tuple[dict[str, Any], Run]]
    metrics: list[str]
    marks: dict[str, set[str]]
    base: Run
    varied: tuple[str, ...]


def study_table(
    section: LeaderboardSection, study: str, rows: list[tuple[dict[str, Any], Run]]
) -> StudyTable:
    """The :class:`StudyTable` of one of the section's :func:`studies`."""
    metrics = [m for m in metric_columns(section) if any(m in run.result.metrics for _, run in rows)]
    metrics = metrics[: max(len(section.columns), 1)]
    return StudyTable(
        study=study,
        rows=rows,
        metrics=metrics,
        marks={m: marked([run for _, run in rows], section.metric(m)) for m in metrics},
        base=next((run for tag, run in rows if tag["base"]), rows[0][1]),
        varied=tuple(dict.fromkeys(str(tag["axis"]) for tag, _ in rows)),
    )


def study_title(table: StudyTable, markup: Markup = MARKDOWN) -> str:
    """``Ablation study: <name> (varies t, layer)``."""
    return f"Ablation study: {markup.text(table.study)} (varies {markup.plain(', '.join(table.varied))})"


def study_base(table: StudyTable, markup: Markup = MARKDOWN) -> str:
    """``Base: <settings>.``, how its learned prompts were trained, and the backbone note."""
    config = table.base.result.config
    fixed = f"Base: {settings_text(config, ('train',), markup)}."
    if "train" in config:
        fixed += f" Learned prompts trained with {config_value(config['train'], markup)}."
    if table.base.result.backbone_note:
        fixed += f" Note: {markup.text(table.base.result.backbone_note)}."
    return fixed


def study_row_labels(tag: dict[str, Any], markup: Markup = MARKDOWN) -> tuple[str, str]:
    """(factor, setting) of a study row: ``noise draws``, ``6 (base)``."""
    value = MISSING if tag["value"] is None else markup.text(tag["value"])
    setting = value + (" (base)" if tag["base"] else "")
    return markup.text(CONFIG_LABELS.get(str(tag["axis"]), str(tag["axis"]))), setting


def _timestep_order(t: object) -> tuple[int, float]:
    """Numeric timesteps ascending, then a missing one."""
    return (0, float(t)) if is_number(t) else (1, 0.0)
