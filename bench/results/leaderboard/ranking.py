"""Reading a ranking honestly: which values are the best or indistinguishable from it, the best
configuration of each backbone, and a cross-benchmark pivot with mean and Borda rank.

Best follows each metric's registered direction (larger, or for a lower-is-better metric such
as a rank, smaller). A value is *marked* (bold in markdown) when it is the best of its column among
measured runs, or when its 95% bootstrap interval overlaps the best value's interval: at the
benchmark's size the two cannot be told apart. Values without an interval are marked only when
equal to the best. Reported rows (no intervals, other code) are ranked beside measured ones but
never marked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bench.api.evaluation import ResolvedMetric
from bench.results.leaderboard.model import LeaderboardSection, Run, best_first, is_number, settings
from bench.results.leaderboard.sections import definition_label
from bench.results.naming import natural_key

PIVOT_EXCLUDED = ("dataset", "dataset_options", "limit")
"""Settings that belong to the benchmark, not to the configuration (a pivot row crosses them)."""


def marked(runs: list[Run] | tuple[Run, ...], metric: ResolvedMetric) -> set[str]:
    """Names of the runs whose ``metric`` is the best of ``runs`` or tied with it (see the module
    docstring)."""
    name = metric.name
    scored = [run for run in runs if is_number(run.result.metrics.get(name))]
    if not scored:
        return set()
    best = min(
        scored, key=lambda run: (metric.best_first(run.result.metrics[name]), run.name)
    )  # ties: first name
    best_value = best.result.metrics[name]
    best_bounds = best.interval(name)
    names = set()
    for run in scored:
        value = run.result.metrics[name]
        bounds = run.interval(name)
        if value == best_value or (bounds and best_bounds and _overlap(bounds, best_bounds, metric)):
            names.add(run.name)
    return names


def _overlap(bounds: tuple[float, float], best: tuple[float, float], metric: ResolvedMetric) -> bool:
    """Whether an interval reaches the best value's interval (from below for a higher-is-better
    metric, from above for a lower-is-better one)."""
    return bounds[1] >= best[0] if metric.higher_is_better else bounds[0] <= best[1]


def best_per_backbone(section: LeaderboardSection) -> list[Run]:
    """Each backbone's best run by the section's main metric (ties by run name), best first."""
    name = section.main_metric
    metric = section.metric(name) if name else None
    best: dict[str, Run] = {}
    for run in section.runs:  # already best first
        best.setdefault(str(run.result.config.get("backbone")), run)
    return sorted(best.values(), key=lambda run: (best_first(run.result.metrics.get(name), metric), run.name))


@dataclass(frozen=True)
class PivotRow:
    """One configuration across benchmarks: its main-metric value per section label (fractions as
    percentages), the mean over all sections (None unless it has every one and every column is a
    higher-is-better percentage), its Borda points."""

    configuration: dict[str, Any]
    values: dict[str, float]
    mean: float | None
    borda: float
    rank: int


def pivot_scale(metric: ResolvedMetric) -> float:
    """The factor a pivot cell applies to a value: to a percentage (fractions x100), else 1."""
    return metric.unit.to_percent or 1.0


def pivot_averages(metrics: list[ResolvedMetric]) -> bool:
    """Whether a mean across the pivot's columns means something: every column a percentage (or a
    fraction shown as one) where higher is better."""
    return all(metric.unit.to_percent is not None and metric.higher_is_better for metric in metrics)


def pivot(sections: list[LeaderboardSection]) -> tuple[list[str], list[PivotRow]]:
    """Section labels (columns) and configurations (rows) of the cross-benchmark pivot.

    Columns: every section with measured runs, its main metric; fractions are shown as percentages
    so a mean is in one unit (given only where every column is a higher-is-better percentage).
    Borda points: in each column a configuration earns one point per configuration it beats (in the
    metric's direction) and half a point per tie (MTEB's rank aggregation); rows are ordered by
    points, then mean, then label. A configuration measured twice in one section (e.g. at two
    precisions of the cache) shows its best value.
    """
    columns = [section for section in sections if section.runs and section.main_metric]
    labels = [section_label(section) for section in columns]
    metrics = [section.metric(str(section.main_metric)) for section in columns]
    values: dict[str, dict[str, float]] = {}
    configurations: dict[str, dict[str, Any]] = {}
    for label, section, metric in zip(labels, columns, metrics, strict=True):
        for run in section.runs:
            value = run.result.metrics.get(metric.name)
            if not is_number(value):
                continue
            config = settings(run.result.config, PIVOT_EXCLUDED)
            key = json.dumps(config, sort_keys=True, default=str)
            configurations[key] = config
            shown = pivot_scale(metric) * value
            row = values.setdefault(key, {})
            if label not in row or metric.better(shown, row[label]):
                row[label] = shown
    points = dict.fromkeys(values, 0.0)
    for label, metric in zip(labels, metrics, strict=True):
        present = {key: row[label] for key, row in values.items() if label in row}
        for key, value in present.items():
            points[key] += (
                sum(
                    1.0 if metric.better(value, other) else 0.5 if value == other else 0.0
                    for other in present.values()
                )
                - 0.5
            )
    averaged = pivot_averages(metrics)
    rows = []
    for key, row in values.items():
        mean = sum(row.values()) / len(row) if averaged and len(row) == len(labels) else None
        rows.append((key, row, mean))
    rows.sort(key=lambda item: (-points[item[0]], best_first(item[2], None), item[0]))
    ranked = [
        PivotRow(configurations[key], row, mean, points[key], rank)
        for rank, (key, row, mean) in enumerate(rows, start=1)
    ]
    return labels, ranked


def section_label(section: LeaderboardSection) -> str:
    """The section's unique label (set by :func:`build_sections`), else its definition's."""
    return section.label or definition_label(section.definition)


def metric_order(names: list[str], columns: tuple[str, ...]) -> list[str]:
    """The paper columns present in ``names``, then the others in natural order."""
    return [c for c in columns if c in names] + sorted(set(names) - set(columns), key=natural_key)


def metric_columns(section: LeaderboardSection) -> list[str]:
    """The paper columns, then every other metric key of the section's runs in natural order."""
    present = {name for run in section.runs for name in run.result.metrics}
    present |= {name for row in section.reported for name in row.metrics}
    return metric_order(sorted(present), section.columns)
