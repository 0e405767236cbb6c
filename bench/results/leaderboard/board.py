"""A leaderboard: the sections of a results folder, and its rendering by a registered format.

:func:`load_leaderboard` reads every results file below a folder (and the reported and reference
chance files), checked against the registered tasks and metrics, into sections; a registered
:class:`bench.LeaderboardFormat` (``md``, ``csv``, ``latex``, ``json``, or a plugin's) renders them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.api.components import resolve_target
from bench.api.errors import BenchError, plugin_failure
from bench.api.evaluation import EvaluationSpecs
from bench.results.leaderboard.model import Leaderboard, LeaderboardSection
from bench.results.leaderboard.reported import load_reference_chance, load_reported, select_reported
from bench.results.leaderboard.runs import load_runs
from bench.results.leaderboard.sections import build_sections


def load_sections(
    results_dir: Path,
    reported_path: Path | None,
    specs: EvaluationSpecs,
    *,
    link_base: Path | None = None,
    chance_path: Path | None = None,
    reported_sections: str = "measured",
) -> list[LeaderboardSection]:
    """The sections of the leaderboard of ``results_dir``.

    Args:
        results_dir: folder searched recursively for results files (a missing folder has none).
        reported_path: TOML file of numbers reported by papers (see :func:`load_reported`), or None.
        specs: the registered metrics and tasks every file is checked and read with.
        link_base: folder the "Run" links are relative to (default: the parent of ``results_dir``,
            right for a leaderboard written beside the results folder).
        chance_path: TOML file of the published benchmarks' chance levels
            (``leaderboard/chance.toml``), or None.
        reported_sections: which reported rows to show: ``measured`` (those of benchmarks the
            results measured), ``all`` or ``none`` (see :func:`select_reported`).

    Raises:
        BenchError: naming a results file or the reported file that breaks its schema.
    """
    results_dir = Path(results_dir)
    runs = load_runs(results_dir, Path(link_base) if link_base is not None else results_dir.parent, specs)
    reported = load_reported(Path(reported_path), specs) if reported_path is not None else []
    reported = select_reported(reported, runs, reported_sections)
    chance = load_reference_chance(Path(chance_path), specs) if chance_path is not None else {}
    return build_sections(runs, reported, specs, chance)


def load_leaderboard(
    results_dir: Path, reported_path: Path | None, specs: EvaluationSpecs, **options: Any
) -> Leaderboard:
    """The :class:`Leaderboard` of ``results_dir`` (arguments and ``options`` as :func:`load_sections`)."""
    return Leaderboard(load_sections(results_dir, reported_path, specs, **options), specs)


def render(board: Leaderboard, format_id: str) -> str:
    """``board`` rendered by the registered format ``format_id``.

    Raises:
        BenchError: an unknown format (listing the registered ones), or a format's plugin that fails
            or returns something other than text (naming the plugin).
    """
    form = board.specs.leaderboard_format(format_id)
    plugin = board.specs.format_owner(format_id)
    function = resolve_target(form.render, f"the leaderboard format {format_id!r}")
    with plugin_failure(
        f"Leaderboard format {format_id!r} of plugin {plugin!r} failed",
        "Fix the plugin (`bench --debug ...` shows the traceback), or use another --format.",
    ):
        text = function(board)
    if not isinstance(text, str):
        raise BenchError(
            f"Leaderboard format {format_id!r} of plugin {plugin!r} returned {type(text).__name__}, not text."
        )
    return text


def render_leaderboard(
    results_dir: Path,
    reported_path: Path | None,
    specs: EvaluationSpecs,
    *,
    format_id: str = "md",
    **options: Any,
) -> str:
    """The leaderboard of every results file below ``results_dir`` in the registered format
    ``format_id`` (default: the markdown page; other arguments and ``options`` as
    :func:`load_sections`)."""
    return render(load_leaderboard(results_dir, reported_path, specs, **options), format_id)


def check_leaderboard(
    results_dir: Path,
    reported_path: Path | None,
    output_path: Path,
    specs: EvaluationSpecs,
    *,
    format_id: str = "md",
    **options: Any,
) -> bool:
    """True when ``output_path`` holds exactly what :func:`render_leaderboard` produces now."""
    try:
        current = Path(output_path).read_bytes()
    except FileNotFoundError:
        return False
    text = render_leaderboard(results_dir, reported_path, specs, format_id=format_id, **options)
    return current == text.encode("utf-8")
