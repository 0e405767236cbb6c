"""Every ``bench.*`` name the prose documents (README, CONTRIBUTING, docs/) exists, and is the
current name: a deprecated alias appears only where the paragraph says it is one. (docs/api.md,
generated from the docstrings, is checked by ``docs/make_api.py --check``.)"""

from __future__ import annotations

import re
import warnings

import pytest

from tests.helpers.cli import REPO
from tests.helpers.references import resolve

PROSE = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
NAME = re.compile(r"(?<![\w./-])bench(?:\.[A-Za-z_]\w*)+")
ABOUT_ALIASES = ("deprecat", "old name", "used to be")


def documented_names(text: str) -> set[str]:
    """The ``bench.x.y`` names inside backticks, in paragraphs that are not about old names."""
    names = set()
    for paragraph in re.split(r"\n\s*\n", text):
        if any(word in paragraph.lower() for word in ABOUT_ALIASES):
            continue
        for code in re.findall(r"`[^`]+`", paragraph):
            names.update(NAME.findall(code))
    return names


@pytest.mark.parametrize("page", [p for p in PROSE if p.name != "api.md"], ids=lambda p: p.name)
def test_documented_bench_names_exist_under_their_current_name(page):
    wrong = {}
    for name in sorted(documented_names(page.read_text(encoding="utf-8"))):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                resolve(name)
            except (AttributeError, ImportError, DeprecationWarning) as problem:
                wrong[name] = f"{type(problem).__name__}: {problem}"
    assert not wrong, f"{page.name}: {wrong}"


def test_the_check_catches_an_old_name_and_a_missing_one():
    text = "Use `bench.check_random`, `bench.no_such_name`.\n\nThe old name `bench.LayerInfo` is deprecated."
    assert documented_names(text) == {"bench.check_random", "bench.no_such_name"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DeprecationWarning, match="bench.weights"):
            resolve("bench.check_random")
        with pytest.raises(AttributeError, match="no_such_name"):
            resolve("bench.no_such_name")
