"""Reading a ranking honestly: which values are the best or indistinguishable from it, the best
configuration of each backbone, and a cross-benchmark pivot with mean and Borda rank.

A value is *marked* (bold in markdown) when it is the best of its column among measured runs, or
when its 95% bootstrap interval overlaps the best value's interval: at the benchmark's size the
two cannot be told apart. Values without an interval are marked only when equal to the best.
Reported rows (no intervals, other code) are ranked beside measured ones but never marked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bench.results.leaderboard.model import Run, Section, is_number, settings
from bench.results.leaderboard.sections import definition_label, descending
from bench.results.naming import natural_key

PIVOT_EXCLUDED = ("dataset", "dataset_options", "limit")
"""Settings that belong to the benchmark, not to the configuration (a pivot row crosses them)."""


def marked(runs: list[Run] | tuple[Run, ...], metric: str) -> set[str]:
    """Names of the runs whose ``metric`` is the best of ``runs`` or tied with it (see the module
    docstring)."""
    scored = [run for run in runs if is_number(run.result.metrics.get(metric))]
    if not scored:
        return set()
    best = min(scored, key=lambda run: (-run.result.metrics[metric], run.name))  # ties: the first name
    best_value = best.result.metrics[metric]
    best_bounds = best.interval(metric)
    names = set()
    for run in scored:
        value = run.result.metrics[metric]
        bounds = run.interval(metric)
        if value == best_value or (bounds and best_bounds and bounds[1] >= best_bounds[0]):
            names.add(run.name)
    return names


def best_per_backbone(section: Section) -> list[Run]:
    """Each backbone's best run by the section's main metric (ties by run name), best first."""
    metric = section.main_metric
    best: dict[str, Run] = {}
    for run in section.runs:  # already best first
        best.setdefault(str(run.result.config.get("backbone")), run)
    return sorted(best.values(), key=lambda run: (descending(run.result.metrics.get(metric)), run.name))


@dataclass(frozen=True)
class PivotRow:
    """One configuration across benchmarks: its main-metric value per section label (fractions as
    percentages), the mean over all sections (None unless it has every one), its Borda points."""

    configuration: dict[str, Any]
    values: dict[str, float]
    mean: float | None
    borda: float
    rank: int


def pivot(sections: list[Section]) -> tuple[list[str], list[PivotRow]]:
    """Section labels (columns) and configurations (rows) of the cross-benchmark pivot.

    Columns: every section with measured runs, its main metric; values are percentages (zs-sbir
    fractions x100) so a mean is in one unit. Borda points: in each column a configuration earns
    one point per configuration it beats and half a point per tie (MTEB's rank aggregation); rows
    are ordered by points, then mean, then label. A configuration measured twice in one section
    (e.g. at two precisions of the cache) shows its best value.
    """
    columns = [section for section in sections if section.runs and section.main_metric]
    labels = [section_label(section) for section in columns]
    values: dict[str, dict[str, float]] = {}
    configurations: dict[str, dict[str, Any]] = {}
    for label, section in zip(labels, columns, strict=True):
        for run in section.runs:
            value = run.result.metrics.get(section.main_metric)
            if not is_number(value):
                continue
            config = settings(run.result.config, PIVOT_EXCLUDED)
            key = json.dumps(config, sort_keys=True, default=str)
            configurations[key] = config
            percent = value if section.task == "fg-sbir" else 100.0 * value
            row = values.setdefault(key, {})
            row[label] = max(row.get(label, percent), percent)
    points = dict.fromkeys(values, 0.0)
    for label in labels:
        present = {key: row[label] for key, row in values.items() if label in row}
        for key, value in present.items():
            points[key] += (
                sum(1.0 if value > other else 0.5 if value == other else 0.0 for other in present.values())
                - 0.5
            )
    rows = []
    for key, row in values.items():
        mean = sum(row.values()) / len(row) if len(row) == len(labels) else None
        rows.append((key, row, mean))
    rows.sort(key=lambda item: (-points[item[0]], descending(item[2]), item[0]))
    ranked = [
        PivotRow(configurations[key], row, mean, points[key], rank)
        for rank, (key, row, mean) in enumerate(rows, start=1)
    ]
    return labels, ranked


def section_label(section: Section) -> str:
    """The section's unique label (set by :func:`build_sections`), else its definition's."""
    return section.label or definition_label(section.definition)


def metric_order(names: list[str], columns: tuple[str, ...]) -> list[str]:
    """The paper columns present in ``names``, then the others in natural order."""
    return [c for c in columns if c in names] + sorted(set(names) - set(columns), key=natural_key)


def metric_columns(section: Section) -> list[str]:
    """The paper columns, then every other metric key of the section's runs in natural order."""
    present = {name for run in section.runs for name in run.result.metrics}
    present |= {name for row in section.reported for name in row.metrics}
    return metric_order(sorted(present), section.columns)
