"""`bench run --shard I/N`: a sweep split by extraction group across jobs on one shared cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import bench
from bench.config.run_config import SweepSpec
from bench.plan.identity import group_key, results_config
from bench.plan.shards import parse_shard, shard_plan
from bench.plan.study import plan_study
from bench.results.naming import run_name
from tests.helpers.cli import REPO, run_bench

SWEEP = SweepSpec(
    backbone=("sd-tiny", "vit-tiny", "clip-tiny"),
    layer=("sd-tiny=up0", "sd-tiny=up1"),
    t=(50, 200),
    prompt=("none", "text:a photo of a"),
    dataset=("synthetic", "synthetic-fg"),
    dataset_options={"num_classes": 6, "num_unseen": 3, "photos_per_class": 2},
)


@pytest.fixture(scope="module")
def plan():
    return plan_study(SWEEP, bench.plugin_registry())


def names(runs) -> list[str]:
    return [run_name(results_config(run)) for run in runs]


@pytest.mark.parametrize("count", [1, 2, 3, 5, 16])
def test_the_shards_are_the_whole_sweep_without_overlap(plan, count):
    whole = names(plan.runs)
    shards = [shard_plan(plan, index, count).runs for index in range(1, count + 1)]
    assert sorted(name for runs in shards for name in names(runs)) == sorted(whole)  # each run once
    for index, runs in enumerate(shards, start=1):
        assert names(runs) == [name for name in whole if name in set(names(runs))]  # in plan order
        others = {group_key(run) for other in shards[: index - 1] + shards[index:] for run in other}
        assert not {group_key(run) for run in runs} & others  # a group is extracted by one job
        assert names(shard_plan(plan, index, count).runs) == names(runs)  # the same in every job
    groups = len({group_key(run) for run in plan.runs})
    assert groups == 2 * 2 + 2 + 2  # sd-tiny: datasets x prompts; vit-tiny, clip-tiny take no text
    sizes = [len({group_key(run) for run in runs}) for runs in shards]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == groups


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "a/b", "1"])
def test_a_shard_that_is_no_share_is_refused(text):
    with pytest.raises(bench.BenchError, match="is not a share of the sweep"):
        parse_shard(text)


def test_shards_and_ensembles_are_refused_together():
    result = run_bench(
        "run", "--backbone", "vit-tiny", "--backbone", "clip-tiny", "--dataset", "synthetic",
        "--ensemble", "concat", "--shard", "1/2",
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "--shard splits a sweep's configurations across jobs" in result.stderr


@pytest.mark.slow
def test_two_shards_run_at_once_on_one_cache_and_make_the_whole_sweep(tmp_path):
    """What N array jobs of one sweep do: each runs its share at the same time on the shared cache."""
    sweep = [
        "run", "--backbone", "vit-tiny", "--backbone", "clip-tiny", "--dataset", "synthetic",
        "--dataset", "synthetic-fg", "--dataset-option", "num_unseen=3",
        "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    jobs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench",
                *sweep,
                "--output-dir",
                str(tmp_path / "out"),
                "--shard",
                f"{i}/2",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in (1, 2)
    ]
    outputs = [job.communicate(timeout=600) for job in jobs]
    for job, (_, stderr) in zip(jobs, outputs, strict=True):
        assert job.returncode == 0, stderr
    assert "shard 1/2: 2 of 4" in outputs[0][1] and "loading backbone clip-tiny" not in outputs[0][1]
    whole = run_bench(*sweep, "--output-dir", str(tmp_path / "whole"), "--json")
    assert whole.returncode == 0, whole.stderr
    assert "extracting" not in whole.stderr  # the shards extracted everything, once
    expected = {run["name"]: run["metrics"] for run in json.loads(whole.stdout)}
    sharded = {
        path.stem: json.loads(path.read_text())["metrics"] for path in (tmp_path / "out").rglob("*.json")
    }
    assert sharded == expected and len(expected) == 4
