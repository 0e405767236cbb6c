"""Every dotted ``bench.x.y`` a module of ``bench/`` names (in docstrings, comments and messages)
resolves: a module, or a name in one. Modules moved in the design passes left docstrings pointing at
``bench.prompt_learning`` and ``bench.sweep``, which no longer exist."""

from __future__ import annotations

import importlib
import re
import warnings

from tests.helpers.cli import REPO

NOT_PATHS = {
    "bench.command",  # a key of click's ctx.meta (bench.cli.options.COMMAND_KEY)
    "bench.DatasetInfo.task",  # a dataclass field without a default: no class attribute to read
}
REFERENCE = re.compile(r"(?<![\w/.])bench(?:\.\w+)+")


def _resolves(reference: str) -> bool:
    """Whether ``reference`` is an importable module or a name (attribute path) in one (a deprecated
    alias resolves too: reading it warns)."""
    with warnings.catch_warnings(action="ignore", category=DeprecationWarning):
        return _found(reference.split("."))


def _found(parts: list[str]) -> bool:
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


def test_every_dotted_bench_reference_in_bench_resolves():
    broken = [
        f"{path.relative_to(REPO)}:{text[: match.start()].count(chr(10)) + 1}: {match.group(0)}"
        for path in sorted((REPO / "bench").rglob("*.py"))
        for text in [path.read_text(encoding="utf-8")]
        for match in REFERENCE.finditer(text)
        if match.group(0) not in NOT_PATHS and not _resolves(match.group(0))
    ]
    assert not broken, "\n".join(broken)
