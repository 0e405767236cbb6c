"""Where the feature cache lives (no numpy, no torch: ``bench cache`` and ``bench --help`` read it)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "SBIR_BENCH_CACHE"


def default_cache_dir() -> Path:
    """``$SBIR_BENCH_CACHE`` or the user cache directory (e.g. ``~/.cache/sbir-bench``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("sbir-bench"))
