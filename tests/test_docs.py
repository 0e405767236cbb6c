"""The README stays short, and every relative link of README.md, CONTRIBUTING.md and docs/*.md reaches a
file (and heading)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.cli import REPO

DOCUMENTS = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(document: Path) -> set[str]:
    """The anchors of a markdown file's headings (outside code blocks)."""
    text = FENCE.sub("", document.read_text(encoding="utf-8"))
    return {slug(line.lstrip("#")) for line in text.splitlines() if re.match(r"#{1,6} ", line)}


def relative_links(document: Path) -> list[str]:
    """The targets of a markdown file's links and images that are not web addresses (outside code)."""
    text = FENCE.sub("", document.read_text(encoding="utf-8"))
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(document: Path) -> None:
    broken = []
    for target in relative_links(document):
        path, _, anchor = target.partition("#")
        file = (document.parent / path).resolve() if path else document
        if not file.exists():
            broken.append(f"{target}: no file {file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading '#{anchor}' in {file.name}")
    assert not broken, f"{document.name}: " + "; ".join(broken)


def test_the_readme_gets_to_the_point() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 260, f"README.md has {len(lines)} lines; move detail to docs/"


def test_the_links_are_checked() -> None:
    """The checks above see the README's links, images and anchors (so passing means something)."""
    targets = relative_links(REPO / "README.md")
    assert "docs/figures/retrievals-synthetic.png" in targets
    assert "docs/backbones.md#baselines-clip-and-dino" in targets
    assert slug("Sketch+text retrieval") == "sketchtext-retrieval"
    assert slug("Options of `bench run`") == "options-of-bench-run"


@pytest.mark.slow
def test_the_api_reference_is_generated_from_the_code():
    """docs/api.md is what `python docs/make_api.py` writes from the public names' docstrings, and
    every public function and class has a docstring of its own."""
    import subprocess
    import sys

    check = subprocess.run(
        [sys.executable, str(REPO / "docs" / "make_api.py"), "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr + "\nRun `python docs/make_api.py` and commit docs/api.md."
    import bench

    undocumented = [
        name
        for name in bench.__all__
        if (callable(value := getattr(bench, name)) and not hasattr(value, "__origin__"))
        and (not value.__doc__ or value.__doc__.startswith(f"{getattr(value, '__name__', name)}("))
    ]
    assert not undocumented, f"public names without a docstring: {undocumented}"


def test_the_code_layout_names_every_plugin_and_tool_package():
    """docs/plugins.md's "Code layout" lists each package under plugins/ and tools/ by its folder."""
    text = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8").split("## Code layout", 1)[1]
    layout = FENCE.search(text).group(0)
    folders = [f"{path.parent.parent.name}/{path.parent.name}/" for folder in ("plugins", "tools")
               for path in sorted((REPO / folder).glob("*/__init__.py"))]  # fmt: skip
    assert [folder for folder in folders if folder not in layout] == []
    listed = re.findall(r"^((?:plugins|tools)/\w+/)", layout, re.M)
    assert sorted({folder for folder in listed if listed.count(folder) > 1}) == [], "listed twice"
