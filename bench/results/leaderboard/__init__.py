"""Results files -> markdown leaderboard (``leaderboard/README.md``).

One section per benchmark definition (task, dataset, options, ``--limit`` and the gallery as
scored). Each section states the definition and the chance level of each metric, the best
configuration per backbone, a ranking of every measured run beside the numbers papers reported
(``leaderboard/reported.toml``, each row marked as reported with its source and protocol), values
with 95% bootstrap intervals and the best and every value tied with it in bold, then ablation
tables crossing layer and timestep for runs that differ in nothing else. A cross-benchmark pivot
(mean and Borda rank) opens the page. A registered leaderboard format renders the sections: the
built-in md (:mod:`~bench.results.leaderboard.markdown`), csv, latex and json
(:mod:`~bench.results.leaderboard.exports`) and html (:mod:`~bench.results.leaderboard.html_page`,
registered by the plots plugin with its sweep figures), or a plugin's. Rendering reads only the deterministic
parts of a results file and sorts everything it emits, so the same inputs always give
byte-identical text.

Standard library only: ``bench leaderboard`` must start without importing torch or numpy.
"""

from __future__ import annotations

from bench.results.leaderboard.board import (
    check_leaderboard,
    load_leaderboard,
    load_sections,
    render,
    render_leaderboard,
)
from bench.results.leaderboard.exports import (
    leaderboard_csv,
    leaderboard_data,
    leaderboard_json,
    leaderboard_latex,
)
from bench.results.leaderboard.html_page import LeaderboardFigure, leaderboard_html
from bench.results.leaderboard.markdown import leaderboard_markdown
from bench.results.leaderboard.model import Leaderboard, ReportedRow
from bench.results.leaderboard.reported import load_reported
from bench.results.leaderboard.section_text import MISSING

__all__ = [
    "MISSING",
    "Leaderboard",
    "LeaderboardFigure",
    "ReportedRow",
    "check_leaderboard",
    "leaderboard_csv",
    "leaderboard_data",
    "leaderboard_html",
    "leaderboard_json",
    "leaderboard_latex",
    "leaderboard_markdown",
    "load_leaderboard",
    "load_reported",
    "load_sections",
    "render",
    "render_leaderboard",
]
