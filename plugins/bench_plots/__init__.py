"""Built-in plugin: figures from sweeps, low-data studies and features (``bench plot sweep``,
``bench plot lowdata``, ``bench plot pca``), and the leaderboard as a web page with its sweep figures
(``bench leaderboard --format html``).

Registration imports click only; matplotlib, numpy and torch are imported when a command runs, so
``bench --help`` and ``bench list`` stay fast.
"""

from __future__ import annotations

from bench import LeaderboardFormat, hookimpl

HTML_FORMAT = LeaderboardFormat(
    "html",
    "bench_plots.leaderboard_page:leaderboard_page",
    "one self-contained web page: sortable, filterable tables and the sweep figures",
    ".html",
)


@hookimpl
def register_commands(cli) -> None:
    from bench_plots.commands import plot_group

    cli.add_command(plot_group)


@hookimpl
def register_leaderboard_formats(register) -> None:
    register(HTML_FORMAT)
