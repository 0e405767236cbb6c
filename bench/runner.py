"""Executing a planned sweep: load each backbone and dataset once, extract, evaluate, write results.

Configurations that share (backbone, weights, image size, dataset, prompt) form one extraction
group: their layers and timesteps are read from the same batches (one VAE encode per image and one
truncated UNet pass per timestep for diffusion backbones).
"""

from __future__ import annotations

import contextlib
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from bench.components import DatasetInfo, PromptCondition
from bench.datasets import ImageItem
from bench.ensemble import (
    EnsemblePlan,
    MemberDescriptors,
    combine,
    ensemble_config,
    plan_ensembles,
    skipped_by_any,
)
from bench.planning import PlannedRun
from bench.query_text import QueryTexts, check_query_text, query_texts, run_config
from bench.registry import Registry
from bench.results import RunResult, run_name, write_result
from bench.sweep import SweepSpec

RECORDED_PACKAGES = ("sbir-bench", "torch", "diffusers", "transformers", "open_clip_torch", "timm", "numpy")


class Reporter(Protocol):
    """How a run tells the user what it is doing (the CLI draws rich progress bars)."""

    def status(self, message: str) -> None: ...

    def progress(
        self, description: str, total: int, unit: str = "img"
    ) -> contextlib.AbstractContextManager[Callable[[int], None]]:
        """A context yielding ``advance(count)``; ``unit`` names what is counted (rate per second)."""
        ...


class SilentReporter:
    """A :class:`Reporter` that shows nothing (library use, tests)."""

    def status(self, message: str) -> None:
        pass

    @contextlib.contextmanager
    def progress(self, description: str, total: int, unit: str = "img") -> Iterator[Callable[[int], None]]:
        yield lambda n: None


@dataclass
class FinishedRun:
    """A written result and where it went."""

    result: RunResult
    path: Path


def library_versions() -> dict[str, str]:
    """Versions of Python and of the installed packages that affect numbers."""
    versions = {"python": platform.python_version()}
    for package in RECORDED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


def peak_memory_mb(device: Any) -> float:
    """Peak resident memory of this process (CPU) or peak allocated memory (CUDA), in MiB."""
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def torch_device(name: str):
    import torch

    return torch.device(name)


def _dataset_key(run: PlannedRun) -> tuple:
    """What identifies an opened dataset: its id, root and options."""
    return (run.dataset.id, str(run.data_root), tuple(sorted(run.dataset_options.items())))


def _group_key(run: PlannedRun) -> tuple:
    options = tuple(sorted(run.dataset_options.items()))
    return (
        run.backbone.id,
        run.weights,
        run.image_size,
        run.dataset.id,
        str(run.data_root),
        options,
        run.prompt,
        (run.layer.name, run.t) if run.train is not None else (),  # a learned prompt fits one (layer, t)
    )


class ScoredSplits:
    """The queries and gallery of one extraction group, without the images that could not be read.

    Args:
        queries, gallery: the dataset's splits; descriptor rows are queries first, then gallery.
        skipped: (row, reason) of unreadable images (reported once, recorded in every result).
        texts: the queries' texts when they are sketch+text queries (counted in every result).
    """

    def __init__(
        self,
        dataset,
        queries: list[ImageItem],
        gallery: list[ImageItem],
        skipped: list[tuple[int, str]],
        reporter: Reporter,
        texts: QueryTexts | None = None,
    ) -> None:
        items = queries + gallery
        missing = {row for row, _ in skipped}
        self.dataset = dataset
        self.query_rows = [row for row in range(len(queries)) if row not in missing]
        self.gallery_rows = [row for row in range(len(queries), len(items)) if row not in missing]
        self.queries = [items[row] for row in self.query_rows]
        self.gallery = [items[row] for row in self.gallery_rows]
        self.skipped_facts = {
            "skipped_images": len(skipped),
            "skipped_examples": [items[row].key for row, _ in skipped[:5]],
        }
        self.text_facts = texts.facts(self.query_rows) if texts else {}
        if skipped:
            row, reason = skipped[0]
            reporter.status(
                f"skipped {len(skipped)} unreadable image(s), e.g. {items[row].key}: {reason} "
                "(--strict stops at the first one)"
            )

    def result(
        self,
        config: dict[str, Any],
        info: DatasetInfo,
        backbone_note: str | None,
        descriptors: Any,
        shared: dict[str, dict],
    ) -> RunResult:
        """Score ``descriptors`` (rows as in the dataset's query + gallery order) for ``config``."""
        from bench.evaluation import evaluate

        started = time.perf_counter()
        metrics, facts = evaluate(
            self.dataset,
            info,
            self.queries,
            self.gallery,
            descriptors[self.query_rows],
            descriptors[self.gallery_rows],
        )
        listed = {"id": info.id, "columns": list(info.columns)}
        return RunResult(
            task=info.task,
            config=config,
            dataset={**listed, **facts, **self.skipped_facts, **self.text_facts, **self.dataset.describe()},
            metrics=metrics,
            backbone_note=backbone_note,
            extractor=shared["extractor"],
            runtime={**shared["runtime"], "evaluate_seconds": round(time.perf_counter() - started, 4)},
            versions=library_versions(),
        )


class SweepRunner:
    """Runs the configurations of one sweep, caching the loaded backbone and datasets between groups.

    Args:
        spec: the sweep (shared settings: noise draws, seed, batch size, device, dtype, cache).
        registry: the components.
        reporter: progress display.

    Under ``torchrun``/``accelerate launch`` every process extracts its share into the cache and
    only the main process scores and writes results (:meth:`run` returns nothing elsewhere).
    """

    def __init__(self, spec: SweepSpec, registry: Registry, reporter: Reporter | None = None) -> None:
        from bench.cache import FeatureCache, default_cache_dir
        from bench.devices import resolve_device, resolve_dtype, slow_dtype_warning
        from bench.distributed import join_world

        self.spec = spec
        self.registry = registry
        self.reporter = reporter or SilentReporter()
        self.device = resolve_device(spec.device)
        self.world = join_world(self.device.type)
        if not self.world.is_main:
            self.reporter = SilentReporter()  # one progress display: the main process's
        if self.world.size > 1 and self.device.type == "cuda" and self.device.index is None:
            self.device = torch_device(f"cuda:{self.world.local_rank}")
        self.cache = FeatureCache(
            Path(spec.cache_dir) if spec.cache_dir else default_cache_dir(), spec.cache_dtype
        )
        self.dtype = resolve_dtype(spec.dtype, self.device)
        warning = slow_dtype_warning(self.dtype, self.device)
        if warning:
            self.reporter.status(warning)
        self._backbone_key: tuple | None = None
        self._backbone: Any = None
        self._datasets: dict[tuple, Any] = {}
        self._members: dict[str, MemberDescriptors] = {}  # by run name, kept when spec.ensemble is set
        self.study_tags: list[dict[str, Any]] = []  # rows of an ablation study the results stand for
        self._texts: dict[tuple, QueryTexts] = {}  # by (query text source, dataset key)

    def switch_spec(self, spec: SweepSpec, study_tags: list[dict[str, Any]]) -> None:
        """Run the next configurations with ``spec`` (an ablation variant), keeping the loaded backbone
        and datasets (device, dtype and cache must stay the same); their results carry ``study_tags``
        (see :mod:`bench.ablation`)."""
        fixed = ("device", "dtype", "cache_dir", "cache_dtype", "compile")
        changed = [name for name in fixed if getattr(spec, name) != getattr(self.spec, name)]
        if changed:
            raise ValueError(f"a runner cannot change {', '.join(changed)} between sweeps")
        self.spec = spec
        self.study_tags = study_tags

    def _write(self, result: RunResult) -> FinishedRun:
        """Write ``result`` (tagged with the current study's rows, if any) into the output folder."""
        result.ablation = list(self.study_tags)
        return FinishedRun(result, write_result(Path(self.spec.output_dir), result))

    def _load_backbone(self, run: PlannedRun):
        key = (run.backbone.id, run.weights, run.image_size)
        if key != self._backbone_key:
            self._backbone = None  # free the previous model before loading the next
            self.reporter.status(f"loading backbone {run.backbone.id} ({run.weights})")
            self._backbone = run.load_backbone(self.device, self.dtype)
            if self.spec.compile:
                self._compile(run.backbone.id)
            self._backbone_key = key
        return self._backbone

    def _compile(self, backbone_id: str) -> None:
        compile_backbone = getattr(self._backbone, "compile", None)
        if compile_backbone is None:
            self.reporter.status(f"backbone {backbone_id} cannot be compiled; running it eagerly")
            return
        self.reporter.status(f"compiling {backbone_id} (torch.compile; the first batch is slow)")
        compile_backbone()

    def _prompt(self, run: PlannedRun) -> tuple[PromptCondition, dict[str, str]]:
        """The run's prompt condition, and (learned schemes) the prompt file fact for results: a learned
        scheme is trained first, or read from the file a run with the same settings saved."""
        if run.train is None:
            return run.prompt_condition(self.registry), {}
        from bench.trained_prompts import trained_condition

        float32 = self.spec.dtype == "fp32"  # training needs float32 weights (bf16 runs as autocast)
        load = (lambda: self._load_backbone(run)) if float32 else None
        condition, path = trained_condition(run, self.spec, self.registry, self.reporter, load)
        return condition, {"prompt_file": str(path)}

    def _dataset(self, run: PlannedRun):
        key = _dataset_key(run)
        if key not in self._datasets:
            self._datasets[key] = run.open_dataset()
        return self._datasets[key]

    def _query_texts(self, run: PlannedRun) -> QueryTexts | None:
        """The texts of the run's queries with ``--query-text`` (resolved once per dataset), else None."""
        if self.spec.query_text is None:
            return None
        key = (self.spec.query_text, *_dataset_key(run))
        if key not in self._texts:
            self._texts[key] = query_texts(self.spec.query_text, self._dataset(run), run.dataset.id)
        return self._texts[key]

    def run_group(self, runs: list[PlannedRun]) -> list[FinishedRun]:
        """Descriptors for every layer and timestep of ``runs`` (one group) from the cache, extracting
        only what is missing; then (main process only) score each run and write its results file."""
        from bench.cached_extraction import (
            code_fingerprint,
            group_descriptors,
            prompt_fingerprint,
            weights_fingerprint,
        )
        from bench.extract import ExtractionRequest

        first = runs[0]
        dataset = self._dataset(first)
        queries, gallery = dataset.split("query"), dataset.split("gallery")
        prompt, prompt_file = self._prompt(first)
        request = ExtractionRequest(
            layers=tuple(dict.fromkeys(run.layer for run in runs)),
            timesteps=tuple(dict.fromkeys(run.t for run in runs)),
            noise_samples=self.spec.noise_samples,
            seed=self.spec.seed,
            prompt=prompt,
            batch_size=self.spec.batch_size,
        )
        base_fields = {
            "backbone": first.backbone.id,
            "weights": weights_fingerprint(first.weights),
            "code": code_fingerprint(first.backbone.target),
            "image_size": first.image_size,
            "dtype": self.spec.dtype,
            "noise_samples": self.spec.noise_samples if first.backbone.num_timesteps else None,
            "seed": self.spec.seed,
            "prompt": first.prompt,
            "prompt_content": prompt_fingerprint(prompt),
        }
        label = f"{first.backbone.id} on {first.dataset.id}"
        texts = self._query_texts(first)  # only the queries: gallery photos keep the run's prompt
        group = group_descriptors(
            dataset=dataset,
            items=queries + gallery,
            request=request,
            base_fields=base_fields,
            cache=self.cache,
            world=self.world,
            load_backbone=lambda: self._load_backbone(first),
            progress=lambda what, total: self.reporter.progress(f"{what} ({label})", total),
            workers=self.spec.workers,
            strict=self.spec.strict,
            texts=(*texts.texts, *[None] * len(gallery)) if texts else None,
        )
        for problem in group.cache_problems:
            self.reporter.status(f"cache: unusable shard moved aside, its rows are recomputed: {problem}")
        if not self.world.is_main:
            return []
        scored = ScoredSplits(dataset, queries, gallery, group.skipped, self.reporter, texts)
        images = len(queries) + len(gallery)
        finished = []
        for run in runs:
            key = (run.t, run.layer.name)
            shared = {
                "extractor": {**run.backbone.facts, **prompt_file},
                "runtime": {
                    "device": str(self.device),
                    "processes": self.world.size,
                    "batch_size": self.spec.batch_size,
                    "group_configurations": len(runs),
                    "group_extract_seconds": round(group.extract_seconds, 3),
                    "images": images,
                    "cache_hits": group.hits[key],
                    "cache_misses": images - len(group.skipped) - group.hits[key],
                    "extracted_by_main_process": group.extracted,
                    "cache_dir": str(self.cache.root),
                },
            }
            descriptors = group.descriptors[key]
            config = run_config(run, self.spec)
            result = scored.result(config, run.dataset, run.backbone.note, descriptors, shared)
            result.runtime["peak_memory_mb"] = round(peak_memory_mb(self.device), 1)
            finished.append(self._write(result))
            if self.spec.ensemble:
                self._members[result.name] = MemberDescriptors(result, descriptors, group.skipped)
        return finished

    def run_ensemble(self, plan: EnsemblePlan) -> FinishedRun:
        """Score and write the ensemble of ``plan`` from its members' descriptors (kept by
        :meth:`run_group`, which must have run every member; nothing is extracted)."""
        members = [self._members[run_name(run_config(run, self.spec))] for run in plan.members]
        first = plan.members[0]
        dataset = self._dataset(first)
        queries, gallery = dataset.split("query"), dataset.split("gallery")
        started = time.perf_counter()
        descriptors = combine(plan.method, [member.descriptors for member in members], plan.weights)
        notes = dict.fromkeys(m.result.backbone_note for m in members if m.result.backbone_note)
        shared = {
            "extractor": {
                "ensemble": f"{plan.method} of the L2-normalised descriptors of {len(members)} runs"
            },
            "runtime": {
                "processes": self.world.size,
                "ensemble_members": len(members),
                "descriptor_dim": int(descriptors.shape[1]),
                "images": len(queries) + len(gallery),
                "combine_seconds": round(time.perf_counter() - started, 4),
            },
        }
        scored = ScoredSplits(
            dataset, queries, gallery, skipped_by_any(members), SilentReporter(), self._query_texts(first)
        )
        config = ensemble_config(plan, [member.result for member in members])
        result = scored.result(config, first.dataset, "; ".join(notes) or None, descriptors, shared)
        return self._write(result)

    def run(self, planned: list[PlannedRun]) -> list[FinishedRun]:
        """Every planned configuration, grouped for shared extraction, in plan order; then the
        ensemble of each dataset when the sweep asks for one (``spec.ensemble``)."""
        ensembles = plan_ensembles(self.spec, planned)  # checked before any dataset opens
        check_query_text(self.spec, planned, self.registry)
        groups: dict[tuple, list[PlannedRun]] = {}
        for run in planned:
            groups.setdefault(_group_key(run), []).append(run)
            self._dataset(run)  # open every dataset first: a wrong root fails before any model loads
            self._query_texts(run)  # and a query without a text
        finished: list[FinishedRun] = []
        for runs in groups.values():
            finished.extend(self.run_group(runs))
        if self.world.is_main:
            finished.extend(self.run_ensemble(plan) for plan in ensembles)
        return finished
