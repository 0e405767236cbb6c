"""A results file's retrievals, re-ranked from the descriptors it was scored with (nothing extracted).

Its configuration is planned again as ``bench run`` plans it (the same checks, the same identity),
which gives the cache stores its descriptors were written to; they are read back, never extracted,
and scored with keep_ranks, so the result is the run's per-query log
(:class:`~bench.evaluation.samples.QueryLog`), computed instead of read. Whether the metrics equal
the results file's says whether the cache still holds the same descriptors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.api.datasets import Dataset
from bench.api.errors import BenchError
from bench.api.reporting import Reporter, SilentReporter
from bench.config.run_config import SweepSpec
from bench.evaluation.samples import TOP_K, QueryLog, query_log
from bench.execution.runner import group_request, group_texts
from bench.execution.scoring import ScoredSplits
from bench.plan.identity import results_config
from bench.plan.runs import PlannedRun
from bench.plan.study import StudyPlan, plan_study
from bench.registry.tables import Registry
from bench.results.schema import RunResult, read_result


@dataclass(frozen=True)
class Reranked:
    """A results file's retrievals.

    Attributes:
        path: the results file; result: what it holds.
        dataset: the dataset its queries and gallery come from (opened as the run opened it).
        log: every query's relevant ranks and top candidates, as ``--log-samples`` would log them.
        differences: (metric, re-ranked value, recorded value) of the metrics that differ from the
            results file (empty: the cache holds the descriptors the run scored).
    """

    path: Path
    result: RunResult
    dataset: Dataset
    log: QueryLog
    differences: list[tuple[str, float, float]]


def rerank_results(
    path: str | Path,
    *,
    registry: Registry,
    top_k: int = TOP_K,
    cache_dir: str | Path | None = None,
    data_root: str | Path | None = None,
    reporter: Reporter | None = None,
) -> Reranked:
    """Re-rank the cached descriptors of the results file ``path``.

    Args:
        top_k: candidates kept per query.
        cache_dir: the feature cache; default: the one the run recorded, when it still exists, else
            ``$SBIR_BENCH_CACHE`` or the user cache directory.
        data_root: the dataset's root (datasets read from disk).

    Raises:
        BenchError: an unreadable results file, an ensemble's or a prompt trained in the run (their
            descriptors are not one cached configuration), a configuration that no longer plans as
            it did, or descriptors the cache no longer holds (naming how to get them back).
    """
    from bench.config.cache_location import default_cache_dir
    from bench.extraction.cache import FeatureCache
    from bench.extraction.cached import GroupItems, cached_descriptors

    path = Path(path)
    reporter = reporter or SilentReporter()
    specs = registry.evaluation_specs()
    result = read_result(path, specs)
    plan, run = _plan_again(path, result.config, registry, data_root)
    dataset = plan.dataset(run)
    queries, gallery = dataset.split("query"), dataset.split("gallery")
    request, base_fields = group_request([run], run.prompt_condition(registry))
    root = Path(cache_dir) if cache_dir else _recorded_cache(result) or default_cache_dir()
    texts = plan.query_texts(run)
    group = cached_descriptors(
        GroupItems(dataset, queries + gallery, group_texts(texts, gallery)),
        request,
        base_fields,
        cache=FeatureCache(root, run.cache_dtype),
        progress=lambda what, total: reporter.progress(f"{what} ({run.dataset.id})", total),
    )
    key = (run.t, run.layer.name)
    missing = _not_cached(group.skipped)
    if missing:
        raise _gone(path, result, root, group.hits[key], group.hits[key] + missing)
    scored = ScoredSplits(specs, dataset, queries, gallery, group.skipped, reporter, texts)
    evaluation = scored.evaluate(run.dataset, group.descriptors[key], keep_ranks=True)
    log = query_log(evaluation, result.name, result.task, result.config, top_k, str(path))
    return Reranked(path, result, dataset, log, _differences(evaluation.metrics, result.metrics))


def _plan_again(
    path: Path, config: dict[str, Any], registry: Registry, data_root: str | Path | None
) -> tuple[StudyPlan, PlannedRun]:
    """The plan and its one planned run of the configuration ``config`` recorded in the
    results file ``path``, checked to have the identity it had (see :func:`_check_identity`)."""
    spec = _rerun_spec(path, config, data_root)
    plan = plan_study(spec, registry)
    (run,) = plan.runs
    _check_identity(path, config, results_config(run))
    return plan, run


def _differences(reranked: dict[str, float], recorded: dict[str, float]) -> list[tuple[str, float, float]]:
    """(metric, re-ranked value, recorded value) of the recorded metrics whose value differs."""
    return [
        (name, value, recorded[name])
        for name, value in reranked.items()
        if name in recorded and value != recorded[name]
    ]


def _rerun_spec(path: Path, config: dict[str, Any], data_root: str | Path | None) -> SweepSpec:
    """The settings that plan the configuration ``config`` of the results file ``path`` again."""
    if "ensemble" in config:
        raise BenchError(
            f"{str(path)!r} is the results file of an ensemble: its descriptors combine its members' "
            "and are not cached as one configuration.",
            "Plot its members' results files, or the ensemble's per-query log (`bench run --log-samples`).",
        )
    if "train" in config:
        raise BenchError(
            f"{str(path)!r} scored a prompt trained in its run ({config.get('prompt')}): its "
            "descriptors are keyed by that prompt's tensors, which the results file does not hold.",
            "Plot its per-query log (`bench run --log-samples`), or rerun it with --prompt learned:FILE.",
        )
    if config.get("probe") not in (None, "none"):
        raise BenchError(
            f"{str(path)!r} scored its descriptors through a linear probe ({config['probe']}): the "
            "probed descriptors are not cached, and the results file does not hold the probe's weights.",
            "Plot its per-query log (`bench run --log-samples`), or the results file of the same "
            "configuration without --probe.",
        )
    dataset = str(config["dataset"])
    return SweepSpec(
        backbone=(config["backbone"],),
        weights={config["backbone"]: config["weights"]},
        layer=(config["layer"],),
        pool=config.get("pool"),
        t=() if config.get("t") is None else (config["t"],),
        prompt=(config["prompt"],),
        dataset=(dataset,),
        dataset_options=dict(config.get("dataset_options") or {}),
        data_root={dataset: str(data_root)} if data_root is not None else {},
        dtype=config.get("dtype", "fp32"),
        cache_dtype=config.get("cache_dtype", "fp16"),
        image_size=config.get("image_size"),
        noise_samples=config.get("noise_samples") or 1,
        seed=config.get("seed") or 0,
        query_text=config.get("query_text"),
        limit=config.get("limit"),
        device="cpu",
        workers=0,
    )


def _check_identity(path: Path, recorded: dict[str, Any], planned: dict[str, Any]) -> None:
    """Raise when the configuration recorded in ``path`` plans as another one now (its weights
    resolve to other bytes, a setting means something else): its descriptors are not this one's."""
    changed = sorted(key for key in set(recorded) | set(planned) if recorded.get(key) != planned.get(key))
    if changed:
        detail = "; ".join(f"{key}: {recorded.get(key)!r} then, {planned.get(key)!r} now" for key in changed)
        raise BenchError(
            f"The configuration of {str(path)!r} plans differently now ({detail}), so its cached "
            "descriptors cannot be found.",
            "Rerun it (`bench run` with its settings) and plot the new results file, or plot its "
            "per-query log.",
        )


def _recorded_cache(result: RunResult) -> Path | None:
    """The cache folder the run recorded, when it still exists."""
    recorded = result.runtime.get("cache_dir")
    return Path(recorded) if isinstance(recorded, str) and Path(recorded).is_dir() else None


def _not_cached(skipped: list[tuple[int, str]]) -> int:
    from bench.extraction.cached import NOT_CACHED

    return sum(reason == NOT_CACHED for _, reason in skipped)


def _gone(path: Path, result: RunResult, root: Path, found: int, wanted: int) -> BenchError:
    """The error for a results file whose descriptors the cache ``root`` no longer holds."""
    config = result.config
    what = f"{config['backbone']} {config['layer']}" + (
        f" t={config['t']}" if config.get("t") is not None else ""
    )
    command = result.provenance.get("command") if isinstance(result.provenance, dict) else None
    rerun = f"`{' '.join(command)}`" if command else "`bench run` with its settings"
    return BenchError(
        f"The feature cache {str(root)!r} holds {found} of the {wanted} descriptors of {str(path)!r} "
        f"({what} on {config['dataset']}): they were cleared, or written to another cache. Nothing "
        "is extracted when re-ranking a results file.",
        f"Rerun it to extract them again ({rerun}, with --cache-dir {root} if it used another), pass "
        "--cache-dir where they are, or use its per-query log (`bench run --log-samples`).",
    )
