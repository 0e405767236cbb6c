"""The measured runs: every results file below a directory, with its link."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from bench.results.leaderboard.model import Run
from bench.results.schema import find_result_files, read_result


def load_runs(results_dir: Path, link_base: Path) -> list[Run]:
    """Every results file below ``results_dir``, each validated by its schema (:class:`BenchError`
    naming a file that fails)."""
    runs = []
    for path in find_result_files(results_dir):
        result = read_result(path)
        runs.append(Run(name=path.stem, link=_link(path, link_base), result=result))
    return runs


def _link(path: Path, base: Path) -> str:
    """URL-quoted POSIX path of ``path`` relative to ``base``."""
    relative = Path(os.path.relpath(Path(path).absolute(), Path(base).absolute())).as_posix()
    return quote(relative, safe="/+")
