"""An SVG figure (a plot library's output) made safe to place inside an HTML page.

The figure is parsed and written again element by element, so nothing in it can act on the page:
only drawing elements are kept (no script, no foreignObject, no style sheet that would apply to the
whole page, no metadata), no event-handler attribute, links only to the figure's own elements or
to an inline PNG (nothing is fetched), every text and attribute value entity-escaped, and every
id prefixed so that two figures on one page cannot collide.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ElementTree

from bench.api.errors import BenchError

DRAWING_ELEMENTS = frozenset(
    {
        "svg",
        "g",
        "defs",
        "path",
        "use",
        "clipPath",
        "mask",
        "pattern",
        "symbol",
        "rect",
        "circle",
        "ellipse",
        "line",
        "polyline",
        "polygon",
        "image",
        "text",
        "tspan",
        "title",
        "desc",
        "linearGradient",
        "radialGradient",
        "stop",
    }
)
LINK_ATTRIBUTES = ("href", "{http://www.w3.org/1999/xlink}href")
INLINE_PNG = "data:image/png;base64,"
_LOCAL_URL = re.compile(r"url\(\s*#([^)\s]+)\s*\)")
_ANY_URL = re.compile(r"url\s*\(", re.IGNORECASE)


def inline_svg(document: str, prefix: str) -> str:
    """``document`` (an SVG file's text) as an ``<svg>`` element for an HTML page.

    Args:
        document: the SVG file's text (XML prolog and doctype allowed).
        prefix: prepended to every id (and to every reference to one), unique on the page; letters,
            digits and ``-`` only.

    Raises:
        BenchError: when ``document`` is not an SVG document.
    """
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as exc:
        raise BenchError(f"A figure for the leaderboard page is not valid SVG: {exc}.") from exc
    if _local(root.tag) != "svg":
        raise BenchError(f"A figure for the leaderboard page is a <{_local(root.tag)}> document, not SVG.")
    out: list[str] = []
    _write(root, prefix, out)
    return "".join(out)


def _write(element: ElementTree.Element, prefix: str, out: list[str]) -> None:
    tag = _local(element.tag)
    if tag not in DRAWING_ELEMENTS:
        return
    attributes = "".join(
        f' {name}="{html.escape(value, quote=True)}"'
        for name, value in (_attribute(key, value, prefix) for key, value in element.attrib.items())
        if name
    )
    out.append(f"<{tag}{attributes}>")
    if element.text and (tag in ("text", "tspan", "title", "desc") or element.text.strip()):
        out.append(html.escape(element.text, quote=False))
    for child in element:
        _write(child, prefix, out)
        if child.tail and child.tail.strip():
            out.append(html.escape(child.tail, quote=False))
    out.append(f"</{tag}>")


def _attribute(key: str, value: str, prefix: str) -> tuple[str, str]:
    """(name, value) of an attribute as written, or ``("", "")`` to drop it."""
    name = "xlink:href" if key == LINK_ATTRIBUTES[1] else _local(key)
    if key.startswith("{") and key not in LINK_ATTRIBUTES:
        return "", ""  # other namespaced attributes (metadata) say nothing to a browser
    if name.lower().startswith("on"):
        return "", ""
    if key in LINK_ATTRIBUTES:
        compact = "".join(value.split())
        if compact.startswith("#"):
            return name, f"#{prefix}-{compact[1:]}"
        return (name, compact) if compact.startswith(INLINE_PNG) else ("", "")
    if name == "id":
        return name, f"{prefix}-{value}"
    value = " ".join(value.split())
    value = _LOCAL_URL.sub(lambda match: f"url(#{prefix}-{match.group(1)})", value)
    if _ANY_URL.search(_LOCAL_URL.sub("", value)):
        return "", ""  # a url() that is not one of the figure's own elements would be fetched
    return name, value


def _local(name: str) -> str:
    """An element or attribute name without its ``{namespace}``."""
    return name.rpartition("}")[2]
