"""Results files of a sweep -> one grid of a metric over layer x timestep per (dataset, backbone).

Pure Python (no numpy, no matplotlib): a wrong directory or metric fails in a fraction of a second,
before any plotting library is imported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench import BenchError, EvaluationSpecs, Registry, natural_key
from bench_plots.labels import OPTIONS, options_text, variant_labels
from bench_plots.metric_values import MetricValues, default_specs, metric_facts
from bench_plots.result_facts import chance_of, chosen_metric, filtered, interval_of, interval_text

if TYPE_CHECKING:  # results files are read (and pydantic imported) only when a plot is drawn
    from bench import RunResult

REFERENCE_T = 273  # Koley et al.'s operating point (CVPR 2024), drawn as a reference
AXES = ("dataset", "backbone", "layer", "t")  # what a panel's grid and the panel itself are keyed by
LayerRank = Callable[[str, str], tuple]  # (backbone id, layer name) -> sort key


@dataclass(frozen=True)
class SweepPanel(MetricValues):
    """One metric over layer x timestep for one dataset and backbone (one figure panel).

    Attributes:
        dataset, backbone, task: what the runs measured.
        metric: the metric shown (a key of the results files' ``metrics``).
        unit_name: its registered unit (``fraction``, ``percentage``, ``rank``).
        higher_is_better: its registered direction (the best cell is the largest, or the smallest).
        layers: the grid's rows, in display order.
        timesteps: the grid's columns, ascending.
        values: ``(layer, t) -> metric value``; cells never run are absent.
        variant: ``(setting, value)`` pairs that tell this panel apart from other panels of the same
            dataset and backbone (e.g. two prompts in one results folder); empty when there is one.
        note: the backbone's note from the results (e.g. that its weights are random), or None.
        options: the dataset options as text (``num_unseen=4, photos_per_class=8``); ``""`` for
            the dataset's defaults.
        chance: the metric's expected value under a random ranking of this gallery (the results'
            ``chance``), or None when the results files do not have it.
        chance_method: how ``chance`` was obtained (``exact``, ``simulated, 1000 rankings``).
        bounds: ``(layer, t) -> (low, high)``: the confidence interval of each cell that has one.
        interval: what ``bounds`` are, in words (``95% interval: bootstrap over queries, 1000
            resamples``); None when no cell has one.
    """

    dataset: str
    backbone: str
    task: str
    metric: str
    layers: tuple[str, ...]
    timesteps: tuple[int, ...]
    values: dict[tuple[str, int], float]
    variant: tuple[tuple[str, str], ...] = ()
    note: str | None = None
    options: str = ""
    chance: float | None = None
    chance_method: str | None = None
    bounds: dict[tuple[str, int], tuple[float, float]] = field(default_factory=dict)
    interval: str | None = None
    unit_name: str = "fraction"
    higher_is_better: bool = True

    @property
    def best(self) -> tuple[str, int, float]:
        """``(layer, t, value)`` of the best value in the metric's direction (ties: first in
        row-major display order)."""
        cells = [(layer, t) for layer in self.layers for t in self.timesteps if (layer, t) in self.values]
        sign = 1.0 if self.higher_is_better else -1.0
        layer, t = max(cells, key=lambda cell: sign * self.values[cell])
        return layer, t, self.values[(layer, t)]


def forward_order(registry: Registry) -> LayerRank:
    """Rank layers as the backbone registers its taps (forward order), then fused taps and selectors
    by name; layers of unknown backbones by name."""

    def rank(backbone: str, layer: str) -> tuple:
        names = registry.backbones.get(backbone).layer_names if backbone in registry.backbones else ()
        return (names.index(layer), []) if layer in names else (len(names), natural_key(layer))

    return rank


def load_sweep(
    results_dir: Path,
    *,
    specs: EvaluationSpecs | None = None,
    metric: str | None = None,
    datasets: Sequence[str] = (),
    backbones: Sequence[str] = (),
    layer_rank: LayerRank | None = None,
) -> list[SweepPanel]:
    """The panels of every (dataset, backbone) sweep found below ``results_dir``.

    Args:
        results_dir: a ``bench run --output-dir`` folder (searched recursively).
        specs: the registered metrics and tasks the files are read with (default: the installed
            plugins').
        metric: the metric to show; default: each dataset's first paper column.
        datasets, backbones: keep only these (empty: all).
        layer_rank: sort key of a layer within a backbone (default: natural order of names).

    Raises:
        BenchError: missing folder, unreadable results file, no results with a timestep, an unknown
            filter value, or a metric a panel's results do not have (the message lists valid ones).
    """
    specs = specs or default_specs()
    results = _read_results(Path(results_dir), specs)
    results = filtered(results, "dataset", datasets)
    results = filtered(results, "backbone", backbones)
    swept = swept_results(results)
    if not swept:
        without = sorted({str(result.config.get("backbone")) for result in results})
        raise BenchError(
            f"No layer x timestep results in {str(results_dir)!r}: the backbones there "
            f"({', '.join(without)}) have no diffusion timestep.",
            "Run a sweep of a diffusion backbone first, e.g. "
            "`bench run --backbone sd-tiny --layer up0 --layer up1 --t 50 --t 273`.",
        )
    return sweep_panels(swept, specs=specs, metric=metric, layer_rank=layer_rank)


def swept_results(results: Sequence[RunResult]) -> list[RunResult]:
    """The results that are cells of a layer x timestep grid: those with a timestep, but no
    ensemble (`bench run --ensemble` combines cells of a grid: it is no cell of its own)."""
    return [r for r in results if r.config.get("t") is not None and "ensemble" not in r.config]


def sweep_panels(
    results: Sequence[RunResult],
    *,
    specs: EvaluationSpecs,
    metric: str | None = None,
    layer_rank: LayerRank | None = None,
) -> list[SweepPanel]:
    """One panel per (dataset, backbone, other settings) of ``results`` (each with an integer
    timestep; arguments as :func:`load_sweep`)."""
    rank = layer_rank or (lambda backbone, layer: (natural_key(layer),))
    groups: dict[tuple[str, str, str], list[RunResult]] = {}
    for result in results:
        groups.setdefault(_group_key(result), []).append(result)
    variants = variant_labels(groups)
    return [
        _panel(members, metric, variants[key], rank, specs)
        for key, members in sorted(groups.items(), key=lambda item: item[0])
    ]


def is_figure(panel: SweepPanel) -> bool:
    """Whether a panel is more than one number (two layers or two timesteps)."""
    return len(panel.layers) > 1 or len(panel.timesteps) > 1


def plottable(panels: Sequence[SweepPanel], results_dir: Path) -> tuple[list[SweepPanel], list[SweepPanel]]:
    """(panels to draw, panels left out): a panel of one layer at one timestep is one number, which
    is a leaderboard row, not a figure.

    Raises:
        BenchError: when every panel is a single number (the message gives them).
    """
    kept = [p for p in panels if is_figure(p)]
    single = [p for p in panels if p not in kept]
    if not kept:
        numbers = "; ".join(
            f"{p.backbone} {p.layers[0]} at t = {p.timesteps[0]} on {p.dataset}: "
            f"{p.metric} {p.format(p.best[2])}"
            for p in single[:4]
        )
        more = f" and {len(single) - 4} more" if len(single) > 4 else ""
        raise BenchError(
            f"Nothing to plot in {str(results_dir)!r}: each dataset and backbone there has results of "
            f"one layer at one timestep ({numbers}{more}), and one number is no heatmap or curve.",
            "Sweep two or more --layer or --t values into the folder (e.g. `bench run --backbone "
            "sd-tiny --layer up0 --layer up1 --t 50 --t 273 --output-dir DIR`), or compare single "
            "configurations with `bench leaderboard DIR`.",
        )
    return kept, single


def _read_results(results_dir: Path, specs: EvaluationSpecs) -> list[RunResult]:
    """Every results file below ``results_dir``; BenchError for a missing folder or a bad file."""
    from bench import find_result_files, read_result

    if not results_dir.is_dir():
        raise BenchError(
            f"Results directory {str(results_dir)!r} does not exist.",
            "Pass the --output-dir of a `bench run` sweep (default: results).",
        )
    paths = find_result_files(results_dir)
    if not paths:
        raise BenchError(
            f"No results files in {str(results_dir)!r}.",
            "Run a sweep into it first: `bench run --layer up0 --layer up1 --t 50 --t 273 --output-dir DIR`.",
        )
    results = [
        read_result(path, specs) for path in paths
    ]  # each checked by the schema (BenchError naming it)
    for path, result in zip(paths, results, strict=True):
        t = result.config.get("t")
        if isinstance(t, str) and "ensemble" not in result.config:  # an ensemble joins its members' t
            raise BenchError(
                f"Results file {str(path)!r} has t = {t!r} (text), not a diffusion timestep.",
                "A sweep's timesteps are integers (`bench run --t 50`); fix that file or move it out "
                "of the folder.",
            )
    return results


def _group_key(result: RunResult) -> tuple[str, str, str]:
    """(dataset, backbone, every other setting as canonical JSON): runs that share one grid."""
    rest = {key: value for key, value in result.config.items() if key not in AXES}
    return str(result.config["dataset"]), str(result.config["backbone"]), json.dumps(rest, sort_keys=True)


def _panel(
    members: list[RunResult],
    metric: str | None,
    variant: tuple[tuple[str, str], ...],
    rank: LayerRank,
    specs: EvaluationSpecs,
) -> SweepPanel:
    """The grid of ``members`` (one group) for ``metric`` (default: the first paper column)."""
    first = members[0]
    dataset, backbone = str(first.config["dataset"]), str(first.config["backbone"])
    chosen = chosen_metric(members, metric, f"{backbone} on {dataset}")
    values: dict[tuple[str, int], float] = {}
    bounds: dict[tuple[str, int], tuple[float, float]] = {}
    seen: set[tuple[str, int]] = set()
    for result in members:
        cell = (str(result.config["layer"]), int(result.config["t"]))
        if cell in seen:
            raise BenchError(
                f"Two results files hold the same configuration ({result.name}).",
                "Keep one copy: `bench run` writes a configuration to one path, so the other is a copy.",
            )
        seen.add(cell)
        value = result.metrics.get(chosen)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values[cell] = float(value)
            interval = interval_of(result, chosen)
            if interval is not None:
                bounds[cell] = interval
    if not values:
        raise BenchError(f"No result of {backbone} on {dataset} has a number for {chosen!r}.")
    return SweepPanel(
        dataset=dataset,
        backbone=backbone,
        task=first.task,
        metric=chosen,
        layers=tuple(sorted({layer for layer, _ in values}, key=lambda layer: rank(backbone, layer))),
        timesteps=tuple(sorted({t for _, t in values})),
        values=values,
        variant=variant,
        note=first.backbone_note,
        options=options_text(first.config.get(OPTIONS)),
        **chance_of(members, chosen),
        bounds=bounds,
        interval=interval_text(members, chosen),
        **metric_facts(specs, chosen),
    )
