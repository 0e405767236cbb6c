"""Shared fixtures: offline hub, a runner for the `bench` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before any Hugging Face import: no 20-50 s retries
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["SBIR_BENCH_CACHE"] = tempfile.mkdtemp(prefix="sbir-bench-test-cache-")  # never the user's cache

REPO = Path(__file__).resolve().parent.parent
BENCH = [sys.executable, "-m", "bench"]


def run_bench(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600):
    """Run ``bench ARGS`` in a subprocess (as a user would); returns the CompletedProcess."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "250", **(env or {})}
    return subprocess.run(
        [*BENCH, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def bench_cli():
    return run_bench
