"""Executing a checked study plan: load each backbone once, extract per group, score, write results.

Configurations that share a group key (:func:`bench.plan.identity.group_key`: backbone, weights,
image size, dataset, prompt, query texts) form one extraction group: their layers and timesteps are
read from the same batches (one VAE encode per image and one truncated UNet pass per timestep for
diffusion backbones). Everything was validated by :func:`bench.plan.study.plan_study`; datasets
come opened from the plan.

Under ``torchrun``/``accelerate launch`` every process extracts its share into the cache and only
the main process scores and writes results (:meth:`StudyRunner.run` returns nothing elsewhere).

A rerun whose descriptors all come from the cache keeps the extraction timings of the results file
it replaces (they describe extraction, which it did not do). With ``skip_existing``, configurations
whose results file exists are neither extracted nor scored; their files are reported as they are.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench.api.components import PromptCondition
from bench.api.evaluation import EvaluationSpecs
from bench.api.reporting import Reporter, SilentReporter
from bench.evaluation.ensembles import MemberDescriptors, combine, ensemble_config, skipped_by_any
from bench.execution.provenance import run_provenance
from bench.execution.scoring import ScoredRun, ScoredSplits, require_readable_splits
from bench.plan.ensembles import EnsemblePlan, describe_member
from bench.plan.identity import backbone_key, cache_fields, group_key, results_config
from bench.plan.runs import PlannedRun
from bench.plan.study import PlannedSweep, StudyPlan
from bench.registry.tables import Registry
from bench.results.naming import run_name
from bench.results.schema import RunResult, config_path, read_result, result_path, write_result

EXTRACTION_TIMINGS = (
    "device",
    "processes",
    "batch_size",
    "group_configurations",
    "group_extract_seconds",
    "extracted_by_main_process",
    "peak_memory_mb",
)
"""The runtime facts of a results file that describe extraction (kept by a fully cached rerun)."""


@dataclass(frozen=True)
class GroupInputs:
    """What every extraction of one group shares.

    Attributes:
        dataset: the opened dataset.
        prompt_facts: a learned prompt scheme's facts for results (``{"extractor": {"prompt_file"},
            "dataset": {"training_data"}}``; empty tables for other prompts).
        request: the prompt, layers, timesteps, noise draws and batch size of the extraction.
        base_fields: the fields that key the group's cache stores.
        prompt_content: the hash of the prompt's text and learned tensors.
        trained_prompt: ``prompt_content`` for a learned prompt scheme (in the run identity), else None.
    """

    dataset: Any
    prompt_facts: dict[str, dict[str, Any]]
    request: Any
    base_fields: dict[str, Any]
    prompt_content: str
    trained_prompt: str | None


@dataclass
class FinishedRun:
    """A result and its file: written by this run, or (``reused``) left as it was (skip_existing)."""

    result: RunResult
    path: Path
    reused: bool = False


def group_request(runs: list[PlannedRun], prompt: PromptCondition) -> tuple[Any, dict[str, Any]]:
    """What extracting the group ``runs`` (one group key) with ``prompt`` asks for (an
    :class:`~bench.extraction.loop.ExtractionRequest` with the runs' execution settings, whose seed
    is the one their identity records), and the fields that key its cache stores."""
    from bench.extraction.fingerprints import code_fingerprint, prompt_fingerprint
    from bench.extraction.loop import ExtractionRequest

    first = runs[0]
    request = ExtractionRequest(
        layers=tuple(dict.fromkeys(run.layer for run in runs)),
        timesteps=tuple(dict.fromkeys(run.t for run in runs)),
        noise_samples=first.noise_samples or 1,
        prompt=prompt,
        settings=first.settings,
    )
    code = code_fingerprint(first.backbone.target)
    return request, cache_fields(first, code=code, prompt_content=prompt_fingerprint(prompt))


def group_texts(texts: Any, gallery: list) -> tuple[str | None, ...] | None:
    """Per item (queries, then ``gallery``), the text it is conditioned on: the queries' own texts
    with ``--query-text`` (``texts``, a :class:`~bench.plan.query_text.QueryTexts`), else None."""
    return (*texts.texts, *[None] * len(gallery)) if texts else None


class StudyRunner:
    """Runs every sweep of a :class:`StudyPlan` on one device, one cache and one loaded backbone at a
    time (a backbone shared by consecutive groups, or sweeps, loads once).

    Args:
        plan: the checked plan (its execution settings: device, dtype and cache).
        registry: the components (prompt schemes build their conditions).
        reporter: progress display.
        command: the command line recorded in each result's provenance (default: the process's).
    """

    def __init__(
        self,
        plan: StudyPlan,
        registry: Registry,
        reporter: Reporter | None = None,
        command: list[str] | None = None,
    ) -> None:
        from bench.config.cache_location import default_cache_dir
        from bench.extraction.cache import FeatureCache
        from bench.extraction.devices import resolve_device, resolve_dtype, slow_dtype_warning
        from bench.extraction.distributed import join_world, launched_world, rank_device

        self.plan = plan
        self.registry = registry
        self.specs = registry.evaluation_specs()
        self.command = command
        settings = plan.settings
        self.settings = settings
        self.reporter = reporter or SilentReporter()
        # this rank's device (cuda:LOCAL_RANK) first: join_world binds it before the process group
        self.device = rank_device(resolve_device(settings.device), launched_world())
        self.world = join_world(self.device)
        if not self.world.is_main:
            self.reporter = SilentReporter()  # one progress display: the main process's
        self.cache = FeatureCache(
            Path(settings.cache_dir) if settings.cache_dir else default_cache_dir(), settings.cache_dtype
        )
        self.dtype = resolve_dtype(settings.dtype, self.device)
        warning = slow_dtype_warning(self.dtype, self.device)
        if warning:
            self.reporter.status(warning)
        self._backbone_key: tuple | None = None
        self._backbone: Any = None
        self._members: dict[str, MemberDescriptors] = {}  # by run name, kept for ensembles

    def _load_backbone(self, run: PlannedRun):
        """The loaded backbone of ``run`` (a :class:`~bench.extraction.features.LoadedBackbone`)."""
        from bench.extraction.loading import load_planned_backbone

        key = backbone_key(run)
        if key != self._backbone_key:
            self._backbone = None  # free the previous model before loading the next
            self.reporter.status(f"loading backbone {run.backbone.id} ({run.weights})")
            self._backbone = load_planned_backbone(run, device=self.device, dtype=self.dtype)
            if self.settings.compile:
                self._compile(run.backbone.id)
            self._backbone_key = key
        return self._backbone

    def _compile(self, backbone_id: str) -> None:
        from bench.api.backbones import Compilable

        if not isinstance(self._backbone.model, Compilable):
            self.reporter.status(f"backbone {backbone_id} cannot be compiled; running it eagerly")
            return
        self.reporter.status(f"compiling {backbone_id} (torch.compile; the first batch is slow)")
        self._backbone.model.compile()

    def _prompt(self, run: PlannedRun, spec: Any) -> tuple[PromptCondition, dict[str, dict[str, Any]]]:
        """The run's prompt condition, and (learned schemes) its facts for results: the prompt file
        (``extractor``) and what it was trained on (``dataset``'s ``training_data``). A learned
        scheme is trained first, or read from the file a run with the same settings saved."""
        if run.train is None:
            return run.prompt_condition(self.registry), {"extractor": {}, "dataset": {}}
        from bench.prompts.files import read_header
        from bench.prompts.in_runs import trained_condition

        # training needs float32 weights (bf16 runs as autocast; tf32 keeps float32 weights)
        load = (lambda: self._load_backbone(run)) if self.settings.float32_weights else None
        condition, path = trained_condition(run, spec, self.registry, self.reporter, load)
        trained_on = {"training_data": read_header(path)["training_data"]}
        return condition, {"extractor": {"prompt_file": str(path)}, "dataset": trained_on}

    def _write(self, scored: ScoredRun, sweep: PlannedSweep, *, cached: bool = False) -> FinishedRun:
        """Write ``scored``'s result (tagged with its sweep's study rows, if any) into the output
        folder, with its per-query log when the run asks for one. ``cached``: no descriptor was
        extracted, so the extraction timings of the file it replaces are kept."""
        from bench.evaluation.samples import samples_path, write_samples

        result = scored.result
        result.ablation = list(sweep.tags)
        output = Path(sweep.spec.output_dir)
        path = result_path(output, result)
        if cached:
            _keep_first_timings(result, path, self.specs)
        if sweep.spec.log_samples:
            result.samples = write_samples(
                samples_path(path), scored.evaluation, result.name, result.task, result.config
            )
        return FinishedRun(result, write_result(output, result, self.specs))

    def _group_inputs(self, runs: list[PlannedRun], sweep: PlannedSweep) -> GroupInputs:
        """The prompt (trained first for a learned scheme), extraction request and cache fields of
        ``runs``, one extraction group."""
        first = runs[0]
        prompt, prompt_facts = self._prompt(first, sweep.spec)
        request, base_fields = group_request(runs, prompt)
        prompt_content = base_fields["prompt_content"]
        trained_prompt = prompt_content if first.train is not None else None  # in the run identity
        return GroupInputs(
            self.plan.dataset(first), prompt_facts, request, base_fields, prompt_content, trained_prompt
        )

    def _descriptors(
        self,
        first: PlannedRun,
        inputs: GroupInputs,
        items: list,
        what: str,
        texts: tuple[str | None, ...] | None = None,
    ) -> Any:
        """The :class:`~bench.extraction.cached.GroupDescriptors` of ``items`` through the cache
        (extracting only what is missing); ``what`` names them in progress lines."""
        from bench.extraction.cached import GroupItems, group_descriptors

        label = f"{first.backbone.id} on {first.dataset.id}{what}"
        group = group_descriptors(
            GroupItems(inputs.dataset, items, texts),
            inputs.request,
            inputs.base_fields,
            cache=self.cache,
            world=self.world,
            load_backbone=lambda: self._load_backbone(first),
            progress=lambda step, total: self.reporter.progress(f"{step} ({label})", total),
        )
        for problem in group.cache_problems:
            self.reporter.status(f"cache: {problem}")
        return group

    def _train_probes(self, runs: list[PlannedRun], spec: Any, inputs: GroupInputs) -> None:
        """Train the ``--probe linear`` probes of ``runs`` not saved yet, on the train split's
        descriptors of their layers and timesteps (extracted through the cache by every process;
        trained by the main one)."""
        from bench.execution.probes import TrainSplit, needs_training, probe_path, train_run_probe

        trained = [run for run in runs if run.probe_train is not None]
        todo = [run for run in trained if needs_training(run, spec, inputs.trained_prompt)]
        for run in trained if self.world.is_main else []:
            if run not in todo:
                path = probe_path(run, spec, inputs.trained_prompt)
                self.reporter.status(f"using the linear probe trained before: {path}")
        if not todo:
            return
        request = replace(
            inputs.request,
            layers=tuple(dict.fromkeys(run.layer for run in todo)),
            timesteps=tuple(dict.fromkeys(run.t for run in todo)),
        )
        items = inputs.dataset.split("train")
        split = self._descriptors(todo[0], replace(inputs, request=request), items, ", train split")
        for run in todo if self.world.is_main else []:
            self.reporter.status(f"training a linear probe for {describe_member(run)}")
            path = probe_path(run, spec, inputs.trained_prompt)
            train = TrainSplit(inputs.dataset, items, split)
            train_run_probe(
                run, spec, train, path, inputs.prompt_content, device=self.device, reporter=self.reporter
            )

    def train_probe(self, run: PlannedRun, sweep: PlannedSweep, output: Path, resume: bool = False) -> Any:
        """``bench train --probe linear``: train ``run``'s probe (on the train split's descriptors,
        through the cache) and save it to ``output``; the
        :class:`~bench.prompts.triplet_training.TrainOutcome` on the main process, None on the others."""
        from bench.execution.probes import TrainSplit, probe_training, train_run_probe
        from bench.prompts.triplet_training import resume_state

        state = resume_state(output, asdict(probe_training(run, sweep.spec)), resume)  # before extracting
        inputs = self._group_inputs([run], sweep)
        items = inputs.dataset.split("train")
        split = self._descriptors(run, inputs, items, ", train split")
        if not self.world.is_main:
            return None
        return train_run_probe(
            run,
            sweep.spec,
            TrainSplit(inputs.dataset, items, split),
            output,
            inputs.prompt_content,
            device=self.device,
            reporter=self.reporter,
            state=state,
        )

    def run_group(self, runs: list[PlannedRun], sweep: PlannedSweep) -> list[FinishedRun]:
        """Descriptors for every layer and timestep of ``runs`` (one group) from the cache, extracting
        only what is missing, and the probes it trains; then (main process only) score each run
        (through its probe, if any) and write its results file."""
        first = runs[0]
        inputs = self._group_inputs(runs, sweep)
        dataset = inputs.dataset
        queries, gallery = dataset.split("query"), dataset.split("gallery")
        texts = self.plan.query_texts(first)  # only the queries: gallery photos keep the run's prompt
        group = self._descriptors(first, inputs, queries + gallery, "", group_texts(texts, gallery))
        require_readable_splits(first.dataset.id, queries, gallery, group.skipped)
        self._train_probes(runs, sweep.spec, inputs)
        if not self.world.is_main:
            return []
        scored = ScoredSplits(self.specs, dataset, queries, gallery, group.skipped, self.reporter, texts)
        counts = (len(runs), len(queries) + len(gallery))
        finished = []
        for run in runs:
            outcome, descriptors = self._score_run(run, counts, sweep, inputs, group, scored)
            finished.append(self._write(outcome, sweep, cached=group.extracted == 0))
            if sweep.ensembles:  # kept under the planned configuration, where run_ensemble looks
                member = MemberDescriptors(outcome.result, descriptors, group.skipped)
                self._members[run_name(results_config(run))] = member
        return finished

    def _score_run(
        self,
        run: PlannedRun,
        counts: tuple[int, int],
        sweep: PlannedSweep,
        inputs: GroupInputs,
        group: Any,
        scored: ScoredSplits,
    ) -> tuple[ScoredRun, Any]:
        """``run``'s scored result from its group's descriptors (``group``; through its probe, if
        any) and the descriptors it scored; ``counts``: the group's runs and images."""
        from bench.execution.probes import read_run_probe
        from bench.extraction.devices import peak_memory_mb
        from bench.plan.probes import apply_probe

        key = (run.t, run.layer.name)
        descriptors, probe, probe_file, probe_data = group.descriptors[key], None, {}, {}
        if run.probe is not None:
            probe = read_run_probe(run, sweep.spec, inputs.trained_prompt)
            descriptors = apply_probe(probe.weight, descriptors)
            probe_file = {"probe_file": str(probe.path)}
            if probe.training_data is not None:
                probe_data = {"probe_training_data": probe.training_data}
        group_size, images = counts
        shared = {
            "provenance": run_provenance([run], self.device, self.command),
            "extractor": {**run.backbone.facts, **inputs.prompt_facts["extractor"], **probe_file},
            "dataset": {**inputs.prompt_facts["dataset"], **probe_data},
            "runtime": {
                "device": str(self.device),
                "processes": self.world.size,
                "batch_size": run.settings.batch_size,
                "group_configurations": group_size,
                "group_extract_seconds": round(group.extract_seconds, 3),
                "images": images,
                "cache_hits": group.hits[key],
                "cache_misses": images - len(group.skipped) - group.hits[key],
                "extracted_by_main_process": group.extracted,
                "cache_dir": str(self.cache.root),
            },
        }
        config = results_config(run, inputs.trained_prompt, probe.content if probe else None)
        outcome = scored.score(
            config, run.dataset, run.backbone.note, descriptors, shared, keep_ranks=sweep.spec.log_samples
        )
        outcome.result.runtime["peak_memory_mb"] = round(peak_memory_mb(self.device), 1)
        return outcome, descriptors

    def run_ensemble(self, plan: EnsemblePlan, sweep: PlannedSweep) -> FinishedRun:
        """Score and write the ensemble of ``plan`` from its members' descriptors (kept by
        :meth:`run_group`, which must have run every member; nothing is extracted)."""
        members = [self._members[run_name(results_config(run))] for run in plan.members]
        first = plan.members[0]
        dataset = self.plan.dataset(first)
        queries, gallery = dataset.split("query"), dataset.split("gallery")
        started = time.perf_counter()
        descriptors = combine(plan.method, [member.descriptors for member in members], plan.weights)
        notes = dict.fromkeys(m.result.backbone_note for m in members if m.result.backbone_note)
        shared = {
            "provenance": run_provenance(plan.members, self.device, self.command),
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
        texts = self.plan.query_texts(first)
        scored = ScoredSplits(
            self.specs, dataset, queries, gallery, skipped_by_any(members), SilentReporter(), texts
        )
        config = ensemble_config(plan, [member.result for member in members])
        note = "; ".join(notes) or None
        outcome = scored.score(
            config, first.dataset, note, descriptors, shared, keep_ranks=sweep.spec.log_samples
        )
        return self._write(outcome, sweep)

    def run(self) -> list[FinishedRun]:
        """Every sweep's configurations, grouped for shared extraction; after each sweep, its
        ensembles. Finished runs are listed in plan order, whether written now or left as they
        were (``skip_existing``), so a rerun prints the same table as the first run."""
        finished: list[FinishedRun] = []
        for sweep in self.plan.sweeps:
            done: dict[int, FinishedRun] = {}  # by the run's position in the sweep
            groups: dict[tuple, list[int]] = {}
            for index, run in enumerate(sweep.runs):
                existing = self._existing(run, sweep)
                if existing is not None:
                    done[index] = existing
                    continue
                groups.setdefault(group_key(run), []).append(index)
            for indices in groups.values():
                written = self.run_group([sweep.runs[i] for i in indices], sweep)
                if self.world.is_main:  # the other processes only extract
                    done.update(zip(indices, written, strict=True))
            finished.extend(done[index] for index in sorted(done))
            if self.world.is_main:
                finished.extend(self.run_ensemble(plan, sweep) for plan in sweep.ensembles)
        return finished

    def _existing(self, run: PlannedRun, sweep: PlannedSweep) -> FinishedRun | None:
        """With ``skip_existing``, the results file ``run`` would write, when it exists (read and
        checked); None when the run must execute. Runs an ensemble of the sweep combines always
        execute: the ensemble needs their descriptors (read from the cache)."""
        if not sweep.spec.skip_existing or sweep.ensembles:
            return None
        trained_prompt = probe = None
        if run.train is not None:  # its results file is named after the prompt it was scored with
            from bench.prompts.in_runs import saved_prompt_content

            trained_prompt = saved_prompt_content(run, sweep.spec)
            if trained_prompt is None:
                return None  # the prompt is to be trained: there is no result of it yet
        if run.probe is not None:  # and after its probe
            from bench.execution.probes import saved_probe_content

            probe = saved_probe_content(run, sweep.spec, trained_prompt)
            if probe is None:
                return None  # the probe is to be trained
        config = results_config(run, trained_prompt, probe)
        path = config_path(Path(sweep.spec.output_dir), config)
        if not path.is_file():
            return None
        self.reporter.status(f"skipping {run_name(config)}: {path} exists (--skip-existing)")
        return FinishedRun(read_result(path, self.specs), path, reused=True)


def _keep_first_timings(result: RunResult, path: Path, specs: EvaluationSpecs) -> None:
    """Copy the extraction timings of the results file at ``path`` (if any and readable) into
    ``result``, marking them as the first run's."""
    from bench.api.errors import BenchError

    if not path.is_file():
        return
    try:
        previous = read_result(path, specs).runtime
    except BenchError:
        return  # a damaged file: nothing to keep; it is replaced
    kept = {key: previous[key] for key in EXTRACTION_TIMINGS if key in previous}
    if kept:
        result.runtime.update(kept, timings_from="the run that extracted the descriptors")
