"""The measured runs: every results file below a directory, with a unique name and its link."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from bench.api.evaluation import EvaluationSpecs
from bench.results.leaderboard.model import Run
from bench.results.schema import find_result_files, read_result


def load_runs(results_dir: Path, link_base: Path, specs: EvaluationSpecs) -> list[Run]:
    """Every results file below ``results_dir``, each validated by its schema and the registered
    metrics and tasks ``specs`` (:class:`BenchError` naming a file that fails), named by
    :func:`run_names`."""
    paths = find_result_files(results_dir)
    names = run_names([path.relative_to(results_dir) for path in paths])
    return [
        Run(name=name, link=_link(path, link_base), result=read_result(path, specs))
        for name, path in zip(names, paths, strict=True)
    ]


def run_names(paths: list[Path]) -> list[str]:
    """A unique name for each of ``paths`` (distinct, relative to one folder): the file's stem, and
    where files of one stem lie in several folders, the shortest folder suffix that tells them
    apart before it (``a/synthetic/NAME`` and ``b/synthetic/NAME``). Marks, footnotes and ties
    are keyed by this name, so two runs never share one."""
    by_stem: dict[str, list[Path]] = {}
    for path in paths:
        by_stem.setdefault(path.stem, []).append(path)
    names = {}
    for stem, group in by_stem.items():
        depth = 0
        while len({_folders(path, depth) for path in group}) < len(group):
            depth += 1
        names.update({path: "/".join((*_folders(path, depth), stem)) for path in group})
    return [names[path] for path in paths]


def _folders(path: Path, depth: int) -> tuple[str, ...]:
    """The last ``depth`` folders of ``path`` (all of them when it has fewer)."""
    parts = path.parent.parts
    return parts[max(0, len(parts) - depth) :]


def _link(path: Path, base: Path) -> str:
    """URL-quoted POSIX path of ``path`` relative to ``base``."""
    relative = Path(os.path.relpath(Path(path).absolute(), Path(base).absolute())).as_posix()
    return quote(relative, safe="/+")
