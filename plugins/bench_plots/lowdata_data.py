"""Results files of trained prompts -> a metric against the training data, one curve per configuration
(Koley et al.'s Figure 4, the low-data regime).

A result's place on the x axis is its training setting: ``train_fraction`` (a fraction of each
class's training items) or, where set, ``train_count`` (training items per class); the two make
panels of their own. Every other setting of its configuration (backbone, prompt, layer, t, the
other training settings, ...) picks its curve. Pure Python (no numpy, no matplotlib).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import BenchError, EvaluationSpecs
from bench_plots.labels import OPTIONS, options_text, setting_name, variant_labels
from bench_plots.metric_values import MetricValues, default_specs, metric_facts
from bench_plots.result_facts import chance_of, chosen_metric, filtered, interval_of, interval_text

if TYPE_CHECKING:
    from bench import RunResult

FRACTION, COUNT = "train_fraction", "train_count"
AXIS_LABELS = {FRACTION: "training data per class (%)", COUNT: "training items per class"}
# a result's own identity, not a setting its curve shares with the other points
NOT_A_SETTING = (FRACTION, COUNT, "prompt_content", "dataset")


@dataclass(frozen=True)
class LowDataCurve:
    """One configuration's metric at each amount of training data.

    Attributes:
        label: what the curve is (backbone, prompt, and the settings that tell it from the others).
        values: x (a fraction, or items per class) -> metric value.
        bounds: x -> the metric's confidence interval ``(low, high)``, where the results have one.
        kept: x -> the training sketches per class the prompt was trained on (mean over classes),
            where the results record them.
    """

    label: str
    values: dict[float, float]
    bounds: dict[float, tuple[float, float]] = field(default_factory=dict)
    kept: dict[float, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LowDataPanel(MetricValues):
    """The curves of one dataset and x axis (``train_fraction`` or ``train_count``), the metric's
    registered unit and direction."""

    dataset: str
    task: str
    metric: str
    axis: str
    curves: tuple[LowDataCurve, ...]
    options: str = ""
    chance: float | None = None
    chance_method: str | None = None
    interval: str | None = None
    unit_name: str = "fraction"
    higher_is_better: bool = True

    @property
    def xs(self) -> tuple[float, ...]:
        """Every x of the panel's curves, ascending."""
        return tuple(sorted({x for curve in self.curves for x in curve.values}))


def read_results(paths: Sequence[Path], specs: EvaluationSpecs) -> list[RunResult]:
    """Every results file of ``paths`` (files, or folders searched recursively), read with the
    registered metrics and tasks ``specs``.

    Raises:
        BenchError: a path that does not exist, a folder without results files, or a bad file.
    """
    from bench import find_result_files, read_result

    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            found = find_result_files(path)
            if not found:
                raise BenchError(
                    f"No results files in {str(path)!r}.",
                    "Run a low-data study into it first: "
                    "`bench run --config koley2024/low-data-synthetic --output-dir DIR`.",
                )
            files += found
        else:
            raise BenchError(
                f"Results path {str(path)!r} does not exist.",
                "Pass the --output-dir of a `bench run` (or results files in it).",
            )
    return [read_result(path, specs) for path in dict.fromkeys(files)]


def load_lowdata(
    paths: Sequence[Path],
    *,
    specs: EvaluationSpecs | None = None,
    metric: str | None = None,
    datasets: Sequence[str] = (),
) -> list[LowDataPanel]:
    """The low-data panels of the results below ``paths`` (results without a trained prompt and
    ensembles are left out: they have no training data to vary).

    Raises:
        BenchError: as :func:`read_results`; no result of a trained prompt; an unknown dataset or
            metric; two results of one configuration at the same x.
    """
    specs = specs or default_specs()
    results = filtered(read_results(paths, specs), "dataset", datasets)
    trained = [r for r in results if r.config.get("train") is not None and "ensemble" not in r.config]
    if not trained:
        raise BenchError(
            f"None of the {len(results)} results there is of a trained prompt, so none has training "
            "data to plot against.",
            "Run a study that trains prompts on part of the data, e.g. "
            "`bench run --config koley2024/low-data-synthetic`, and pass its --output-dir.",
        )
    panels: dict[tuple[str, str], list[RunResult]] = {}
    for result in trained:
        panels.setdefault((str(result.config["dataset"]), _axis(result)), []).append(result)
    return [
        _panel(dataset, axis, members, metric, specs) for (dataset, axis), members in sorted(panels.items())
    ]


def _axis(result: RunResult) -> str:
    return COUNT if result.config["train"].get(COUNT) is not None else FRACTION


def _x(result: RunResult, axis: str) -> float:
    return float(result.config["train"].get(axis, 1.0))


def _settings(result: RunResult) -> dict[str, Any]:
    """The result's configuration with its training settings flattened (``train.epochs``), without
    what places it on the x axis."""
    config = {key: value for key, value in result.config.items() if key not in ("train", *NOT_A_SETTING)}
    train = result.config["train"]
    config.update({f"train.{key}": value for key, value in train.items() if key not in NOT_A_SETTING})
    return config


def _kept_per_class(result: RunResult) -> float | None:
    """The training sketches per class the result's prompt was trained on, from its results file."""
    kept = (result.dataset.get("training_data") or {}).get("kept")
    return kept["sketches"] / kept["classes"] if kept and kept["classes"] else None


def _panel(
    dataset: str, axis: str, members: list[RunResult], metric: str | None, specs: EvaluationSpecs
) -> LowDataPanel:
    chosen = chosen_metric(members, metric, f"trained prompts on {dataset}")
    curves: dict[tuple[str, str, str], list[RunResult]] = {}
    for result in members:
        curves.setdefault((dataset, axis, json.dumps(_settings(result), sort_keys=True)), []).append(result)
    labels = variant_labels(curves)
    return LowDataPanel(
        dataset=dataset,
        task=members[0].task,
        metric=chosen,
        axis=axis,
        curves=tuple(
            curve
            for key, results in sorted(curves.items())
            if (curve := _curve(results, chosen, axis, labels[key])).values
        ),
        options=options_text(members[0].config.get(OPTIONS)),
        **chance_of(members, chosen),
        interval=interval_text(members, chosen),
        **metric_facts(specs, chosen),
    )


def _curve(
    results: list[RunResult], metric: str, axis: str, variant: tuple[tuple[str, str], ...]
) -> LowDataCurve:
    first = results[0].config
    shown = [(name, value) for name, value in variant if name not in ("backbone", "prompt")]
    label = ", ".join(
        [f"{first['backbone']} {first['prompt']} prompt", *(f"{setting_name(n)} {v}" for n, v in shown)]
    )
    values: dict[float, float] = {}
    bounds: dict[float, tuple[float, float]] = {}
    kept: dict[float, float] = {}
    for result in results:
        x = _x(result, axis)
        if x in values:
            raise BenchError(
                f"Two results files hold {label} at {setting_name(axis)} {x:g} ({result.name}).",
                "Keep one of them: a configuration trained on the same data is one point.",
            )
        value = result.metrics.get(metric)
        if value is None:
            continue
        values[x] = float(value)
        interval = interval_of(result, metric)
        if interval is not None:
            bounds[x] = interval
        per_class = _kept_per_class(result)
        if per_class is not None:
            kept[x] = per_class
    return LowDataCurve(label, values, bounds, kept)


def x_text(axis: str, x: float) -> str:
    """``25%`` (a fraction), ``4 per class`` (a count)."""
    return f"{100 * x:g}%" if axis == FRACTION else f"{x:g} per class"


def curve_summary(panel: LowDataPanel, curve: LowDataCurve) -> str:
    """``sd-mini visual prompt: 25% 0.210 [0.180, 0.240] (trained on 2 sketches per class); ...``."""
    points = []
    for x, value in sorted(curve.values.items()):
        point = f"{x_text(panel.axis, x)} {panel.format(value)}"
        if x in curve.bounds:
            low, high = (panel.format(bound) for bound in curve.bounds[x])
            point += f" [{low}, {high}]"
        if x in curve.kept:
            point += f" (trained on {curve.kept[x]:g} sketches per class)"
        points.append(point)
    return f"{curve.label}: " + "; ".join(points)
