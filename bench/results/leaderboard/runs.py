"""The measured runs: every results file below a directory, with its link."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from bench.results.leaderboard.model import Run
from bench.results.schema import RunResult, find_result_files, read_result


def load_runs(results_dir: Path, link_base: Path) -> list[Run]:
    """Every results file below ``results_dir`` (``ValueError`` naming a file that fails to read)."""
    runs = []
    for path in find_result_files(results_dir):
        result = read_result(path)
        _check_run(path, result)
        runs.append(Run(name=path.stem, link=_link(path, link_base), result=result))
    return runs


def _check_run(path: Path, result: RunResult) -> None:
    """Raise ``ValueError`` naming ``path`` when fields the leaderboard needs are malformed."""
    problems = []
    if not isinstance(result.task, str):
        problems.append("'task' is not a string")
    if not isinstance(result.config, dict):
        problems.append("'config' is not an object")
    if not isinstance(result.dataset, dict) or not isinstance(result.dataset.get("id"), str):
        problems.append("'dataset' lacks a string 'id'")
    elif not isinstance(result.dataset.get("columns", []), list):
        problems.append("'dataset.columns' is not a list")
    if not isinstance(result.metrics, dict):
        problems.append("'metrics' is not an object")
    if problems:
        raise ValueError(f"{path}: {'; '.join(problems)}")


def _link(path: Path, base: Path) -> str:
    """URL-quoted POSIX path of ``path`` relative to ``base``."""
    relative = Path(os.path.relpath(Path(path).absolute(), Path(base).absolute())).as_posix()
    return quote(relative, safe="/+")
