"""Feature ensembles: the configurations of one sweep on one dataset combined into one more result.

A sweep's configurations on a dataset (several timesteps, layers, prompts, probes or backbones) are the
*members* of its ensemble. Every member's descriptors are L2-normalised first, then combined:

* ``mean``: the average of the members' normalised descriptors (members of equal dimension only);
* ``concat``: the members' normalised descriptors side by side;
* ``score-sum``: similarity = sum_i w_i * cos_i, a weighted sum of the members' cosine similarities.

Scoring L2-normalises descriptors again (``bench.evaluation.protocol.evaluate``), so ``mean`` ranks by the
cosine of the averaged descriptors, and ``concat`` (every row has norm sqrt(M) for M members) ranks
by sum_i cos_i / M: the same ranking as ``score-sum`` with equal weights.

An ensemble is built from the descriptors the sweep already holds (read back from the feature
cache), so adding it to a finished sweep extracts nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bench.api.choices import ENSEMBLE_METHODS
from bench.api.errors import BenchError
from bench.config.run_config import SweepSpec
from bench.plan.runs import PlannedRun

SUGGEST_SWEEP = (
    "Sweep several configurations: repeat --t, --layer, --prompt, --probe or --backbone (e.g. --t 50 "
    "--t 200)."
)


@dataclass(frozen=True)
class EnsemblePlan:
    """The ensemble of one dataset of a sweep.

    Attributes:
        method: ``mean``, ``concat`` or ``score-sum``.
        weights: score-sum: one weight per member (>= 0, not all 0); empty for the other methods.
        members: the dataset's configurations, in sweep order (at least two).
    """

    method: str
    weights: tuple[float, ...]
    members: tuple[PlannedRun, ...]


def describe_member(run: PlannedRun) -> str:
    """A configuration in one phrase, e.g. ``sd-tiny layer up1 t=200 prompt none`` (`` probe linear``
    with a probe)."""
    t = "" if run.t is None else f" t={run.t}"
    probe = "" if run.probe is None else f" probe {run.probe}"
    return f"{run.backbone.id} layer {run.layer.name}{t} prompt {run.prompt}{probe}"


def check_weights(weights: Sequence[float], members: Sequence[str], where: str = "") -> None:
    """Raise :class:`BenchError` unless ``weights`` are one finite weight >= 0 per member, not all 0.

    Args:
        weights: the score-sum weights, in sweep order.
        members: a description of each member (named in the message).
        where: where the ensemble is, for the message (e.g. `` on dataset 'synthetic'``).
    """
    if len(weights) != len(members):
        raise BenchError(
            f"--ensemble-weights gives {len(weights)} weight(s), and the ensemble{where} "
            f"has {len(members)} members: {'; '.join(members)}.",
            "Give one weight per member, in this order, e.g. --ensemble-weights "
            + ",".join(["1"] * len(members))
            + " (or leave it out: 1 each).",
        )
    if not all(math.isfinite(w) and w >= 0 for w in weights) or not any(weights):
        raise BenchError(
            f"--ensemble-weights {','.join(f'{w:g}' for w in weights)} is not valid: "
            "weights must be finite numbers >= 0, and not all 0.",
            "Give each member's weight, e.g. --ensemble-weights 1,0.5 (0 leaves a member out).",
        )


def check_equal_dims(members: Sequence[str], dims: Sequence[int]) -> None:
    """Raise :class:`BenchError` naming each member and its dimension when ``dims`` differ (``mean``)."""
    if len(set(dims)) > 1:
        listed = "; ".join(f"{member} (dim {dim})" for member, dim in zip(members, dims, strict=True))
        raise BenchError(
            f"--ensemble mean averages descriptors of one dimension, and the members differ: {listed}.",
            "Use --ensemble concat or --ensemble score-sum (any dimensions), or members of equal "
            "dimension (`bench list layers` shows each layer's channels).",
        )


def plan_ensembles(spec: SweepSpec, runs: Sequence[PlannedRun]) -> list[EnsemblePlan]:
    """One :class:`EnsemblePlan` per dataset of ``runs`` (none without ``spec.ensemble``), validated
    before anything is extracted.

    Raises:
        BenchError: an unknown method, weights without score-sum, a dataset with fewer than two
            configurations, unequal dimensions for ``mean``, or wrong score-sum weights.
    """
    method = spec.ensemble
    if method is None:
        if spec.ensemble_weights:
            raise BenchError("--ensemble-weights was given without --ensemble.", "Add --ensemble score-sum.")
        return []
    if method not in ENSEMBLE_METHODS:
        raise BenchError(
            f"Unknown ensemble method {method!r}.", f"Valid methods: {', '.join(ENSEMBLE_METHODS)}."
        )
    if spec.ensemble_weights and method != "score-sum":
        raise BenchError(
            f"--ensemble-weights applies to --ensemble score-sum only (got --ensemble {method}).",
            "Use --ensemble score-sum to weight members, or leave out --ensemble-weights.",
        )
    by_dataset: dict[str, list[PlannedRun]] = {}
    for run in runs:
        by_dataset.setdefault(run.dataset.id, []).append(run)
    plans = []
    for dataset, members in by_dataset.items():
        labels = [describe_member(run) for run in members]
        if len(members) < 2:
            raise BenchError(
                f"--ensemble {method} combines a sweep's configurations on each dataset, and dataset "
                f"{dataset!r} has only one: {labels[0]}.",
                SUGGEST_SWEEP,
            )
        if method == "mean":
            check_equal_dims(labels, [run.descriptor_dim for run in members])
        weights: tuple[float, ...] = ()
        if method == "score-sum":
            weights = spec.ensemble_weights or (1.0,) * len(members)
            check_weights(weights, labels, f" on dataset {dataset!r}")
        plans.append(EnsemblePlan(method, weights, tuple(members)))
    return plans
