"""The ``bench`` command line: the group, its built-in commands and the plugins' commands.

Importing this module imports no torch or model library; a command imports them when it starts
computing.
"""

from __future__ import annotations

import os
import signal
import sys

import click

from bench.api.errors import BenchError
from bench.api.version import __version__
from bench.cli.cache_command import cache_group
from bench.cli.console import print_error, warn
from bench.cli.info_commands import list_command, plugins_command
from bench.cli.leaderboard_command import leaderboard_command
from bench.cli.options import COMMAND_KEY, PLUGINS_KEY
from bench.cli.rescore_command import rescore_command
from bench.cli.run_command import run_command
from bench.cli.train_command import train_command
from bench.registry.manager import PluginSet, load_plugins


class BenchGroup(click.Group):
    """A click group that prints :class:`BenchError` as one message (traceback only with --debug),
    and keeps the command line it parsed (recorded in results as their provenance)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[COMMAND_KEY] = [ctx.info_name or "bench", *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BenchError as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            print_error(exc.message, exc.hint)
            ctx.exit(1)


def build_cli(plugins: PluginSet) -> click.Group:
    """The ``bench`` group with the built-in commands and every plugin's ``register_commands``."""

    @click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="sbir-bench")
    @click.option("--debug", is_flag=True, envvar="SBIR_BENCH_DEBUG", help="Show tracebacks for errors.")
    @click.pass_context
    def cli(ctx: click.Context, debug: bool) -> None:
        """Benchmark backbones for sketch-based image retrieval (ZS-SBIR and FG-SBIR).

        Start with `bench run` (configs/default.toml: sd-mini, a miniature Stable Diffusion trained
        by this project on generated shapes, and dinov2-vits14-imgfocus, a real DINOv2 ViT-S/14, on
        the generated synthetic benchmarks), then `bench list` to see what is installed.
        """
        ctx.obj = {"debug": debug, PLUGINS_KEY: plugins}

    for command in (
        run_command,
        list_command,
        plugins_command,
        leaderboard_command,
        rescore_command,
        cache_group,
        train_command,
    ):
        cli.add_command(command)
    for warning in plugins.add_commands(cli):
        warn(warning)
    return cli


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: extracted rows are flushed to the cache


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        plugins = load_plugins()
    except BenchError as exc:  # a bad SBIR_BENCH_PLUGINS file
        print_error(exc.message, exc.hint)
        sys.exit(1)
    build_cli(plugins)(prog_name="bench")


if __name__ == "__main__":
    main()
