"""What training cost on this machine, kept in ``OUTPUT/cost.json`` for the documentation.

One entry per phase (``corpus``, ``vae``, ``latents``, ``unet``, ``export``): wall seconds (summed
over resumed runs for the training stages), steps and steps/s where it has steps, and the peak
resident memory of the process that ran it, in MiB.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def record(output: Path, phase: str, **facts: float | int | str) -> None:
    """Set ``phase``'s entry of ``OUTPUT/cost.json`` to ``facts`` plus the current peak RSS."""
    path = output / "cost.json"
    costs = json.loads(path.read_text()) if path.is_file() else {}
    costs[phase] = {**facts, "peak_rss_mib": round(peak_rss_mib(), 1), "cpus": os.cpu_count()}
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(costs, indent=1))
    os.replace(partial, path)


@contextmanager
def timed(output: Path, phase: str) -> Iterator[None]:
    """Record the wall time of the ``with`` body as ``phase`` (when it completes)."""
    started = time.perf_counter()
    yield
    record(output, phase, wall_s=round(time.perf_counter() - started, 1))
