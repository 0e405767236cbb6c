"""What every figure reads from a group of results files: the metric to show, its chance level and
what its intervals are, and the results of the datasets or backbones asked for. Pure Python."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench import BenchError, closest_match, natural_key

if TYPE_CHECKING:
    from bench import RunResult


def filtered(results: list[RunResult], axis: str, wanted: Sequence[str]) -> list[RunResult]:
    """The results whose ``config[axis]`` is in ``wanted`` (all when empty); unknown values are an error."""
    if not wanted:
        return results
    present = sorted({str(result.config.get(axis)) for result in results})
    for value in wanted:
        if value not in present:
            suggestion = closest_match(value, present)
            guess = f" Did you mean {suggestion!r}?" if suggestion else ""
            raise BenchError(
                f"No results of {axis} {value!r} in this folder.{guess}",
                f"{axis.capitalize()}s with results: {', '.join(present)}.",
            )
    return [result for result in results if str(result.config.get(axis)) in wanted]


def chosen_metric(members: list[RunResult], metric: str | None, what: str) -> str:
    """``metric``, or (None) the first paper column of the dataset of ``members`` that they hold.

    Args:
        what: the results in words, for messages (``sd-tiny on synthetic``).

    Raises:
        BenchError: ``members`` hold no metric, or not ``metric`` (the message lists those they hold).
    """
    first = members[0]
    dataset = str(first.config["dataset"])
    present = {name for result in members for name in result.metrics}
    columns = [name for name in first.dataset.get("columns", []) if name in present]
    available = [*columns, *sorted(present - set(columns), key=natural_key)]  # paper columns first
    if not available:
        raise BenchError(f"The results of {what} hold no metrics.", "Re-run them with `bench run`.")
    chosen = metric or available[0]
    if chosen not in available:
        suggestion = closest_match(chosen, available)
        guess = f" Did you mean {suggestion!r}?" if suggestion else ""
        raise BenchError(
            f"Unknown metric {chosen!r} for dataset {dataset!r}.{guess}",
            f"Metrics of {dataset}: {', '.join(available)}. Pass one with --metric, "
            "or keep one dataset with --dataset.",
        )
    return chosen


def chance_of(members: list[RunResult], metric: str) -> dict[str, float | str | None]:
    """``chance`` and ``chance_method`` of ``metric`` from the first result that records it (the
    members share one gallery, so one chance level)."""
    for result in members:
        chance = result.chance or {}
        value = chance.get("metrics", {}).get(metric)
        if value is None:
            continue
        method = chance.get("methods", {}).get(metric, "")
        rankings = chance.get("rankings")
        if method == "simulated" and rankings:
            method = f"simulated, {rankings} random rankings"
        return {"chance": float(value), "chance_method": method or None}
    return {"chance": None, "chance_method": None}


def interval_of(result: RunResult, metric: str) -> tuple[float, float] | None:
    """The confidence interval ``(low, high)`` of ``metric`` in ``result``, or None."""
    bounds = (result.intervals or {}).get("bounds", {}).get(metric)
    return None if bounds is None else (float(bounds[0]), float(bounds[1]))


def interval_text(members: list[RunResult], metric: str) -> str | None:
    """``95% interval: bootstrap over queries, 1000 resamples`` from the first result with bounds."""
    for result in members:
        intervals = result.intervals or {}
        if metric in intervals.get("bounds", {}):
            unit = {"query": "queries", "class": "classes"}.get(intervals["unit"], intervals["unit"])
            return (
                f"{100 * intervals['level']:g}% interval: {intervals['method']} over {unit}, "
                f"{intervals['resamples']} resamples"
            )
    return None
