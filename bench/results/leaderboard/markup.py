"""How a leaderboard format writes the inline parts of its sentences and cells.

The sentences that say what a section is (its definition, chance levels, each run's settings) are
worded once (:mod:`~bench.results.leaderboard.section_text`) and written by a :class:`Markup`: the
markdown page's or the web page's. Every ``text`` and ``code`` argument may come from a results
file: a markup makes it literal (see :mod:`bench.results.escaping`).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from bench.results.escaping import html_code, html_text, markdown_code, markdown_text, safe_href


@dataclass(frozen=True)
class Markup:
    """Writers of inline text.

    Attributes:
        plain: text this project or a plugin's registration wrote, with no markup of its own (kept
            as is in markdown, entity-escaped in HTML).
        text: any value as literal text.
        code: any value as inline code.
        strong: already-written text in bold.
        link: ``(already-written text, target)`` as a link; the target is a relative path or an
            https address this project builds.
    """

    plain: Callable[[str], str]
    text: Callable[[object], str]
    code: Callable[[object], str]
    strong: Callable[[str], str]
    link: Callable[[str, str], str]


MARKDOWN = Markup(
    plain=lambda written: written,
    text=markdown_text,
    code=markdown_code,
    strong=lambda written: f"**{written}**",
    link=lambda written, target: f"[{written}]({target})",
)

HTML = Markup(
    plain=lambda written: html.escape(written, quote=True),
    text=html_text,
    code=html_code,
    strong=lambda written: f"<strong>{written}</strong>",
    link=lambda written, target: f'<a href="{safe_href(target)}">{written}</a>',
)
