"""The test suite's own layout: test modules import helpers from ``tests.helpers`` only.

A helper imported from a test module runs that module's import side effects and ties two test
files together; ``conftest`` imported as a module (``from conftest import ...``) is a second copy
of the one pytest loads, whose set-up runs twice.
"""

from __future__ import annotations

import ast

from tests.helpers.cli import REPO

TESTS = REPO / "tests"


def imported_modules(path) -> set[str]:
    """Every module ``path`` imports (``from X import`` and ``import X``), anywhere in the file."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_tests_import_helpers_only_from_the_helpers_package():
    test_modules = {path.stem for path in TESTS.glob("test_*.py")} | {"conftest"}
    wrong = {}
    for path in sorted(TESTS.rglob("*.py")):
        modules = sorted(name for name in imported_modules(path) if name.rpartition(".")[2] in test_modules)
        if modules:
            wrong[path.relative_to(REPO).as_posix()] = modules
    assert not wrong, f"move what these import into tests/helpers/ and import it from there: {wrong}"
