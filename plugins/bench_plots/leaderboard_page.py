"""The leaderboard as a web page with its sweep figures (``bench leaderboard --format html``).

The page is the toolkit's (:func:`bench.leaderboard_html`); this plugin adds to each section whose
runs sweep layers or timesteps the figure ``bench plot sweep`` draws of them, as SVG. matplotlib is
imported only when a section has such a sweep.
"""

from __future__ import annotations

import json

from bench import Leaderboard, LeaderboardFigure, RunResult, leaderboard_html
from bench_plots.sweep_data import SweepPanel, is_figure, sweep_panels, swept_results


def leaderboard_page(board: Leaderboard) -> str:
    """The web page of ``board``, with the sweep figure of every section that has one."""
    figures = {}
    for section in board.sections:
        panels = _sweep(section.runs, board)
        if panels:
            figures[section.label] = LeaderboardFigure(_svg(panels), _caption(panels))
    return leaderboard_html(board, figures)


def _sweep(runs, board: Leaderboard) -> list[SweepPanel]:
    """The panels of a section's runs that are figures (two layers or timesteps or more)."""
    distinct: dict[str, RunResult] = {}
    for run in runs:  # best first: a configuration found twice (in two folders) shows its best run
        distinct.setdefault(json.dumps(run.result.config, sort_keys=True, default=str), run.result)
    cells = [
        result
        for result in swept_results(list(distinct.values()))
        if isinstance(result.config["t"], int) and not isinstance(result.config["t"], bool)
    ]
    return [panel for panel in sweep_panels(cells, specs=board.specs) if is_figure(panel)]


def _svg(panels: list[SweepPanel]) -> str:
    from bench_plots.style import styled, svg_text
    from bench_plots.sweep_figure import draw_sweep

    with styled():
        return svg_text(draw_sweep(panels))


def _caption(panels: list[SweepPanel]) -> str:
    metrics = ", ".join(dict.fromkeys(panel.metric for panel in panels))
    backbones = ", ".join(dict.fromkeys(panel.backbone for panel in panels))
    return (
        f"{metrics} over layers and timesteps of {backbones}, as bench plot sweep draws it: the heatmap's "
        "best cell outlined, each point's 95% interval as a band, the chance level dashed."
    )
