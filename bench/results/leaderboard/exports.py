"""The leaderboard for programs and papers: JSON, CSV (long form) and LaTeX (booktabs tables).

All three are built from the same sections as the markdown (:class:`Leaderboard`), so they rank,
mark and group exactly as it does, each metric in its registered direction and digits. Numbers are
written as Python's shortest round-tripping ``repr`` in JSON and CSV (reading them back gives the
stored floats), rounded for print in LaTeX.
Text read from results files is made inert: a CSV cell that a spreadsheet would run as a formula
(starting with ``= + - @``, a tab or a carriage return, and not a number) gets a leading ``'``;
LaTeX specials are escaped.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from bench.results.leaderboard.model import Leaderboard, LeaderboardSection
from bench.results.leaderboard.ranking import (
    best_per_backbone,
    marked,
    metric_columns,
    metric_order,
    pivot,
    section_label,
)

CSV_COLUMNS = (
    "section",
    "task",
    "dataset",
    "kind",
    "name",
    "backbone",
    "layer",
    "t",
    "prompt",
    "noise_samples",
    "metric",
    "value",
    "low",
    "high",
    "marked",
    "source",
)
"""One CSV row per (entry, metric): kind is ``measured``, ``reported`` or ``chance``."""


def leaderboard_data(board: Leaderboard) -> dict[str, Any]:
    """The leaderboard as plain data (the ``--format json`` document)."""
    sections = board.sections
    labels, rows = pivot(sections)
    return {
        "format": "sbir-bench leaderboard",
        "version": 1,
        "sections": [_section_data(section) for section in sections],
        "pivot": {
            "columns": labels,
            "unit": "percent",
            "rows": [
                {
                    "rank": row.rank,
                    "configuration": row.configuration,
                    "values": row.values,
                    "mean": row.mean,
                    "borda": row.borda,
                }
                for row in rows
            ],
        },
    }


def _section_data(section: LeaderboardSection) -> dict[str, Any]:
    definition = section.definition
    shown = [section.metric(name) for name in metric_columns(section)]
    marks = {metric.name: marked(section.runs, metric) for metric in shown}
    measured = [
        {
            "kind": "measured",
            "name": run.name,
            "link": run.link,
            "config": run.result.config,
            "metrics": run.result.metrics,
            "intervals": (run.result.intervals or {}).get("bounds", {}),
            "marked": sorted(name for name, names in marks.items() if run.name in names),
            "backbone_note": run.result.backbone_note,
        }
        for run in section.runs
    ]
    reported = [
        {
            "kind": "reported",
            "method": row.method,
            "backbone": row.backbone,
            "source": row.source,
            "arxiv": row.arxiv,
            "protocol": row.protocol,
            "metrics": row.metrics,
        }
        for row in section.reported
    ]
    return {
        "label": section_label(section),
        "task": definition.task,
        "dataset": definition.dataset,
        "definition": {
            "options": definition.option_values,
            "limit": definition.limit,
            **dict(definition.facts),
            "standard": definition.standard,
        },
        "columns": list(section.columns),
        "metrics": {
            metric.name: {
                "unit": metric.unit.name,
                "higher_is_better": metric.higher_is_better,
                "digits": metric.info.digits,
                "aggregate": metric.info.aggregate,
            }
            for metric in shown
        },
        "chance": section.chance,
        "notes": list(section.notes),
        "best_per_backbone": [run.name for run in best_per_backbone(section)],
        "entries": measured + reported,
    }


def leaderboard_json(board: Leaderboard) -> str:
    """``--format json``: :func:`leaderboard_data`, indented, keys sorted."""
    return json.dumps(leaderboard_data(board), indent=2, sort_keys=True) + "\n"


def leaderboard_csv(board: Leaderboard) -> str:
    """``--format csv``: one row per (entry, metric) with its interval, in :data:`CSV_COLUMNS`."""
    buffer = io.StringIO()
    writer = _InertCsvWriter(buffer)
    writer.writerow(CSV_COLUMNS)
    for section in board.sections:
        label = section_label(section)
        head = [label, section.task, section.dataset]
        marks = {name: marked(section.runs, section.metric(name)) for name in metric_columns(section)}
        for run in section.runs:
            config = run.result.config
            settings = [config.get(key) for key in ("backbone", "layer", "t", "prompt", "noise_samples")]
            for name in metric_order(list(run.result.metrics), section.columns):
                value = run.result.metrics[name]
                bounds = run.interval(name) or (None, None)
                marked_text = "yes" if run.name in marks.get(name, ()) else "no"
                writer.writerow(
                    [
                        *head,
                        "measured",
                        run.name,
                        *map(_cell, settings),
                        name,
                        repr(value),
                        *map(_cell, bounds),
                        marked_text,
                        run.link,
                    ]
                )
        for row in section.reported:
            for name in metric_order(list(row.metrics), section.columns):
                value = row.metrics[name]
                source = row.source + (f" (arXiv:{row.arxiv})" if row.arxiv else "")
                writer.writerow(
                    [
                        *head,
                        "reported",
                        row.method,
                        row.backbone,
                        "",
                        "",
                        "",
                        "",
                        name,
                        repr(value),
                        "",
                        "",
                        "no",
                        source,
                    ]
                )
        for name, value in sorted(((section.chance or {}).get("metrics") or {}).items()):
            method = section.chance.get("methods", {}).get(name, "")
            writer.writerow(
                [*head, "chance", "chance", "", "", "", "", "", name, repr(value), "", "", "no", method]
            )
    return buffer.getvalue()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP's list for CSV injection)."""


class _InertCsvWriter:
    """A CSV writer whose text cells cannot become spreadsheet formulas (see :func:`inert_cell`)."""

    def __init__(self, buffer: io.StringIO) -> None:
        self._writer = csv.writer(buffer, lineterminator="\n")

    def writerow(self, cells: list[str] | tuple[str, ...]) -> None:
        self._writer.writerow([inert_cell(cell) for cell in cells])


def inert_cell(text: str) -> str:
    """``text`` with a leading ``'`` when it starts as a formula would and is not a number
    (``-5`` stays a number; ``=HYPERLINK(...)`` becomes ``'=HYPERLINK(...)``)."""
    return "'" + text if text.startswith(FORMULA_STARTS) and not _is_number(text) else text


def _is_number(text: str) -> bool:
    """Whether ``text`` is a finite number as written (no surrounding whitespace)."""
    try:
        return text == text.strip() and math.isfinite(float(text))
    except ValueError:
        return False


def _cell(value: object) -> str:
    """A CSV cell: empty for None, ``repr`` for floats (round-trips), ``str`` otherwise."""
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


LATEX_SPECIALS = {  # and what would be read as more than text: [ ] * after \\ or \midrule, OT1's < > |
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "[": "{[}",
    "]": "{]}",
    "*": "{*}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}


def latex_text(value: object) -> str:
    """``value`` as LaTeX text: every special character escaped, control characters dropped."""
    text = "".join(char for char in str(value) if char.isprintable())
    return "".join(LATEX_SPECIALS.get(char, char) for char in text)


def leaderboard_latex(board: Leaderboard) -> str:
    """``--format latex``: per section, the best configuration of each backbone as a booktabs table
    (needs ``\\usepackage{booktabs}``): paper columns with 95% intervals, marked values in bold, the
    chance row in italics."""
    out = ["% Generated by `bench leaderboard --format latex`; needs \\usepackage{booktabs}."]
    for section in board.sections:
        if not section.runs:
            continue
        columns = list(section.columns) or [section.main_metric]
        runs = best_per_backbone(section)
        marks = {name: marked(runs, section.metric(name)) for name in columns}
        digits = {name: section.metric(name).info.digits for name in columns}
        out += [
            "\\begin{table}[t]",
            "\\centering",
            f"\\caption{{{latex_text(section_label(section))} ({latex_text(section.task)}): "
            "best configuration per backbone; 95\\% bootstrap intervals; bold: best or overlapping it.}",
            "\\begin{tabular}{l l l l " + "r " * len(columns) + "}",
            "\\toprule",
            " & ".join(["Backbone", "Layer", "$t$", "Prompt", *map(latex_text, columns)]) + " \\\\",
            "\\midrule",
        ]
        for run in runs:
            config = run.result.config
            cells = [
                latex_text(config.get(key, "")) if config.get(key) is not None else "--"
                for key in ("backbone", "layer", "t", "prompt")
            ]
            for name in columns:
                value = run.result.metrics.get(name)
                if value is None:
                    cells.append("--")
                    continue
                text = f"{value:.{digits[name]}f}"
                text = f"\\textbf{{{text}}}" if run.name in marks[name] else text
                bounds = run.interval(name)
                if bounds:
                    low, high = (f"{bound:.{digits[name]}f}" for bound in bounds)
                    text += f" {{\\scriptsize [{low}, {high}]}}"
                cells.append(text)
            out.append(" & ".join(cells) + " \\\\")
        if section.chance:
            chance = section.chance["metrics"]
            cells = ["\\textit{chance}", "", "", ""]
            cells += [
                f"\\textit{{{chance[name]:.{digits[name]}f}}}" if name in chance else "--" for name in columns
            ]
            out += ["\\midrule", " & ".join(cells) + " \\\\"]
        out += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(out).rstrip("\n") + "\n"
