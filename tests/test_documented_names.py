"""Every ``bench.*`` name the prose documents (README, CONTRIBUTING, docs/) exists, and is the
current name: a deprecated alias appears only where the paragraph says it is one. (docs/api.md,
generated from the docstrings, is checked by ``docs/make_api.py --check``.)"""

from __future__ import annotations

import importlib
import re
import warnings

import pytest

import bench
from tests.helpers.cli import REPO

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


def resolve(name: str) -> object:
    """``bench.a.b`` as an attribute path from ``bench``, importing submodules on the way."""
    parts = name.split(".")
    found: object = bench
    for depth, part in enumerate(parts[1:], start=2):
        try:
            found = getattr(found, part)
        except AttributeError:
            found = importlib.import_module(".".join(parts[:depth]))
    return found


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
        with pytest.raises(ImportError):
            resolve("bench.no_such_name")
