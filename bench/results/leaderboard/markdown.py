"""Sections -> the markdown page (``--format md``; deterministic: the same inputs give byte-identical
text): its layout and tables, in the words of :mod:`~.section_text` and :mod:`~.ablation_tables`."""

from __future__ import annotations

from typing import Any

from bench.api.evaluation import ResolvedMetric
from bench.results.escaping import markdown_code, markdown_text
from bench.results.leaderboard.ablation_tables import (
    ablation_fixed,
    ablation_grid,
    ablation_title,
    ablations,
    studies,
    study_base,
    study_row_labels,
    study_table,
    study_title,
)
from bench.results.leaderboard.model import Ablation, Leaderboard, LeaderboardSection, ReportedRow, Run
from bench.results.leaderboard.ranking import best_per_backbone, marked, metric_columns, pivot, section_label
from bench.results.leaderboard.section_text import (
    MISSING,
    chance_text,
    definition_text,
    distinguishing_settings,
    format_value,
    intro_text,
    literal_text,
    other_settings_text,
    pivot_chance,
    pivot_columns,
    pivot_text,
    protocol_lines,
    ranked_entries,
    reported_citation,
    run_details,
    shows_query_text,
)


def leaderboard_markdown(board: Leaderboard) -> str:
    """The leaderboard page (``--format md``): the introduction, the cross-benchmark pivot and one
    section per benchmark definition."""
    sections = board.sections
    lines = ["# sbir-bench leaderboard", "", intro_text(sections, board.specs), ""]
    if not sections:
        lines += ["No measured runs or reported numbers yet.", ""]
    lines += _pivot_block(sections)
    footnote = 1
    for section in sections:
        lines += _render_section(section, footnote)
        footnote += len(section.runs)
    return "\n".join(lines).rstrip("\n") + "\n"


def section_heading(section: LeaderboardSection) -> str:
    """``synthetic (<task id>)``, with the options and limit of a non-standard definition."""
    return f"{markdown_text(section_label(section))} ({markdown_text(section.task)})"


def _render_section(section: LeaderboardSection, first_footnote: int) -> list[str]:
    """Heading, definition and chance, best per backbone, the ranking with its footnotes, ablations."""
    lines = [f"## {section_heading(section)}", "", definition_text(section), ""]
    if section.chance:
        lines += [chance_text(section), ""]
    lines += [f"Note: {markdown_text(note)}" for note in section.notes]
    if section.notes:
        lines.append("")
    footnotes = {run.name: number for number, run in enumerate(section.runs, start=first_footnote)}
    if section.runs:
        lines += ["### Best configuration per backbone", ""]
        lines += [*_best_table(section, footnotes), ""]
    else:
        lines += ["No measured runs with this definition yet.", ""]
    if section.runs or section.reported:
        title = (
            "measured and reported"
            if section.runs and section.reported
            else ("measured" if section.runs else "reported by papers, not measured here")
        )
        lines += [f"### Ranking ({title})", ""]
        lines += [*_ranking_table(section, footnotes), ""]
        for line in protocol_lines(section):
            lines += [line, ""]
    if section.runs:
        lines += [*_footnotes(section.runs, first_footnote), ""]
        for ablation in ablations(section):
            lines += [*_ablation_block(section, ablation), ""]
        for study, rows in studies(section):
            lines += [*_study_block(section, study, rows), ""]
    return lines


def _best_table(section: LeaderboardSection, footnotes: dict[str, int]) -> list[str]:
    """One row per backbone (its best run by the main metric): configuration, paper columns with
    intervals, run link; then the chance row."""
    runs = best_per_backbone(section)
    columns = list(section.columns) or [m for m in [section.main_metric] if m]
    marks = {name: marked(runs, section.metric(name)) for name in columns}
    config_headers = _config_headers(section)
    header = [*config_headers, *map(markdown_text, columns), "Run"]
    align = ["---"] * len(config_headers) + ["---:"] * len(columns) + ["---"]
    rows = [
        [
            *_config_cells(run, footnotes[run.name], section),
            *(_metric_cell(run, section.metric(name), marks[name], interval=True) for name in columns),
            f"[{markdown_text(run.name)}]({run.link})",
        ]
        for run in runs
    ]
    rows += _chance_rows(section, columns, len(config_headers), trailing=1)
    return _table(header, align, rows)


def _ranking_table(section: LeaderboardSection, footnotes: dict[str, int]) -> list[str]:
    """Measured runs and reported rows ranked together by the main metric: configuration (or the
    reported method), paper columns (measured: with intervals), the other metrics, source."""
    metrics = metric_columns(section)
    marks = {name: marked(section.runs, section.metric(name)) for name in metrics}
    rows = []
    for rank, entry in enumerate(ranked_entries(section), start=1):
        if isinstance(entry, Run):
            cells = [
                *_config_cells(entry, footnotes[entry.name], section),
                *(
                    _metric_cell(entry, section.metric(name), marks[name], interval=name in section.columns)
                    for name in metrics
                ),
                f"measured: [{markdown_text(entry.name)}]({entry.link})",
            ]
        else:
            cells = [
                markdown_text(entry.backbone),
                *[MISSING] * (len(_config_headers(section)) - 1),
                *(format_value(entry.metrics.get(name), section.metric(name)) for name in metrics),
                reported_source(entry),
            ]
        rows.append([str(rank), *cells])
    config_headers = _config_headers(section)
    header = ["#", *config_headers, *map(markdown_text, metrics), "Source"]
    align = ["---:"] + ["---"] * len(config_headers) + ["---:"] * len(metrics) + ["---"]
    rows += [["", *cells] for cells in _chance_rows(section, metrics, len(config_headers), trailing=1)]
    return _table(header, align, rows)


def reported_source(row: ReportedRow) -> str:
    """``reported: method; Koley et al., CVPR 2024, Table 1 (arXiv:2403.07214)``."""
    return f"reported: {reported_citation(row)}"


def _chance_rows(
    section: LeaderboardSection, metrics: list[str], leading: int, trailing: int
) -> list[list[str]]:
    """The chance row of a table (empty when the section records no chance level)."""
    if not section.chance:
        return []
    values = section.chance["metrics"]
    cells = ["*chance*", *[""] * (leading - 1)]
    cells += [
        f"*{format_value(values.get(name), section.metric(name))}*" if name in values else MISSING
        for name in metrics
    ]
    return [cells + ["random ranking"] * trailing]


def _config_headers(section: LeaderboardSection) -> list[str]:
    """The configuration columns of a section's tables (``Query text`` only for sketch+text runs)."""
    return ["Backbone", "Layer", "t", "Prompt", "Noise draws", *(["Query text"] * shows_query_text(section))]


def _config_cells(run: Run, footnote: int, section: LeaderboardSection) -> list[str]:
    """The cells of :func:`_config_headers` (a sketch-only run's query text reads ``sketch only``)."""
    config = run.result.config
    cells = [
        f"{literal_text(config.get('backbone'))}[^{footnote}]",
        literal_text(config.get("layer")),
        literal_text(config.get("t")),
        literal_text(config.get("prompt")),
        literal_text(config.get("noise_samples")),
    ]
    if shows_query_text(section):
        cells.append(literal_text(config.get("query_text") or "sketch only"))
    return cells


def _metric_cell(run: Run, metric: ResolvedMetric, marks: set[str], *, interval: bool) -> str:
    """The value (bold when marked) and, for paper columns, its interval ``[low, high]``."""
    name = metric.name
    value = run.result.metrics.get(name)
    text = format_value(value, metric)
    if text == MISSING:
        return text
    text = f"**{text}**" if run.name in marks else text
    bounds = run.interval(name) if interval else None
    if bounds:
        text += f" [{format_value(bounds[0], metric)}, {format_value(bounds[1], metric)}]"
    return text


def _pivot_block(sections: list[LeaderboardSection]) -> list[str]:
    """The cross-benchmark pivot (only with two benchmarks or more)."""
    labels, rows = pivot(sections)
    if len(labels) < 2:
        return []
    columns, metrics = pivot_columns(sections)
    lines = ["## Across benchmarks", "", pivot_text(columns, metrics), ""]
    distinguishing = distinguishing_settings([row.configuration for row in rows])
    header = ["Rank", "Configuration", *(markdown_text(label) for label in labels), "Mean", "Borda"]
    align = ["---:", "---"] + ["---:"] * (len(labels) + 2)
    table_rows = []
    for row in rows:
        config = row.configuration
        label = " · ".join(
            f"{key} {markdown_code(str(config[key]))}"
            for key in ("backbone", "layer", "t", "prompt", "noise_samples")
            if config.get(key) is not None
        )
        others = other_settings_text(config, distinguishing)
        cells = [str(row.rank), f"{label} ({others})" if others else label]
        cells += [f"{row.values[label_]:.2f}" if label_ in row.values else MISSING for label_ in labels]
        cells += [f"{row.mean:.2f}" if row.mean is not None else MISSING, f"{row.borda:g}"]
        table_rows.append(cells)
    chance = [
        f"*{value:.2f}*" if value is not None else MISSING for value in map(pivot_chance, columns, metrics)
    ]
    table_rows.append(["", "*chance* (a random ranking)", *chance, "", ""])
    return [*lines, *_table(header, align, table_rows), ""]


def _footnotes(runs: tuple[Run, ...], first_footnote: int) -> list[str]:
    """A footnote per run: its :func:`run_details`."""
    return [
        f"[^{number}]: {markdown_code(run.name)}: {run_details(run)}"
        for number, run in enumerate(runs, start=first_footnote)
    ]


def _ablation_block(section: LeaderboardSection, ablation: Ablation) -> list[str]:
    """Heading, the fixed settings, and a layer (rows) x t (columns) table of the metric."""
    grid = ablation_grid(section, ablation)
    header = ["Layer \\ t", *(literal_text(t) for t in grid.steps)]
    align = ["---"] + ["---:"] * len(grid.steps)
    rows = []
    for layer in grid.layers:
        row = [markdown_text(layer)]
        for t in grid.steps:
            run = grid.run(layer, t)
            row.append(_metric_cell(run, grid.metric, grid.marks, interval=False) if run else MISSING)
        rows.append(row)
    return [f"### {ablation_title(grid)}", "", ablation_fixed(grid), "", *_table(header, align, rows)]


def _study_block(
    section: LeaderboardSection, study: str, rows: list[tuple[dict[str, Any], Run]]
) -> list[str]:
    """Heading, the base configuration, and one row per (factor, setting): the paper columns."""
    table = study_table(section, study, rows)
    table_rows = []
    for tag, run in table.rows:
        cells = list(study_row_labels(tag))
        cells += [_metric_cell(run, section.metric(m), table.marks[m], interval=True) for m in table.metrics]
        table_rows.append([*cells, f"[{markdown_text(run.name)}]({run.link})"])
    header = ["Factor", "Setting", *(markdown_text(m) for m in table.metrics), "Run"]
    align = ["---", "---"] + ["---:"] * len(table.metrics) + ["---"]
    return [f"### {study_title(table)}", "", study_base(table), "", *_table(header, align, table_rows)]


def _table(header: list[str], align: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown pipe table."""
    return ["| " + " | ".join(cells) + " |" for cells in (header, align, *rows)]
