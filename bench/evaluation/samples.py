"""The per-query log of a run (``bench run --log-samples``): a gzip-compressed JSON-lines sidecar.

Written next to the results file as ``<run name>.samples.jsonl.gz``. The first line describes the
file; every other line is one query, in the dataset's query order::

    {"format": "sbir-bench samples", "version": 2, "run": "...", "task": "<task id>",
     "relevance": "same-class", "metrics": ["<metric>", ...], "top_k": 10, "config": {...}}
    {"query": "sketch/star/0003", "class": "star", "evaluated": true, "rank": 2,
     "ranks": [2, 5, 9, ...], "candidates": 96, "metrics": {"<metric>": 0.41, ...},
     "top": ["photo/star/0007", ...], "top_similarity": [0.83, ...], "top_relevant": [false, ...]}

``ranks`` are the ascending ranks of *every* relevant gallery item of the query (paired tasks: of
its paired photo), exactly as the metrics saw them, and ``candidates`` the number of gallery items
it was ranked against: what every registered metric needs, so ``bench.rescore``
(:mod:`bench.evaluation.log_rescoring`) computes any of them from the log alone (those the run
reported equal its results file to the last bit). ``rank`` is the first of them; ``metrics`` the
run's per-query values; ``top`` the keys of the ``top_k`` most similar candidates, most similar
first (ties by gallery order, as the metrics rank), with their cosine similarities and whether each
is relevant; paired tasks add ``paired_photo``, the key of the query's photo. ``config`` is the
results file's configuration (which dataset, which descriptors). Queries the metrics leave out (no
relevant item, no paired photo) have ``evaluated`` false, no ranks and null metrics; a partial
metric's value is null where it is undefined. A log of a task with a second label (``two-labels``
relevance, shape bias) keeps no second-label ranks: like a version-1 log, it serves the metrics it
recorded.

Version 1 logs (before every relevant rank was kept) hold ``rank``, ``metrics`` and ``top`` only:
they serve the metrics they recorded. The bytes are deterministic (gzip with no timestamp), so the
SHA-256 recorded in the results file identifies the content. Reading is bounded
(:data:`MAX_LOG_BYTES` decompressed, :data:`MAX_LINE_BYTES` a line).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.api.bounded_read import read_bounded_gzip_lines
from bench.api.errors import BenchError
from bench.api.files import write_bytes_atomic
from bench.evaluation.protocol import Evaluation

FORMAT = "sbir-bench samples"
VERSION = 2
READABLE_VERSIONS = (1, 2)
TOP_K = 10
SUFFIX = ".samples.jsonl.gz"
MAX_LOG_BYTES = 4 * 2**30
"""Most bytes a per-query log may decompress to (QuickDraw-ext's zero-shot test, the largest
published benchmark, logs about 1.2 GB: 92k queries with about 1,800 relevant photos each)."""
MAX_LINE_BYTES = 64 * 2**20
"""Most bytes one line (one query) may decompress to: about 9 million relevant ranks."""
WHAT = "Per-query log"


@dataclass(frozen=True)
class QueryRecord:
    """One query of a per-query log.

    Attributes:
        key, label: the query's key and class.
        evaluated: whether the run's metrics cover it (it has a relevant item).
        rank: the rank of its first relevant item (None when not evaluated).
        metrics: the run's per-query values (None when not evaluated).
        top: the keys of its most similar candidates, most similar first.
        ranks: (R,) ascending integer ranks of its relevant items (empty when not evaluated; None
            in a version-1 log).
        candidates: C, the gallery items it was ranked against (None in a version-1 log).
        top_similarity: the cosine similarity of each ``top`` item (None in a version-1 log).
        top_relevant: whether each ``top`` item is relevant (None in a version-1 log).
        paired_photo: the key of its paired photo (paired tasks; None otherwise or without one).
    """

    key: str
    label: str
    evaluated: bool
    rank: int | None
    metrics: dict[str, float] | None
    top: list[str]
    ranks: np.ndarray | None = None
    candidates: int | None = None
    top_similarity: list[float] | None = None
    top_relevant: list[bool] | None = None
    paired_photo: str | None = None

    @property
    def average_precision(self) -> float:
        """(1/R) sum_j j / r_j over its relevant ranks r_1 < ... < r_R (paired: 1 / rank); 0 when
        not evaluated. Needs every relevant rank (a version-2 log)."""
        if not self.evaluated or self.ranks is None or not len(self.ranks):
            return 0.0
        return float(np.mean(np.arange(1, len(self.ranks) + 1) / self.ranks))


@dataclass(frozen=True)
class QueryLog:
    """A run's per-query log: what the header says, and one :class:`QueryRecord` per query.

    Attributes:
        source: where it was read from (a file, or a description of the run it was computed for).
        version: the format version (1: first relevant rank and top ids only).
        run: the run's name; task: its task id; relevance: its relevance rule (None in version 1).
        metrics: the metrics the run reported.
        top_k: how many candidates ``top`` keeps per query.
        config: the results file's configuration (None in version 1).
        queries: the queries, in the dataset's query order.
    """

    source: str
    version: int
    run: str
    task: str
    relevance: str | None
    metrics: list[str]
    top_k: int
    config: dict[str, Any] | None
    queries: list[QueryRecord]

    @property
    def keeps_every_rank(self) -> bool:
        return self.version >= 2

    def header(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "run": self.run,
            "task": self.task,
            "relevance": self.relevance,
            "metrics": self.metrics,
            "top_k": self.top_k,
            "config": self.config,
        }


def samples_path(results_path: Path) -> Path:
    """The sidecar of the results file ``results_path`` (``x.json`` -> ``x.samples.jsonl.gz``)."""
    return Path(results_path).with_suffix(SUFFIX)


def results_path_of(log_path: Path) -> Path:
    """The results file beside the per-query log ``log_path`` (``x.samples.jsonl.gz`` -> ``x.json``)."""
    name = Path(log_path).name
    stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else Path(name).stem
    return Path(log_path).with_name(stem + ".json")


def query_log(
    evaluation: Evaluation, run: str, task: str, config: dict[str, Any], top_k: int = TOP_K, source: str = ""
) -> QueryLog:
    """The per-query log of ``evaluation`` (scored with ``keep_ranks``), its top ``top_k`` ranked.

    Raises:
        ValueError: the evaluation did not keep its relevant ranks.
    """
    if evaluation.relevant_ranks is None:
        raise ValueError("the evaluation kept no relevant ranks: score it with keep_ranks=True")
    top, similarities = evaluation.top_items(top_k)
    paired = evaluation.paired_photos() if evaluation.relevance == "paired" else None
    names = list(evaluation.per_query)
    records = []
    for row, query in enumerate(evaluation.queries):
        evaluated = bool(evaluation.evaluated[row])
        shown = top[row] >= 0
        photo = paired[row] if paired is not None else None
        records.append(
            QueryRecord(
                key=query.key,
                label=query.label,
                evaluated=evaluated,
                rank=int(evaluation.rank[row]) if evaluated else None,
                metrics={name: _defined(evaluation.per_query[name][row]) for name in names}
                if evaluated
                else None,
                top=[evaluation.gallery[i].key for i in top[row][shown]],
                ranks=evaluation.relevant_ranks[row],
                candidates=int(evaluation.num_candidates[row]),
                top_similarity=[float(value) for value in similarities[row][shown]],
                top_relevant=evaluation.relevant(row, top[row][shown]).tolist(),
                paired_photo=photo.key if photo is not None else None,
            )
        )
    return QueryLog(source or run, VERSION, run, task, evaluation.relevance, names, top_k, config, records)


def write_samples(path: Path, evaluation: Evaluation, run: str, task: str, config: dict[str, Any]) -> dict:
    """Write the per-query log of ``evaluation`` atomically; return the results file's ``samples``
    entry (file name, top_k, sha256)."""
    log = query_log(evaluation, run, task, config, TOP_K, str(path))
    lines = [json.dumps(log.header(), sort_keys=True)]
    lines.extend(json.dumps(_record_json(record, log.relevance), sort_keys=True) for record in log.queries)
    data = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=6, mtime=0)
    try:
        write_bytes_atomic(Path(path), data)
    except OSError as exc:
        raise BenchError(
            f"Cannot write the per-query log {str(path)!r}: {exc.strerror}.",
            "Free space there or pass --output-dir DIR, or run without --log-samples.",
        ) from exc
    return {"file": Path(path).name, "top_k": log.top_k, "sha256": hashlib.sha256(data).hexdigest()}


def _record_json(record: QueryRecord, relevance: str | None) -> dict[str, Any]:
    line = {
        "query": record.key,
        "class": record.label,
        "evaluated": record.evaluated,
        "rank": record.rank,
        "ranks": [] if record.ranks is None else record.ranks.tolist(),
        "candidates": record.candidates,
        "metrics": record.metrics,
        "top": record.top,
        "top_similarity": record.top_similarity,
        "top_relevant": record.top_relevant,
    }
    if relevance == "paired":
        line["paired_photo"] = record.paired_photo
    return line


def _defined(value: float) -> float | None:
    """A per-query value for the log: null where a partial metric is undefined (NaN)."""
    return None if np.isnan(value) else float(value)


def read_samples(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(header, one dict per query) of a per-query log, read within :data:`MAX_LOG_BYTES`.

    Raises:
        BenchError: the file is missing, too large, not gzip JSON lines, or not an sbir-bench
            per-query log of a version this release reads.
    """
    lines = _json_lines(Path(path))
    header = next(lines, None)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BenchError(
            f"{str(path)!r} is not an sbir-bench per-query log (its first line is not a {FORMAT!r} header).",
            "Per-query logs are written by `bench run --log-samples` as <run>.samples.jsonl.gz.",
        )
    if header.get("version") not in READABLE_VERSIONS:
        raise BenchError(
            f"{str(path)!r} is a per-query log of version {header.get('version')!r}; this release reads "
            f"versions {', '.join(map(str, READABLE_VERSIONS))}.",
            "Rescore it with the sbir-bench release that wrote it, or rerun the run with --log-samples.",
        )
    return header, list(lines)


def _json_lines(path: Path) -> Iterator[Any]:
    for number, line in enumerate(read_bounded_gzip_lines(path, MAX_LOG_BYTES, MAX_LINE_BYTES, WHAT), 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise BenchError(f"Line {number} of {str(path)!r} is not JSON ({exc}).", REWRITE_HINT) from None


REWRITE_HINT = "The log is damaged; rerun its run with `bench run --log-samples` to write it again."


def read_query_log(path: Path) -> QueryLog:
    """The per-query log at ``path`` (see the module docstring), checked.

    Raises:
        BenchError: as :func:`read_samples`, or a query line that does not hold what its version
            requires (naming the line and the field).
    """
    header, rows = read_samples(path)
    version = header["version"]
    source = str(path)
    try:
        metrics = [str(name) for name in header["metrics"]]
        queries = [_record(row, version) for row in rows]
        log = QueryLog(
            source=source,
            version=version,
            run=str(header["run"]),
            task=str(header["task"]),
            relevance=header.get("relevance"),
            metrics=metrics,
            top_k=int(header["top_k"]),
            config=header.get("config"),
            queries=queries,
        )
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise BenchError(f"{source!r} is not a well-formed per-query log ({detail}).", REWRITE_HINT) from None
    return log


def _record(row: Any, version: int) -> QueryRecord:
    """One query line as a :class:`QueryRecord` (KeyError, TypeError or ValueError when malformed)."""
    if not isinstance(row, dict):
        raise TypeError(f"a query line is a JSON {type(row).__name__}, not an object")
    evaluated = row["evaluated"]
    if not isinstance(evaluated, bool):
        raise TypeError(f"'evaluated' of query {row.get('query')!r} is not true or false")
    record = QueryRecord(
        key=str(row["query"]),
        label=str(row["class"]),
        evaluated=evaluated,
        rank=int(row["rank"]) if evaluated else None,
        metrics={str(k): math.nan if v is None else float(v) for k, v in row["metrics"].items()}
        if evaluated
        else None,
        top=[str(key) for key in row["top"]],
    )
    if version == 1:
        return record
    ranks = np.array(row["ranks"], dtype=np.int64)
    candidates = int(row["candidates"])
    if ranks.ndim != 1 or (evaluated and not len(ranks)) or (not evaluated and len(ranks)):
        raise ValueError(f"'ranks' of query {record.key!r} do not match 'evaluated'")
    if len(ranks) and (ranks[0] < 1 or ranks[-1] > candidates or (np.diff(ranks) <= 0).any()):
        raise ValueError(f"'ranks' of query {record.key!r} are not ascending ranks within 1..{candidates}")
    similarity = [float(value) for value in row["top_similarity"]]
    relevant = [bool(value) for value in row["top_relevant"]]
    if not len(similarity) == len(relevant) == len(record.top):
        raise ValueError(f"'top', 'top_similarity' and 'top_relevant' of query {record.key!r} differ")
    photo = row.get("paired_photo")
    return replace(
        record,
        ranks=ranks,
        candidates=candidates,
        top_similarity=similarity,
        top_relevant=relevant,
        paired_photo=None if photo is None else str(photo),
    )
