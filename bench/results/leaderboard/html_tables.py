"""HTML tables of the leaderboard web page: sortable columns, rows that filters can hide.

A table is written with everything its script needs in attributes: each header says how its column
sorts (``data-type``: ``number`` or ``text``; ``data-first``: the direction of the first click, best
first), each number cell its exact value (``data-sort``), each row its kind (``measured``,
``reported``, ``chance``) and the facets the filters match (``data-backbone``, ``data-family``,
``data-prompt``). Cell contents arrive written (escaped) by the caller; attribute values are
escaped here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from bench.api.evaluation import ResolvedMetric
from bench.results.escaping import html_text
from bench.results.leaderboard.model import is_number
from bench.results.leaderboard.section_text import MISSING

FACETS = ("backbone", "family", "prompt")  # what a row can be filtered by (beside the dataset)
EMPTY = ("", MISSING)  # a cell without a value


@dataclass(frozen=True)
class Column:
    """A table column.

    Attributes:
        label: the header, written.
        kind: ``number`` (sorted by value, right-aligned) or ``text`` (natural order).
        first: ``asc`` or ``desc``: the direction of the first click (the best first).
        title: a tooltip (plain text).
        dataset: the dataset the column belongs to (a pivot column), hidden by the dataset filter.
        layout: how long values lay out: ``wrap`` (at word breaks) or ``nowrap`` (on one line);
            empty: the browser's choice.
    """

    label: str
    kind: str = "text"
    first: str = "asc"
    title: str = ""
    dataset: str | None = None
    layout: str = ""

    @classmethod
    def metric(cls, label: str, metric: ResolvedMetric, **extra) -> Column:
        """A number column of ``metric``: best first in its direction."""
        direction = "higher" if metric.higher_is_better else "lower"
        return cls(
            label,
            kind="number",
            first="desc" if metric.higher_is_better else "asc",
            title=f"{metric.name}: {metric.unit.name}, {direction} is better",
            **extra,
        )


@dataclass(frozen=True)
class Cell:
    """A cell: its written content and the value it sorts by (a number's exact value; None: its
    text, or missing in a number column)."""

    html: str
    sort: float | str | None = None


@dataclass(frozen=True)
class Row:
    """A table row: its cells, kind (``measured``, ``reported``, ``chance``) and facet values."""

    cells: Sequence[Cell]
    kind: str = "measured"
    facets: Mapping[str, str] = field(default_factory=dict)


def number_cell(html: str, value: object) -> Cell:
    """A number cell sorting by ``value`` (missing when it is not a finite number)."""
    return Cell(html, float(value) if is_number(value) else None)  # type: ignore[arg-type]


def table_html(
    table_id: str, columns: Sequence[Column], rows: Sequence[Row], footer: Sequence[Row] = ()
) -> str:
    """A sortable, filterable table (``rows`` in the body, ``footer`` rows stay below it), with the
    count of rows shown above it. A column without a value in any row is left out."""
    kept = [
        index
        for index in range(len(columns))
        if any(row.cells[index].html not in EMPTY for row in (*rows, *footer))
    ]
    columns = [columns[index] for index in kept]
    rows = [replace(row, cells=[row.cells[index] for index in kept]) for row in rows]
    footer = [replace(row, cells=[row.cells[index] for index in kept]) for row in footer]
    head = "".join(_header(column) for column in columns)
    body = "".join(_row(row, columns) for row in rows)
    empty = f'<tr class="empty" hidden><td colspan="{len(columns)}">No rows match the filters.</td></tr>'
    foot = f"<tfoot>{''.join(_row(row, columns) for row in footer)}</tfoot>" if footer else ""
    count = f'<p class="count" id="{table_id}-count">{len(rows)} rows</p>'
    return (
        f'{count}<div class="table-wrap"><table class="board" id="{table_id}">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}{empty}</tbody>{foot}</table></div>"
    )


def _header(column: Column) -> str:
    attributes = _classes(column)
    attributes += f' data-type="{column.kind}" data-first="{column.first}" aria-sort="none"'
    if column.title:
        attributes += f' title="{html_text(column.title)}"'
    if column.dataset is not None:
        attributes += f' data-dataset="{html_text(column.dataset)}"'
    return f'<th scope="col"{attributes}><button type="button">{column.label}</button></th>'


def _row(row: Row, columns: Sequence[Column]) -> str:
    facets = "".join(
        f' data-{facet}="{html_text(row.facets.get(facet, ""))}"' for facet in FACETS if row.kind != "chance"
    )
    cells = "".join(_cell(cell, column) for cell, column in zip(row.cells, columns, strict=True))
    return f'<tr class="{row.kind}" data-kind="{row.kind}"{facets}>{cells}</tr>'


def _cell(cell: Cell, column: Column) -> str:
    attributes = _classes(column)
    if cell.sort is not None:
        value = repr(cell.sort) if isinstance(cell.sort, float) else cell.sort
        attributes += f' data-sort="{html_text(value)}"'
    if column.dataset is not None:
        attributes += f' data-dataset="{html_text(column.dataset)}"'
    return f"<td{attributes}>{cell.html}</td>"


def _classes(column: Column) -> str:
    names = [name for name in ("num" if column.kind == "number" else "", column.layout) if name]
    return f' class="{" ".join(names)}"' if names else ""
