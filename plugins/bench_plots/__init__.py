"""Built-in plugin: figures from sweeps, low-data studies and features (``bench plot sweep``,
``bench plot lowdata``, ``bench plot pca``).

Registration imports click only; matplotlib, numpy and torch are imported when a command runs, so
``bench --help`` and ``bench list`` stay fast.
"""

from __future__ import annotations

from bench import hookimpl


@hookimpl
def register_commands(cli) -> None:
    from bench_plots.commands import plot_group

    cli.add_command(plot_group)
