"""Every dotted ``bench.x.y`` a module of ``bench/`` names (in docstrings, comments and messages)
resolves: a module, or a name in one. Modules moved in the design passes left docstrings pointing at
``bench.prompt_learning`` and ``bench.sweep``, which no longer exist."""

from __future__ import annotations

import re
import warnings

from tests.helpers.cli import REPO
from tests.helpers.references import resolve

NOT_PATHS = {
    "bench.command",  # a key of click's ctx.meta (bench.cli.options.COMMAND_KEY)
    "bench.DatasetInfo.task",  # a dataclass field without a default: no class attribute to read
}
REFERENCE = re.compile(r"(?<![\w/.])bench(?:\.\w+)+")


def _resolves(reference: str) -> bool:
    """Whether ``reference`` is an importable module or a name (attribute path) in one (a deprecated
    alias resolves too: reading it warns)."""
    with warnings.catch_warnings(action="ignore", category=DeprecationWarning):
        try:
            resolve(reference)
        except (ImportError, AttributeError):
            return False
    return True


def test_every_dotted_bench_reference_in_bench_resolves():
    broken = [
        f"{path.relative_to(REPO)}:{text[: match.start()].count(chr(10)) + 1}: {match.group(0)}"
        for path in sorted((REPO / "bench").rglob("*.py"))
        for text in [path.read_text(encoding="utf-8")]
        for match in REFERENCE.finditer(text)
        if match.group(0) not in NOT_PATHS and not _resolves(match.group(0))
    ]
    assert not broken, "\n".join(broken)
