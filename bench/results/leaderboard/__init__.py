"""Results files -> markdown leaderboard (``leaderboard/README.md``).

One section per (task, dataset). Each section holds a table of the runs sbir-bench measured (one
row per results file), ablation tables crossing layer and timestep for runs that differ in nothing
else, and, kept apart, a table of numbers papers reported (``leaderboard/reported.toml``), each row
labelled with its source. Rendering reads only the deterministic parts of a results file and
sorts everything it emits, so the same inputs always give byte-identical text.

Standard library only: ``bench leaderboard`` must start without importing torch or numpy.
"""

from __future__ import annotations

from bench.results.leaderboard.model import ReportedRow
from bench.results.leaderboard.rendering import MISSING, check_leaderboard, render_leaderboard
from bench.results.leaderboard.reported import load_reported

__all__ = ["MISSING", "ReportedRow", "check_leaderboard", "load_reported", "render_leaderboard"]
