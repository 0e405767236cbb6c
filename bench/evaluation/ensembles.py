"""Combining the descriptors of a feature ensemble's members (see :mod:`bench.plan.ensembles`)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.api.choices import ENSEMBLE_METHODS
from bench.api.errors import BenchError
from bench.plan.ensembles import EnsemblePlan, check_equal_dims, check_weights
from bench.results.schema import RunResult


@dataclass(frozen=True)
class MemberDescriptors:
    """What a finished configuration contributes to an ensemble.

    Attributes:
        result: its scored result (name, configuration, backbone note).
        descriptors: (N, D) float32, one row per item of the dataset's queries then gallery.
        skipped: (row, reason) of the rows it could not read (their descriptors are zeros).
    """

    result: RunResult
    descriptors: np.ndarray
    skipped: list[tuple[int, str]]


def combine(method: str, descriptors: Sequence[np.ndarray], weights: Sequence[float] = ()) -> np.ndarray:
    """The ensemble descriptors of M members' descriptors of the same N items.

    Args:
        method: ``mean``, ``concat`` or ``score-sum``.
        descriptors: M arrays (N, D_i), one per member, rows in the same item order.
        weights: score-sum: M weights >= 0, not all 0 (empty: 1 each); ignored by the other methods.

    Returns:
        float32 rows built from the members' L2-normalised descriptors u_i:

        * ``mean``: (N, D) with D = D_1 = ... = D_M, the average of the u_i;
        * ``concat``: (N, sum D_i), [u_1, ..., u_M];
        * ``score-sum``: (N, sum D_i), [sqrt(w_1 / W) u_1, ..., sqrt(w_M / W) u_M] with W = sum w_i.
          The dot product of two such rows is sum_i w_i cos_i / W: the weighted sum of the members'
          cosine similarities, up to the positive factor 1 / W that changes no ranking. Because the
          weights are non-negative, score fusion is thus a plain dot product of these rows, and the
          exact streamed ranking (``bench.evaluation.ranking``) evaluate it without ever holding the
          Q x G similarity matrix. Rows have unit norm (unless a member's row is all zeros), so
          the evaluation's L2-normalisation leaves them unchanged.

    Raises:
        BenchError: ``mean`` of unequal dimensions, or invalid weights.
    """
    from bench.evaluation.protocol import (
        l2_normalise,  # imports torch (bench.evaluation.ranking): only when combining
    )

    units = [l2_normalise(np.asarray(member, dtype=np.float32)) for member in descriptors]
    names = [f"member {index}" for index in range(1, len(units) + 1)]
    if method == "mean":
        check_equal_dims(names, [unit.shape[1] for unit in units])
        return np.mean(np.stack(units), axis=0, dtype=np.float32)
    if method == "concat":
        return np.concatenate(units, axis=1)
    if method == "score-sum":
        weights = tuple(weights) or (1.0,) * len(units)
        check_weights(weights, names)
        total = sum(weights)
        return np.concatenate(
            [np.float32(math.sqrt(w / total)) * unit for w, unit in zip(weights, units, strict=True)], axis=1
        )
    raise BenchError(f"Unknown ensemble method {method!r}.", f"Valid methods: {', '.join(ENSEMBLE_METHODS)}.")


def skipped_by_any(members: Sequence[MemberDescriptors]) -> list[tuple[int, str]]:
    """(row, reason) of every row that some member could not read, by row: the ensemble scores only
    the rows every member has (the intersection of their valid rows)."""
    reasons: dict[int, str] = {}
    for member in members:
        for row, reason in member.skipped:
            reasons.setdefault(row, f"{reason} (in {member.result.name})")
    return sorted(reasons.items())


def _summary(values: Sequence[Any]) -> Any:
    """The members' common value, or their distinct values joined with ``", "`` in member order."""
    distinct = list({json.dumps(value, sort_keys=True): value for value in values}.values())
    if len(distinct) == 1:
        return distinct[0]
    return ", ".join("none" if value is None else str(value) for value in distinct)


def ensemble_config(plan: EnsemblePlan, members: Sequence[RunResult]) -> dict[str, Any]:
    """The configuration recorded for an ensemble's result.

    Every member setting holds the members' common value or their distinct values joined with
    ``", "`` (e.g. ``t = "50, 200"``); ``backbone`` reads ``ensemble(<method>): <backbones>``; and
    ``ensemble`` = ``{"method", "weights" (score-sum, else None), "members": [run names]}``, so the
    run name (a hash of the configuration) changes with any member.
    """
    keys = dict.fromkeys(key for member in members for key in member.config)
    config = {key: _summary([member.config.get(key) for member in members]) for key in keys}
    config["backbone"] = f"ensemble({plan.method}): {config['backbone']}"
    config["ensemble"] = {
        "method": plan.method,
        "weights": list(plan.weights) or None,
        "members": [member.name for member in members],
    }
    return config
