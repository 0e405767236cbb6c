"""``run_bench``: the `bench` command line as a user runs it, and the paths the tests start from.

``run_bench`` runs the command in this process through click's ``CliRunner`` (a fresh plugin set
each call, as a new process would load it); with ``env`` or ``cwd``, or ``subprocess=True``, it
starts a real ``python -m bench`` process: for the entry point itself, environment variables read
at start-up, working directories, and checks of what a fresh process imports.
"""

from __future__ import annotations

import os
import subprocess as subprocesses
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

# tests/conftest.py limits every run to sbir-bench's own plugins; tests of installed third-party
# plugins pass this in their environment
WITH_INSTALLED_PLUGINS = {"SBIR_BENCH_BUILTIN_PLUGINS_ONLY": ""}


REPO = Path(__file__).resolve().parents[2]  # the checkout


BENCH = [sys.executable, "-m", "bench"]


@dataclass
class Completed:
    """What a `bench` invocation left: the fields of ``subprocess.CompletedProcess`` tests read."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def _in_process(args: tuple[str, ...]) -> Completed:
    from click.testing import CliRunner

    from bench.cli.main import build_cli
    from bench.registry.manager import load_plugins

    result = CliRunner().invoke(build_cli(load_plugins()), list(args), prog_name="bench")
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # what a real process would print: an escaped exception is a bug with a traceback
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return Completed(["bench", *args], result.exit_code, result.stdout, stderr)


def run_bench(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    subprocess: bool = False,
) -> Completed | subprocesses.CompletedProcess:
    """Run ``bench ARGS`` as a user would; returns its exit code, stdout and stderr."""
    if not (subprocess or cwd or env):
        return _in_process(args)
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "250", **(env or {})}
    return subprocesses.run(
        [*BENCH, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
    )
