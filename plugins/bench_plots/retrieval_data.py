"""What a retrieval figure shows: per configuration, the chosen queries' top-k gallery items.

A configuration comes from a results file (its cached descriptors re-ranked: ``bench.rerank_results``,
nothing extracted) or from a per-query log (``bench run --log-samples``, which keeps each query's
top 10 with their similarities). Every configuration shows the same queries, chosen by key, by a
seeded random draw, or as the first configuration's best or worst by average precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import bench
from bench import BenchError, QueryLog, QueryRecord, Reporter
from bench_plots.labels import options_text

LOG_SUFFIX = ".samples.jsonl.gz"


@dataclass(frozen=True)
class RetrievalSource:
    """One configuration's retrievals.

    Attributes:
        path: the results file or per-query log it was read from.
        log: every query's top candidates and relevant ranks.
        dataset: where the images are loaded from.
        items: key -> the dataset's query or gallery item.
        how: how the retrievals were obtained, in words.
    """

    path: Path
    log: QueryLog
    dataset: bench.Dataset
    items: dict[str, bench.ImageItem]
    how: str

    @property
    def config(self) -> dict[str, Any]:
        return self.log.config or {}

    def record(self, key: str) -> QueryRecord:
        """The log's record of the query ``key`` (one of :func:`choose_queries`' keys)."""
        return next(record for record in self.log.queries if record.key == key)

    def item(self, key: str) -> bench.ImageItem:
        """The dataset's item ``key``; BenchError when the dataset (as opened) has none."""
        try:
            return self.items[key]
        except KeyError:
            raise BenchError(
                f"Dataset {self.config.get('dataset')!r} as opened here has no image {key!r}, which "
                f"{str(self.path)!r} ranked.",
                "Open it as the run did: the same --data-root (and the dataset options the run used).",
            ) from None


@dataclass(frozen=True)
class QueryChoice:
    """How the queries are chosen: ``mode`` ``"query"`` (by ``keys``), or ``"random"``, ``"best"``
    or ``"worst"`` (``count`` of them; ``seed`` of the random draw)."""

    mode: str = "random"
    keys: tuple[str, ...] = ()
    count: int = 4
    seed: int = 0

    def describe(self) -> str:
        if self.mode == "query":
            return "chosen by key"
        if self.mode == "random":
            return f"{self.count} drawn at random (seed {self.seed})"
        return f"the {self.count} {self.mode} by the first configuration's average precision"


def load_source(
    path: Path,
    *,
    top_k: int,
    registry: Any,
    data_root: str | None,
    cache_dir: str | None,
    reporter: Reporter,
) -> RetrievalSource:
    """The retrievals of a results file (re-ranked from the cache) or of a per-query log.

    Raises:
        BenchError: a path that is neither; a log without top-k similarities (version 1) or with
            fewer than ``top_k`` kept; a results file whose descriptors the cache no longer holds.
    """
    path = Path(path)
    if path.name.endswith(LOG_SUFFIX):
        log = bench.read_query_log(path)
        _check_log(log, path, top_k)
        options = log.config.get("dataset_options") or {}  # type: ignore[union-attr]
        dataset = bench.open_dataset(
            log.config["dataset"],
            data_root=data_root,
            options=options,
            registry=registry,  # type: ignore[index]
        )
        how = f"per-query log {path.name}"
    elif path.suffix == ".json":
        reranked = bench.rerank_results(
            path, registry=registry, top_k=top_k, cache_dir=cache_dir, data_root=data_root, reporter=reporter
        )
        for name, now, recorded in reranked.differences:
            reporter.status(
                f"{path.name}: re-ranked {name} = {now!r}, the results file says {recorded!r}: the cache "
                "holds other descriptors than the run scored"
            )
        log, dataset = reranked.log, reranked.dataset
        how = f"re-ranked from the cached descriptors of {path.name}"
    else:
        raise BenchError(
            f"Cannot plot {str(path)!r}: it is neither a results file (.json) nor a per-query log "
            f"(*{LOG_SUFFIX}).",
            "Pass results files written by `bench run`, or the logs `bench run --log-samples` writes "
            "beside them.",
        )
    items = {item.key: item for split in ("query", "gallery") for item in dataset.split(split)}
    return RetrievalSource(path, log, dataset, items, how)


def _check_log(log: QueryLog, path: Path, top_k: int) -> None:
    if not log.keeps_every_rank or log.config is None:
        raise BenchError(
            f"{str(path)!r} is a version-{log.version} per-query log: it keeps each query's top "
            f"{log.top_k} ids but not their similarities, relevance or the run's configuration, which "
            "a retrieval figure shows.",
            "Plot its results file instead (re-ranks the cached descriptors), or rerun the run with "
            "`bench run --log-samples`.",
        )
    if log.top_k < top_k:
        raise BenchError(
            f"{str(path)!r} keeps each query's top {log.top_k}, fewer than --top-k {top_k}.",
            f"Pass --top-k {log.top_k} or less, or plot its results file (re-ranks to any depth).",
        )


def choose_queries(sources: list[RetrievalSource], choice: QueryChoice) -> list[str]:
    """The keys of the queries every source shows, in the first source's query order (best and
    worst: best or worst first).

    Raises:
        BenchError: sources of different benchmarks, an unknown key, or more queries asked than
            there are.
    """
    first = sources[0]
    for source in sources[1:]:
        if benchmark(source) != benchmark(first):
            raise BenchError(
                f"{str(first.path)!r} and {str(source.path)!r} are runs on different benchmarks "
                f"({benchmark_text(first)}; {benchmark_text(source)}): their queries are not the same.",
                "Plot configurations of one dataset, with the same dataset options and --limit.",
            )
    shared = set.intersection(*({record.key for record in source.log.queries} for source in sources))
    candidates = [record for record in first.log.queries if record.key in shared]
    if choice.mode == "query":
        unknown = [key for key in choice.keys if key not in shared]
        if unknown:
            examples = ", ".join(record.key for record in candidates[:3])
            raise BenchError(
                f"No query {unknown[0]!r} in every configuration.",
                f"Query keys look like {examples} (the per-query log lists them all).",
            )
        return list(dict.fromkeys(choice.keys))
    evaluated = [record for record in candidates if record.evaluated]
    if choice.count > len(evaluated):
        raise BenchError(
            f"Asked for {choice.count} queries; the configurations share {len(evaluated)} evaluated ones.",
            f"Ask for {len(evaluated)} or fewer.",
        )
    if choice.mode == "random":
        drawn = np.random.default_rng(choice.seed).choice(len(evaluated), choice.count, replace=False)
        return [evaluated[row].key for row in sorted(drawn.tolist())]
    sign = -1.0 if choice.mode == "best" else 1.0
    order = sorted(range(len(evaluated)), key=lambda row: (sign * evaluated[row].average_precision, row))
    return [evaluated[row].key for row in order[: choice.count]]


def benchmark(source: RetrievalSource) -> tuple[Any, ...]:
    """What decides a run's queries: its dataset, dataset options and --limit."""
    config = source.config
    return (config.get("dataset"), config.get("dataset_options") or {}, config.get("limit"))


def benchmark_text(source: RetrievalSource) -> str:
    dataset, options, limit = benchmark(source)
    return " ".join(
        [
            str(dataset),
            *([f"({options_text(options)})"] if options else []),
            *([f"--limit {limit}"] if limit else []),
        ]
    )


def source_label(source: RetrievalSource) -> str:
    """``sd-mini · up0 · t=200`` (and the prompt, noise draws and weights where they say more)."""
    config = source.config
    parts = [str(config.get("backbone", "?")), str(config.get("layer", "?"))]
    if config.get("t") is not None:
        parts.append(f"t={config['t']}")
    if config.get("prompt") not in (None, "none"):
        parts.append(f"prompt {config['prompt']}")
    if config.get("noise_samples") not in (None, 1):
        parts.append(f"{config['noise_samples']} noise draws")
    return " · ".join(parts)


def main_score(source: RetrievalSource, specs: Any) -> str:
    """``mAP@all 0.208``: the task's main metric over every query of the run (from the log)."""
    name = specs.task(source.log.task).main
    value = bench.rescore(source.log, specs, [name])[name]
    return f"{name} {specs.metric(name).format(value)}"
