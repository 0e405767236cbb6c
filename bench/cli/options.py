"""What every ``bench`` command shares, plugin commands included: ``--plugin FILE`` and the registry.

A plugin's command gets the components of every plugin with::

    @cli.command("mycommand")
    @bench.plugin_option
    @click.pass_context
    def mycommand(ctx, plugin_files):
        registry = bench.command_registry(ctx, plugin_files)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from bench.api.errors import BenchError
from bench.cli.console import warn
from bench.registry.manager import PluginSet
from bench.registry.tables import Registry

PLUGIN_OPTION_HELP = "Load a one-file plugin (a .py file with @bench.hookimpl functions). Repeatable."
PLUGINS_KEY = "plugins"  # where the command line keeps its PluginSet in click's context object


COMMAND_KEY = "bench.command"
"""``ctx.meta`` key of the command line as the user typed it (``["bench", "run", ...]``)."""


def plugin_option(command):
    """``--plugin FILE`` (repeatable), passed to the command as ``plugin_files``."""
    return click.option(
        "--plugin", "plugin_files", multiple=True, type=click.Path(dir_okay=False), help=PLUGIN_OPTION_HELP
    )(command)


def plugin_set(ctx: click.Context) -> PluginSet:
    """The plugins the ``bench`` command line loaded (kept in the root context)."""
    plugins = (ctx.find_root().obj or {}).get(PLUGINS_KEY)
    if plugins is None:
        raise BenchError("This command was not started through the `bench` command line.")
    return plugins


def command_registry(ctx: click.Context, plugin_files: Sequence[str | Path] = ()) -> Registry:
    """Every registered component, after loading ``plugin_files`` (``--plugin``); warnings about
    plugins that failed to load are printed on stderr."""
    plugins = plugin_set(ctx)
    for path in plugin_files:
        plugins.add_file(Path(path))
    registry = plugins.build_registry()
    for warning in plugins.warnings:
        warn(warning)
    return registry


class RegistryHelpOption(click.Option):
    """An option whose help lists registered components, read from the registry when the help is
    shown (so a plugin's components are listed too, and the list cannot go stale).

    Args:
        listed: registry -> the components' names as the user types them; the help template's
            ``{listed}`` becomes them joined with commas.
    """

    def __init__(self, *args: Any, listed: Callable[[Registry], list[str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.template = self.help or ""
        self.listed = listed

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        plugins = (ctx.find_root().obj or {}).get(PLUGINS_KEY)
        names = self.listed(plugins.build_registry()) if plugins is not None else []
        self.help = self.template.format(listed=", ".join(names) or "see `bench list`")
        return super().get_help_record(ctx)


def prompt_usages(registry: Registry, *, learned_only: bool = False) -> list[str]:
    """Every registered prompt scheme as typed (``none``, ``text:<argument>``), or (``learned_only``)
    those ``bench train`` learns."""
    schemes = [entry.component for entry in registry.prompt_schemes]
    return [
        scheme.id + (":<argument>" if scheme.takes_argument else "")
        for scheme in schemes
        if scheme.learns or not learned_only
    ]
