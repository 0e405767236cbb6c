"""``bench run --shard I/N``: the I-th of N shares of a study's configurations, for N jobs (a SLURM
array, say) on one shared feature cache.

Configurations are split by extraction group (:func:`~bench.plan.identity.group_key`: backbone,
weights, image size, dataset, prompt, query texts): every configuration of a group goes to one
shard, so each group's images are extracted by one job (one pass per timestep), and two jobs never
wait for each other on a store. The G distinct groups, in plan order (backbone by backbone), are
cut into N runs of consecutive groups whose sizes differ by one at most: group k (from 0) goes to
shard ``k * N // G + 1``, so a job loads few backbones. The same command line gives every job the
same plan, so the shards are disjoint and together are the whole study (with fewer groups than
shards, some shards have nothing to run).
"""

from __future__ import annotations

import re
from dataclasses import replace

from bench.api.errors import BenchError
from bench.plan.identity import group_key
from bench.plan.study import StudyPlan

SHARD_PATTERN = re.compile(r"([0-9]{1,6})/([0-9]{1,6})")
SHARD_HINT = "Write --shard I/N with 1 <= I <= N, e.g. --shard 1/4 ... --shard 4/4 for four jobs."


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``.

    Raises:
        BenchError: not ``I/N`` with ``1 <= I <= N``.
    """
    match = SHARD_PATTERN.fullmatch(text.strip())
    index, count = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    if not 1 <= index <= count:
        raise BenchError(f"--shard {text!r} is not a share of the sweep.", SHARD_HINT)
    return index, count


def shard_of_groups(plan: StudyPlan, count: int) -> dict[tuple, int]:
    """The shard (1..``count``) of each extraction group of ``plan``, by group key."""
    keys = dict.fromkeys(group_key(run) for run in plan.runs)
    return {key: position * count // len(keys) + 1 for position, key in enumerate(keys)}


def shard_plan(plan: StudyPlan, index: int, count: int) -> StudyPlan:
    """The configurations of ``plan`` that shard ``index`` of ``count`` runs (see the module
    docstring); its sweeps keep their order (a sweep may be left with none).

    Raises:
        BenchError: the plan scores ensembles, which need every member's descriptors in one job.
    """
    if count > 1 and any(sweep.ensembles for sweep in plan.sweeps):
        raise BenchError(
            "--shard splits a sweep's configurations across jobs, and --ensemble combines them in one.",
            "Run the shards without --ensemble, then the sweep once with --ensemble and no --shard: "
            "its descriptors all come from the cache, so it extracts nothing.",
        )
    shards = shard_of_groups(plan, count)
    sweeps = [
        replace(sweep, runs=[run for run in sweep.runs if shards[group_key(run)] == index])
        for sweep in plan.sweeps
    ]
    return replace(plan, sweeps=sweeps)
