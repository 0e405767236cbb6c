"""Category evaluation speed and memory: the streamed ranking with the registered metrics vs a numpy baseline.

Sizes: QuickDraw-ext (92,291 query sketches x 54,151 gallery photos, 30 unseen classes, about 3,000
queries and 1,800 photos per class) and 10,000 x 10,000; d = 512, float32, L2-normalised,
class-clustered synthetic features from a seeded generator (sketches noisier than photos, so the
metrics are far from 0 and 1). The baseline, written here, is what a straightforward script does:
per chunk of queries one numpy matmul, one full ``np.argsort(kind="stable")`` of each row, and every
metric from the sorted relevance (cumulative hits, precision, reverse running maximum). Both give
every metric of docs/protocol.md; they must agree to 1e-6 (asserted). The baseline's similarities come
from the same float32 matmul as bench's ranking's (torch; chunks of 32 or more rows give bitwise
the same products), so both rank the same numbers: another BLAS (numpy's OpenBLAS) rounds most dot
products differently in the last bit, which reorders near-ties and moves a 10,000-query P@100 by
1e-6 per reordered hit.

Each measurement runs in its own child process, which first generates the features and then resets
its peak-memory mark (Linux /proc/self/clear_refs), so "peak above features" is the evaluation's own
resident memory. Times are wall-clock; CPU seconds (user + system, all threads) are printed beside
them because this machine's cores may be shared: compare only within one run.

Run:  python benchmarks/evaluation.py [--sizes quickdraw,10k] [--baseline-chunk 256]
      [--baseline-without-openblas-env]  (the numpy child without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import torch  # imported at start in every child, so neither side's peak memory counts loading it

SIZES = {"quickdraw": (92_291, 54_151), "10k": (10_000, 10_000)}
DIM, CLASSES, SEED = 512, 30, 0
MAP_K, PREC_K = (200,), (100, 200)
TOLERANCE = 1e-6
OPENBLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def class_labels(count: int) -> np.ndarray:
    """(count,) int64 labels: CLASSES contiguous runs of near-equal size, as a class-wise test split."""
    return np.repeat(np.arange(CLASSES), [len(part) for part in np.array_split(np.arange(count), CLASSES)])


def clustered_features(
    rng: np.random.Generator, centres: np.ndarray, labels: np.ndarray, noise: float
) -> np.ndarray:
    """(N, DIM) float32 unit rows: class centre + Gaussian noise, generated in blocks (no float64 copy)."""
    out = np.empty((len(labels), DIM), dtype=np.float32)
    for start in range(0, len(labels), 8192):
        block = slice(start, start + 8192)
        out[block] = centres[labels[block]] + noise * rng.standard_normal((len(out[block]), DIM), np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def synthetic(size: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(queries, query labels, gallery, gallery labels) of a named size, identical in every process."""
    num_queries, num_gallery = SIZES[size]
    rng = np.random.default_rng(SEED)
    centres = rng.standard_normal((CLASSES, DIM), np.float32)
    query_labels, gallery_labels = class_labels(num_queries), class_labels(num_gallery)
    gallery = clustered_features(rng, centres, gallery_labels, noise=3.0)
    queries = clustered_features(rng, centres, query_labels, noise=5.0)
    return queries, query_labels, gallery, gallery_labels


def numpy_baseline(
    queries: np.ndarray, query_labels: np.ndarray, gallery: np.ndarray, gallery_labels: np.ndarray, chunk: int
) -> dict[str, float]:
    """Every category metric from one stable argsort per query, over near-equal chunks of about
    ``chunk`` queries.

    Args:
        queries: (Nq, D) float32; query_labels: (Nq,) int; gallery: (Ng, D) float32; gallery_labels: (Ng,).
    """
    sums: dict[str, float] = {}
    counted = 0
    ranks = np.arange(1, len(gallery) + 1)
    gallery_tensor = torch.from_numpy(gallery)
    for rows in np.array_split(np.arange(len(queries)), -(-len(queries) // chunk)):
        sims = (torch.from_numpy(queries[rows]) @ gallery_tensor.T).numpy()
        order = np.argsort(-sims, axis=1, kind="stable")
        relevant = gallery_labels[order] == query_labels[rows, None]
        relevant = relevant[relevant.any(axis=1)]
        hits = np.cumsum(relevant, axis=1)
        precision = hits / ranks
        for key, values in _sorted_relevance_metrics(relevant, hits, precision).items():
            sums[key] = sums.get(key, 0.0) + float(values.sum())
        counted += len(relevant)
    return {key: total / counted for key, total in sums.items()}


def _sorted_relevance_metrics(
    relevant: np.ndarray, hits: np.ndarray, precision: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-query metrics from (B, Ng) relevance in rank order, its cumulative hits and precision."""
    r = relevant.sum(axis=1)
    out = {
        "mAP@all": (_reverse_cummax(precision) * relevant).sum(axis=1) / r,
        "mAP@all[plain]": (precision * relevant).sum(axis=1) / r,
    }
    for k in MAP_K:
        window = min(k, relevant.shape[1])
        top, top_relevant, top_hits = precision[:, :window], relevant[:, :window], hits[:, window - 1]
        out[f"mAP@{k}"] = (_reverse_cummax(top) * top_relevant).sum(axis=1) / np.minimum(k, r)
        out[f"mAP@{k}[retrieved]"] = (top * top_relevant).sum(axis=1) / np.maximum(top_hits, 1)
    for k in PREC_K:
        out[f"P@{k}"] = hits[:, min(k, relevant.shape[1]) - 1] / k
    return out


def _reverse_cummax(values: np.ndarray) -> np.ndarray:
    """(B, W): entry i is the maximum of ``values[:, i:]``."""
    return np.maximum.accumulate(values[:, ::-1], axis=1)[:, ::-1]


def _memory_mb(field: str) -> float:
    """A /proc/self/status memory field (VmRSS: resident now, VmHWM: peak resident) in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    """Set the peak resident mark (VmHWM) to the current resident size (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def child(size: str, implementation: str, baseline_chunk: int) -> None:
    """Generate the features, evaluate once, print one JSON line of timings, memory and metrics."""
    queries, query_labels, gallery, gallery_labels = synthetic(size)
    if implementation == "sbir-bench":
        from bench.evaluation.measures import MetricSet, exact_mean
        from bench.evaluation.ranking import same_class_scores
        from bench.registry.manager import load_plugins

        specs = load_plugins().build_registry().evaluation_specs()
        at_k = [name for k in MAP_K for name in (f"mAP@{k}", f"mAP@{k}[retrieved]")]
        names = ["mAP@all", "mAP@all[plain]", *at_k, *(f"P@{k}" for k in PREC_K)]
        metrics = MetricSet([specs.metric(name) for name in names])

        def run() -> dict[str, float]:
            scores = same_class_scores(queries, query_labels, gallery, gallery_labels, metrics)
            return {name: exact_mean(values[scores.evaluated]) for name, values in scores.values.items()}
    else:

        def run() -> dict[str, float]:
            return numpy_baseline(queries, query_labels, gallery, gallery_labels, baseline_chunk)

    _reset_peak()
    features_mb = _memory_mb("VmRSS")
    usage, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    metrics = run()
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
    result = {"seconds": seconds, "cpu_seconds": cpu, "features_mb": features_mb}
    result |= {"peak_above_features_mb": _memory_mb("VmHWM") - features_mb, "metrics": metrics}
    print(json.dumps(result))


def measure(size: str, implementation: str, args: argparse.Namespace) -> dict:
    """Run one child process and return its JSON result."""
    env = dict(os.environ)
    if implementation == "numpy" and args.baseline_without_openblas_env:
        for name in OPENBLAS_ENV:
            env.pop(name, None)
    command = [sys.executable, __file__, "--child", size, implementation]
    command += ["--baseline-chunk", str(args.baseline_chunk)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])


def compare(size: str, args: argparse.Namespace) -> None:
    """Measure both implementations at one size, assert equal metrics, print the comparison."""
    num_queries, num_gallery = SIZES[size]
    print(f"\n== {size}: {num_queries:,} queries x {num_gallery:,} gallery, d = {DIM}, {CLASSES} classes")
    results = {name: measure(size, name, args) for name in ("sbir-bench", "numpy")}
    ours, baseline = results["sbir-bench"]["metrics"], results["numpy"]["metrics"]
    assert list(ours) == list(baseline), (list(ours), list(baseline))
    worst = max(abs(ours[key] - baseline[key]) for key in ours)
    assert worst <= TOLERANCE, f"metrics differ by {worst:.3g}: {ours} vs {baseline}"
    print("metrics:", ", ".join(f"{key} {value:.6f}" for key, value in ours.items()))
    print(f"largest difference between the two: {worst:.2g} (<= {TOLERANCE})")
    for name, result in results.items():
        print(
            f"{name:>10}: {result['seconds']:8.1f} s wall, {result['cpu_seconds']:8.1f} s CPU, "
            f"peak {result['peak_above_features_mb']:7.0f} MiB above the features "
            f"({result['features_mb']:.0f} MiB resident before)"
        )
    ratio = results["numpy"]["seconds"] / results["sbir-bench"]["seconds"]
    cpu_ratio = results["numpy"]["cpu_seconds"] / results["sbir-bench"]["cpu_seconds"]
    print(f"speed-up: {ratio:.1f}x wall, {cpu_ratio:.1f}x CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="quickdraw,10k", help="comma-separated: " + ", ".join(SIZES))
    parser.add_argument("--baseline-chunk", type=int, default=256, help="queries per numpy chunk")
    parser.add_argument("--baseline-without-openblas-env", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("SIZE", "IMPLEMENTATION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.baseline_chunk)
        return
    from threadpoolctl import threadpool_info

    blas = [(info["internal_api"], info.get("architecture")) for info in threadpool_info()]
    print(f"CPU cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()}, thread pools: {blas}")
    print("OpenBLAS env:", {name: os.environ.get(name, "not set") for name in OPENBLAS_ENV})
    for size in args.sizes.split(","):
        compare(size, args)


if __name__ == "__main__":
    main()
