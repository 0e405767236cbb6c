"""The test session's environment (offline hub, a throw-away cache, only sbir-bench's own plugins)
and the fixtures many test modules share. Helpers the tests import live in ``tests/helpers/``."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before any Hugging Face import: no 20-50 s retries
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Two xdist workers share the cores, each with torch's OpenMP pool: idle OpenMP threads that spin
# (the default) steal the other worker's cores. Passive waits (read when torch loads, so before any
# test module imports it; inherited by `bench` subprocesses) measured 2.5x less wall time on the
# four slowest tests here (304 s -> 122 s) and change no number.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ["SBIR_BENCH_CACHE"] = tempfile.mkdtemp(prefix="sbir-bench-test-cache-")  # never the user's cache
# Only sbir-bench's own plugins, whatever else is installed on the machine (a broken third-party
# plugin's load warning would add a message to every command); tests of installed third-party
# plugins pass tests.helpers.cli.WITH_INSTALLED_PLUGINS in their environment.
os.environ["SBIR_BENCH_BUILTIN_PLUGINS_ONLY"] = "1"


@pytest.fixture(scope="module")
def registry():
    """The registry of the installed plugins (sbir-bench's own: see SBIR_BENCH_BUILTIN_PLUGINS_ONLY
    above), built once per test module."""
    from bench.registry.manager import load_plugins

    return load_plugins().build_registry()
