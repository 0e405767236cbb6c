"""Exact chance levels of the synthetic benchmarks' metrics (docs/protocol.md section 2).

A chance-level backbone ranks the gallery in a uniformly random order, so the R relevant photos of a
query occupy a uniformly random R-subset of the N ranks. For that ranking this script computes the
expected value of every metric `bench run` reports, exactly (rational arithmetic, no sampling):

- mAP@all (interpolated): a backward Markov chain over the ranks of the relevant items (given the
  rank r of the m-th relevant item, the (m-1)-th is at rank s < r with probability
  C(s-1, m-2) / C(r-1, m-1)), carrying the running maximum of precision;
- mAP@all[plain]: (1/N) * sum_r [1/r + (r-1)(R-1) / ((N-1) r)];
- mAP@K, mAP@K[retrieved], P@K: every hit pattern of the top K, weighted by its hypergeometric
  probability;
- Acc@K with a gallery of g photos per class: K / g (continuous random scores have no ties).

It then checks the mAP values against `bench.score` on seeded random permutations.

    python benchmarks/sd_mini_chance.py                     # the default synthetic benchmarks
    python benchmarks/sd_mini_chance.py --gallery 96 --relevant 12 --k 10
"""

from __future__ import annotations

import argparse
import itertools
from fractions import Fraction
from math import comb


def map_all_interpolated(n: int, r: int) -> Fraction:
    """E[interpolated AP] for R = r relevant items among n, in a uniformly random ranking."""
    # states: (rank of the m-th relevant item, max over j >= m of j / rank_j) -> probability
    states: dict[tuple[int, Fraction], Fraction] = {}
    for rank in range(r, n + 1):
        states[(rank, Fraction(r, rank))] = Fraction(comb(rank - 1, r - 1), comb(n, r))
    total = sum(p * best for (_, best), p in states.items())  # the r-th relevant item's term
    for m in range(r, 1, -1):  # step from the m-th relevant item to the (m-1)-th
        following: dict[tuple[int, Fraction], Fraction] = {}
        for (rank, best), p in states.items():
            norm = comb(rank - 1, m - 1)
            for s in range(m - 1, rank):
                key = (s, max(best, Fraction(m - 1, s)))
                following[key] = following.get(key, 0) + p * Fraction(comb(s - 1, m - 2), norm)
        states = following
        total += sum(p * best for (_, best), p in states.items())
    return total / r


def map_all_plain(n: int, r: int) -> Fraction:
    return (
        sum(Fraction(1, rank) + Fraction((rank - 1) * (r - 1), (n - 1) * rank) for rank in range(1, n + 1))
        / n
    )


def top_k_metrics(n: int, r: int, k: int) -> dict[str, Fraction]:
    """E[mAP@K], E[mAP@K[retrieved]], E[P@K] over every hit pattern of the top K."""
    expected = {f"mAP@{k}": Fraction(0), f"mAP@{k}[retrieved]": Fraction(0), f"P@{k}": Fraction(0)}
    for pattern in itertools.product((0, 1), repeat=k):
        hits = sum(pattern)
        if hits > r:
            continue
        probability = Fraction(comb(n - k, r - hits), comb(n, r))
        if probability == 0:
            continue
        precision = [Fraction(sum(pattern[: i + 1]), i + 1) for i in range(k)]
        relevant = [i for i in range(k) if pattern[i]]
        interpolated = sum(max(precision[i:]) for i in relevant)
        expected[f"mAP@{k}"] += probability * interpolated / min(k, r)
        if hits:
            expected[f"mAP@{k}[retrieved]"] += probability * sum(precision[i] for i in relevant) / hits
        expected[f"P@{k}"] += probability * Fraction(hits, k)
    return expected


def category_chance(n: int, r: int, k: int) -> dict[str, Fraction]:
    return {
        "mAP@all": map_all_interpolated(n, r),
        "mAP@all[plain]": map_all_plain(n, r),
        **top_k_metrics(n, r, k),
    }


def monte_carlo(n: int, r: int, k: int, draws: int) -> dict[str, float]:
    """The same metrics from `bench.score` on seeded random descriptors."""
    import numpy as np

    import bench

    classes = n // r
    labels = np.repeat(np.arange(classes), r)
    sketches = [bench.ImageItem(f"s{i}", "sketch", str(label)) for i, label in enumerate(labels)]
    photos = [bench.ImageItem(f"p{i}", "photo", str(label)) for i, label in enumerate(labels)]
    names = list(category_chance(n, r, k))
    registry = bench.plugin_registry()
    rng = np.random.default_rng(0)
    sums: dict[str, float] = {}
    for _ in range(draws):
        metrics = bench.score(
            rng.standard_normal((n, 64)),
            rng.standard_normal((n, 64)),
            sketches,
            photos,
            task="zs-sbir",
            metrics=names,
            registry=registry,
        )
        for name, value in metrics.items():
            sums[name] = sums.get(name, 0.0) + value
    return {name: value / draws for name, value in sums.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", type=int, default=96, help="gallery size N (default: 8 classes x 12)")
    parser.add_argument("--relevant", type=int, default=12, help="relevant photos per query R")
    parser.add_argument("--k", type=int, default=10, help="cut-off of P@K and mAP@K")
    parser.add_argument("--fg-gallery", type=int, default=12, help="per-class gallery of synthetic-fg")
    parser.add_argument("--draws", type=int, default=200, help="Monte Carlo draws for the check (0: none)")
    args = parser.parse_args()

    exact = category_chance(args.gallery, args.relevant, args.k)
    check = monte_carlo(args.gallery, args.relevant, args.k, args.draws) if args.draws else {}
    print(
        f"synthetic (N = {args.gallery}, R = {args.relevant}): exact chance, Monte Carlo ({args.draws} draws)"
    )
    for name, value in exact.items():
        sampled = f"{check[name]:.4f}" if name in check else "-"
        print(f"  {name:<18} {float(value):.4f}  ({sampled})")
    print(f"synthetic-fg (gallery of {args.fg_gallery} photos per class): exact chance")
    for k in (1, 5, 10):
        print(f"  Acc@{k:<14} {100 * min(k, args.fg_gallery) / args.fg_gallery:.2f}")


if __name__ == "__main__":
    main()
