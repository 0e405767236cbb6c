"""The feature cache: wall time of a second identical `bench run` against the first.

Runs `bench run --backbone sd-tiny --dataset synthetic` twice in subprocesses against a fresh cache
directory and prints both wall times, their ratio, and that the second run extracted nothing.

Run:  python benchmarks/cache_rerun.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time


def timed_run(cache_dir: str, output_dir: str) -> tuple[float, list[dict]]:
    command = [
        sys.executable,
        "-m",
        "bench",
        "run",
        "--backbone",
        "sd-tiny",
        "--dataset",
        "synthetic",
        "--cache-dir",
        cache_dir,
        "--output-dir",
        output_dir,
        "--json",
    ]
    started = time.perf_counter()
    result = subprocess.run(
        command, capture_output=True, text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    return time.perf_counter() - started, json.loads(result.stdout)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        first, runs_a = timed_run(f"{tmp}/cache", f"{tmp}/a")
        second, runs_b = timed_run(f"{tmp}/cache", f"{tmp}/b")
    assert [r["metrics"] for r in runs_a] == [r["metrics"] for r in runs_b], (
        "a cached rerun changed the numbers"
    )
    extracted = runs_b[0]["runtime"]["extracted_by_main_process"]
    print(
        f"first run {first:.1f} s (extracted {runs_a[0]['runtime']['extracted_by_main_process']} images), "
        f"cached rerun {second:.1f} s (extracted {extracted}): {first / second:.1f}x faster, same metrics"
    )


if __name__ == "__main__":
    main()
