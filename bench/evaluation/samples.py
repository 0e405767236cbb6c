"""The per-query log of a run (``bench run --log-samples``): a gzip-compressed JSON-lines sidecar.

Written next to the results file as ``<run name>.samples.jsonl.gz``. The first line describes the
file; every other line is one query, in the dataset's query order::

    {"format": "sbir-bench samples", "version": 1, "run": "...", "task": "<task id>",
     "metrics": ["<metric>", ...], "top_k": 10}
    {"query": "sketch/star/0003", "class": "star", "evaluated": true, "rank": 2,
     "metrics": {"<metric>": 0.41, ...}, "top": ["photo/star/0007", ...]}

``rank`` is the rank of the query's first relevant gallery item (paired tasks: of its paired photo);
``top`` the keys of its ``top_k`` most similar candidates, most similar first (ties by gallery
order, as the metrics rank). Queries the metrics leave out (no relevant item, no paired photo) have
``evaluated`` false and null rank and metrics; a partial metric's value is null where it is
undefined. :func:`rescore` recomputes the run's metrics from the file alone. The bytes are
deterministic (gzip with no timestamp), so its SHA-256, recorded in the results file, identifies
the content.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from bench.api.errors import BenchError
from bench.api.evaluation import EvaluationSpecs
from bench.api.files import write_bytes_atomic
from bench.evaluation.measures import aggregate
from bench.evaluation.protocol import Evaluation

FORMAT = "sbir-bench samples"
VERSION = 1
TOP_K = 10
SUFFIX = ".samples.jsonl.gz"


def samples_path(results_path: Path) -> Path:
    """The sidecar of the results file ``results_path`` (``x.json`` -> ``x.samples.jsonl.gz``)."""
    return Path(results_path).with_suffix(SUFFIX)


def write_samples(path: Path, evaluation: Evaluation, run: str, task: str, top_k: int = TOP_K) -> dict:
    """Write the per-query log of ``evaluation`` atomically; return the results file's ``samples``
    entry (file name, top_k, sha256)."""
    top = evaluation.top_items(top_k)
    names = list(evaluation.per_query)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "run": run,
        "task": task,
        "metrics": names,
        "top_k": top_k,
    }
    lines = [json.dumps(header, sort_keys=True)]
    for row, query in enumerate(evaluation.queries):
        evaluated = bool(evaluation.evaluated[row])
        metrics = {name: _defined(evaluation.per_query[name][row]) if evaluated else None for name in names}
        lines.append(
            json.dumps(
                {
                    "query": query.key,
                    "class": query.label,
                    "evaluated": evaluated,
                    "rank": int(evaluation.rank[row]) if evaluated else None,
                    "metrics": metrics,
                    "top": [evaluation.gallery[i].key for i in top[row] if i >= 0],
                },
                sort_keys=True,
            )
        )
    data = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=6, mtime=0)
    try:
        write_bytes_atomic(Path(path), data)
    except OSError as exc:
        raise BenchError(
            f"Cannot write the per-query log {str(path)!r}: {exc.strerror}.",
            "Free space there or pass --output-dir DIR, or run without --log-samples.",
        ) from exc
    return {"file": Path(path).name, "top_k": top_k, "sha256": hashlib.sha256(data).hexdigest()}


def _defined(value: float) -> float | None:
    """A per-query value for the log: null where a partial metric is undefined (NaN)."""
    return None if np.isnan(value) else float(value)


def read_samples(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(header, one dict per query) of a sidecar.

    Raises:
        BenchError: the file is missing, not gzip JSON lines, or not an sbir-bench samples file.
    """
    try:
        text = gzip.decompress(Path(path).read_bytes()).decode("utf-8")
        lines = [json.loads(line) for line in text.splitlines() if line]
    except FileNotFoundError:
        raise BenchError(f"No per-query log at {str(path)!r}.", "Run `bench run --log-samples`.") from None
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BenchError(f"{str(path)!r} is not a readable per-query log ({exc}).") from exc
    header = lines[0] if lines and isinstance(lines[0], dict) else {}
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise BenchError(
            f"{str(path)!r} is not an sbir-bench per-query log (format {header.get('format')!r}, "
            f"version {header.get('version')!r}; {FORMAT!r} version {VERSION} expected)."
        )
    return header, lines[1:]


def rescore(path: Path, specs: EvaluationSpecs) -> dict[str, float]:
    """The run's metrics recomputed from its per-query log: each metric's aggregate (its registered
    exactly rounded mean, or median) over the evaluated queries (equal, to the last bit, to the
    results file's).

    Raises:
        BenchError: an unreadable log, one without evaluated queries, or a metric no plugin registers.
    """
    header, rows = read_samples(path)
    kept = [row for row in rows if row["evaluated"]]
    if not kept:
        raise BenchError(f"{str(path)!r} holds no evaluated query.")
    return {
        name: aggregate(
            np.array([row["metrics"][name] for row in kept], dtype=np.float64),
            specs.metric(name, f"the per-query log {str(path)!r}").info.aggregate,
        )
        for name in header["metrics"]
    }
