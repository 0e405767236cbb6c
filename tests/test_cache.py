"""The feature cache: reruns extract nothing, killed runs resume, writers coexist, damage is repaired,
and several processes give the results of one."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench.extraction.cache import FeatureCache
from tests.helpers.cli import BENCH, run_bench

pytestmark = pytest.mark.slow
RUN = ["run", "--backbone", "sd-tiny", "--dataset", "synthetic", "--image-size", "64", "--json"]
SMALL = ["--dataset-option", "num_unseen=3", "--dataset-option", "photos_per_class=5"]


def bench_json(*args: str, env: dict[str, str] | None = None) -> list[dict]:
    result = run_bench(*args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def metrics(runs: list[dict]) -> list[dict]:
    return [run["metrics"] for run in runs]


def test_store_round_trip_in_both_precisions(tmp_path):
    rng = np.random.default_rng(0)
    digests = [bytes(rng.integers(0, 256, 16, dtype=np.uint8)) for _ in range(5)]
    values = rng.standard_normal((5, 8)).astype(np.float32)
    for storage, tolerance in (("fp16", 1e-3), ("fp32", 0.0)):
        store = FeatureCache(tmp_path / storage, storage).store({"backbone": "x"}, dim=8)
        store.put(digests[:3], values[:3])
        reopened = FeatureCache(tmp_path / storage, storage).store({"backbone": "x"}, dim=8)
        got, found = reopened.lookup(digests)
        assert found.tolist() == [True, True, True, False, False]
        np.testing.assert_allclose(got[:3], values[:3], atol=tolerance)
        assert not got[3:].any()
        assert reopened.verify() == []


def test_cached_rerun_extracts_nothing_and_gives_identical_numbers(tmp_path):
    cache = ["--cache-dir", str(tmp_path / "cache")]
    first = bench_json(*RUN, *SMALL, *cache, "--output-dir", str(tmp_path / "a"))
    second = bench_json(*RUN, *SMALL, *cache, "--output-dir", str(tmp_path / "b"))
    images = first[0]["runtime"]["images"]
    assert (
        first[0]["runtime"]["cache_misses"] == images
        and first[0]["runtime"]["extracted_by_main_process"] == images
    )
    assert (
        second[0]["runtime"]["cache_hits"] == images
        and second[0]["runtime"]["extracted_by_main_process"] == 0
    )
    assert metrics(first) == metrics(second)
    # the fine-grained benchmark shares the images: its descriptors are already there
    fine = bench_json(
        *RUN[:-4],
        "synthetic-fg",
        "--image-size",
        "64",
        "--json",
        *SMALL,
        *cache,
        "--output-dir",
        str(tmp_path / "c"),
    )
    assert fine[0]["runtime"]["cache_hits"] == images


def test_killed_run_resumes_and_only_extracts_what_is_missing(tmp_path):
    big = ["--dataset-option", "num_unseen=4", "--dataset-option", "photos_per_class=20", "--batch-size", "4"]
    cache_dir = tmp_path / "cache"
    command = [*BENCH, *RUN, *big, "--cache-dir", str(cache_dir), "--output-dir", str(tmp_path / "killed")]
    process = subprocess.Popen(
        command,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "SBIR_BENCH_FLUSH_ROWS": "8"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not list(cache_dir.glob("v1/*/*.keys.npy")) and time.monotonic() < deadline:
        assert process.poll() is None, "the run finished before it could be killed"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not list((tmp_path / "killed").rglob("*.json")), "killed before any results file"

    resumed = bench_json(*RUN, *big, "--cache-dir", str(cache_dir), "--output-dir", str(tmp_path / "resumed"))
    runtime = resumed[0]["runtime"]
    assert 0 < runtime["cache_hits"] < runtime["images"]
    assert runtime["extracted_by_main_process"] == runtime["images"] - runtime["cache_hits"]
    fresh = bench_json(
        *RUN, *big, "--cache-dir", str(tmp_path / "fresh"), "--output-dir", str(tmp_path / "f")
    )
    assert metrics(resumed) == metrics(fresh)


def test_concurrent_writers_leave_a_valid_cache(tmp_path):
    cache = ["--cache-dir", str(tmp_path / "cache")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    processes = [
        subprocess.Popen(
            [*BENCH, *RUN, *SMALL, *cache, "--output-dir", str(tmp_path / name)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err for _, err in outputs]
    assert metrics(json.loads(outputs[0][0])) == metrics(json.loads(outputs[1][0]))
    verified = run_bench("cache", "verify", *cache)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    third = bench_json(*RUN, *SMALL, *cache, "--output-dir", str(tmp_path / "c"))
    assert third[0]["runtime"]["extracted_by_main_process"] == 0
    assert metrics(third) == metrics(json.loads(outputs[0][0]))


def test_damaged_shard_is_reported_and_recomputed(tmp_path):
    cache = ["--cache-dir", str(tmp_path / "cache")]
    first = bench_json(*RUN, *SMALL, *cache, "--output-dir", str(tmp_path / "a"))
    values = next((tmp_path / "cache").glob("v1/*/*.values.npy"))
    values.write_bytes(values.read_bytes()[:-40])  # truncated, as by a full disk
    verify = run_bench("cache", "verify", *cache)
    assert verify.returncode == 1 and "damaged" in verify.stderr and "unreadable" in verify.stdout
    again = run_bench(*RUN, *SMALL, *cache, "--output-dir", str(tmp_path / "b"))
    assert again.returncode == 0, again.stderr
    assert "unreadable" in again.stderr and "moved aside, its rows are recomputed" in again.stderr
    rerun = json.loads(again.stdout)
    assert rerun[0]["runtime"]["extracted_by_main_process"] > 0
    assert metrics(rerun) == metrics(first)
    assert run_bench("cache", "verify", *cache).returncode == 0


def test_cache_info_and_clear(tmp_path):
    cache = ["--cache-dir", str(tmp_path / "cache")]
    bench_json(*RUN, *SMALL, *cache, "--output-dir", str(tmp_path / "a"))
    info = run_bench("cache", "info", *cache)
    assert info.returncode == 0 and '"backbone": "sd-tiny"' in info.stdout and "30" in info.stdout
    cleared = run_bench("cache", "clear", "--yes", *cache)
    assert cleared.returncode == 0 and "Cleared" in cleared.stdout
    assert not list((tmp_path / "cache").rglob("*.npy"))


@pytest.mark.skipif(
    shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None, reason="needs torchrun"
)
def test_two_processes_give_the_results_of_one(tmp_path):
    torchrun = str(Path(sys.executable).parent / "torchrun")
    single = bench_json(
        *RUN, *SMALL, "--cache-dir", str(tmp_path / "c1"), "--output-dir", str(tmp_path / "one")
    )
    command = [
        torchrun,
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "bench",
        *RUN,
        *SMALL,
        "--cache-dir",
        str(tmp_path / "c2"),
        "--output-dir",
        str(tmp_path / "two"),
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    (double,) = [json.loads(line) for line in [result.stdout] if line.strip()]
    assert len(double) == len(single) and double[0]["runtime"]["processes"] == 2
    assert 0 < double[0]["runtime"]["extracted_by_main_process"] < double[0]["runtime"]["images"]
    assert metrics(double) == metrics(single)
    files = sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*.json"))
    assert files == sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.json"))
