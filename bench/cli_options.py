"""Command-line options shared by several ``bench`` commands (no torch)."""

from __future__ import annotations

import click

PLUGIN_OPTION_HELP = "Load a one-file plugin (a .py file with @bench.hookimpl functions). Repeatable."


def plugin_option(command):
    """``--plugin FILE`` (repeatable), passed to the command as ``plugin_files``."""
    return click.option(
        "--plugin", "plugin_files", multiple=True, type=click.Path(dir_okay=False), help=PLUGIN_OPTION_HELP
    )(command)
