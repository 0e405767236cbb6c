"""Strings from results files made inert before they are rendered.

Leaderboards are built from results files other people send, so every string read from one
(backbone names, notes, study names, settings) is rendered as literal text: no HTML, no links or
images, no emphasis, no table breaks, no footnote references. (Plots turn mathtext off instead:
``text.parse_math`` in the plots plugin's style.)
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

# Markdown punctuation that can make structure inside a line: code, emphasis, links and images
# (no brackets, no link), footnote references, table cells, strikethrough, math. Characters that act
# only at the start of a line (#, +, -, >) never start a cell or sentence here; an underscore inside
# a word (sd_tiny) cannot emphasise, so only one at a word's edge is escaped.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*\[\]|~$])|((?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) collapsed to one space."""
    return " ".join(str(text).split())


def markdown_text(text: object) -> str:
    """``text`` as literal markdown inline text (table cells, headings, sentences).

    HTML is entity-escaped (``<script>`` renders as text) and markdown punctuation is
    backslash-escaped (``[a](b)``, ``![i](u)``, ``**x**``, ``[^1]`` and ``|`` render as typed).
    """
    escaped = html.escape(one_line(str(text)), quote=False)
    return _MARKDOWN_SPECIALS.sub(lambda match: "\\" + match.group(0), escaped)


def markdown_code(text: object) -> str:
    """``text`` as a markdown code span, whatever backticks it holds (on one line, pipes escaped
    for tables); inside a code span nothing else is interpreted."""
    line = one_line(str(text)).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", line)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {line} " if line.startswith("`") or line.endswith("`") else line
    return f"{fence}{padded}{fence}"


def html_text(text: object) -> str:
    """``text`` on one line as HTML text or attribute value: ``& < > " '`` entity-escaped."""
    return html.escape(one_line(str(text)), quote=True)


def html_code(text: object) -> str:
    """``text`` as an HTML ``<code>`` element holding it literally."""
    return f"<code>{html_text(text)}</code>"


def safe_href(target: str) -> str:
    """``target`` as an ``href`` value that can only be an https address or a relative path: any
    other text is percent-encoded into a path (``javascript:x`` -> ``javascript%3Ax``), then
    entity-escaped."""
    scheme = "https://" if target.startswith("https://") else ""
    return html.escape(scheme + quote(target[len(scheme) :], safe="/+%"), quote=True)
