"""The results-file schema (one JSON file per run), written atomically at a deterministic path.

A results file holds everything needed to reproduce and to rank a run::

    {
      "schema_version": 2,
      "name": "sd-tiny_up1_t200_none_n2_s0_fp32-1a2b3c4d",   # == the file stem
      "task": "<task id>",                                 # a registered task (bench list tasks)
      "config": {backbone, weights, layer, t, prompt, dataset, dataset_options,
                 noise_samples, seed, dtype, image_size,
                 train, prompt_content (prompt schemes trained in the run only: the training
                 settings and the content hash of the prompt trained or reused),
                 query_text (sketch+text queries only),
                 probe, probe_dim, probe_train, probe_content (linear probes only: the
                 --probe value, its output dimension, the training settings of one the run
                 trained, and the content hash of its weight)},   # what determines the numbers
      "backbone_note": "random weights (architecture check only)" | null,
      "extractor": {what the backbone's extraction does, e.g. latent and noise choices},
      "dataset": {id, columns, num_queries, num_gallery, gallery_unique,
                  queries_without_relevant, text_conditioned_queries (sketch+text),
                  ...adapter facts},
      "metrics": {"<metric>": 0.41, ...},   # registered metrics, each in its unit
      "runtime": {device, batch_size, extract_seconds, evaluate_seconds, images, images_per_second},
      "provenance": {created, command, sbir_bench: {version, git_commit, git_dirty},
                     components: [{kind, id, plugin, version}], weights: [{backbone, weights,
                     identity}], device, libraries: {"sbir-bench": ..., "torch": ..., ...}},
      "chance": {metrics: {"<metric>": 0.18, ...}, methods: {"<metric>": "simulated" | "exact"},
                 rankings, run_rankings, seed},           # a random ranking of the same gallery
      "intervals": {level: 0.95, method, unit: "query" | "class", resamples, seed,
                    bounds: {"<metric>": [low, high], ...}},  # bootstrap over queries (or classes)
      "per_class": {"star": {queries: 12, metrics: {...}}, ...},  # each query class's values
      "samples": {file, top_k, sha256},                   # only with --log-samples: the sidecar
      "ablation": [{"study", "axis", "value", "base", "order"}, ...]   # only in ablation studies
    }

Only ``config``, ``task``, ``backbone_note``, ``dataset``, ``metrics``, ``chance``, ``intervals``,
``per_class`` and ``ablation`` are deterministic; the leaderboard reads nothing else, so it renders
the same from the same runs.

:class:`ResultsFile` is the schema; the writer validates against it before writing and the reader
after reading (strict types, unknown keys refused, metrics finite and within their unit), with the
registered tasks and metrics (:class:`bench.EvaluationSpecs`) as the validation context: a task or
metric no installed plugin registers is refused, naming it. So a results file from elsewhere
cannot crash the leaderboard or put arbitrary values in it. Files of
schema version 1 (``versions`` at the top level) are migrated on read (:func:`migrate`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, JsonValue, ValidationInfo

from bench.api.bounded_read import read_bounded_text
from bench.api.choices import CACHE_DTYPE_NAMES, DTYPE_NAMES, STUDY_AXES
from bench.api.components import POOLINGS
from bench.api.errors import BenchError
from bench.api.evaluation import EvaluationSpecs
from bench.api.files import write_text_atomic
from bench.api.validation import Name, PathText, Scalar, SchemaModel, check_nesting, validated
from bench.results.naming import run_name, slug

SCHEMA_VERSION = 2
MAX_RESULTS_BYTES = 32 * 2**20  # a results file is a few kB (per-query sidecars are separate)
SPECS_KEY = "specs"
"""The validation context key of the registered metrics and tasks (:class:`bench.EvaluationSpecs`)."""


def _specs(info: ValidationInfo) -> EvaluationSpecs | None:
    return (info.context or {}).get(SPECS_KEY)


def _metric_name(name: str, info: ValidationInfo) -> str:
    """A registered metric's name (checked when the registry is the validation context)."""
    specs = _specs(info)
    if specs is not None and specs.find_metric(name) is None:
        guess = specs.suggestion(name)
        raise ValueError(
            f"{name!r} is no registered metric"
            + (f" (did you mean {guess!r}?)" if guess else "")
            + f"; registered: {', '.join(specs.metric_patterns())}; load the plugin that registers it"
        )
    return name


def _task_name(name: str, info: ValidationInfo) -> str:
    """A registered task's id (checked when the registry is the validation context)."""
    specs = _specs(info)
    if specs is not None and name not in specs.task_ids():
        raise ValueError(
            f"{name!r} is no registered task (registered: {', '.join(specs.task_ids())}); load the plugin "
            "that registers it"
        )
    return name


MetricName = Annotated[Name, AfterValidator(_metric_name)]
TaskName = Annotated[Name, AfterValidator(_task_name)]
Setting = Scalar | None  # a configuration value (an ensemble joins its members' values as text)


def within_unit(metrics: dict[str, float], info: ValidationInfo) -> dict[str, float]:
    """Each value within its metric's unit: a fraction 0..1, a percentage 0..100, a rank >= 1."""
    specs = _specs(info)
    for name, value in metrics.items():
        resolved = specs.find_metric(name) if specs is not None else None
        if resolved is not None and not resolved.unit.contains(value):
            raise ValueError(f"metric {name} = {value} is {resolved.unit.outside()}")
    return metrics


class EnsembleConfig(SchemaModel):
    """How an ensemble's members were combined."""

    method: Name
    weights: list[float] | None = None
    members: list[Name] = Field(min_length=1)


class ResultConfig(SchemaModel):
    """What determines a run's numbers (``config`` of a results file)."""

    backbone: Name
    layer: Name
    prompt: Name
    dataset: Name
    weights: PathText | None = None
    weights_identity: PathText | None = None
    pool: Literal[POOLINGS] | Name | None = None
    t: int | Name | None = None
    dataset_options: dict[Name, JsonValue] = {}
    dtype: Literal[DTYPE_NAMES] | Name | None = None
    cache_dtype: Literal[CACHE_DTYPE_NAMES] | Name | None = None
    image_size: int | Name | None = None
    noise_samples: int | Name | None = None
    seed: int | Name | None = None
    train: dict[Name, JsonValue] | Name | None = None  # text: an ensemble of trained and untrained
    prompt_content: Name | None = None
    query_text: Name | None = None
    limit: Annotated[int, Field(ge=1)] | None = None
    probe: Name | None = None
    probe_dim: int | Name | None = None
    probe_train: dict[Name, JsonValue] | Name | None = None
    probe_content: Name | None = None
    ensemble: EnsembleConfig | None = None


class DatasetFacts(SchemaModel):
    """What was evaluated (``dataset`` of a results file); adapters add their own facts."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, JsonValue]

    id: Name
    columns: list[MetricName] = []
    num_queries: Annotated[int, Field(ge=0)] | None = None
    num_gallery: Annotated[int, Field(ge=0)] | None = None


class AblationTag(SchemaModel):
    """Which (axis, value) of an ablation study a run stands for."""

    study: Name
    axis: Literal[STUDY_AXES]
    value: Setting
    base: bool
    order: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=2, max_length=2)]


class ProjectVersion(SchemaModel):
    """The sbir-bench that produced a run: its version and the git commit it ran from."""

    version: Name
    git_commit: Name | None = None
    git_dirty: bool | None = None


class ComponentSource(SchemaModel):
    """Which plugin (and which version of it) provided a component."""

    kind: Literal["backbone", "dataset"]
    id: Name
    plugin: PathText
    version: Name | None = None


class WeightsLoaded(SchemaModel):
    """The weights a backbone loaded: as named, and what the name resolved to (snapshot or hash)."""

    backbone: Name
    weights: PathText
    identity: PathText | None = None


class Provenance(SchemaModel):
    """How a run was produced (not part of its identity): when (UTC, ISO 8601), the command line,
    the project's version and commit, each component's plugin, the weights loaded, the device and
    the library versions. Files of schema version 1 carry only ``libraries``."""

    created: Name | None = None
    command: list[str] = []
    sbir_bench: ProjectVersion | None = None
    components: list[ComponentSource] = []
    weights: list[WeightsLoaded] = []
    device: Name | None = None
    libraries: dict[Name, Name] = {}


Metrics = Annotated[dict[MetricName, float], Field(min_length=1), AfterValidator(within_unit)]


class RecordedChanceLevels(SchemaModel):
    """The expected value of each metric under a uniformly random ranking of the run's gallery.

    ``methods`` says how each was obtained: ``"exact"`` (the metric's closed form) or ``"simulated"``
    (the mean over ``rankings`` seeded random rankings per distinct number of relevant items and
    candidates; for a median, over ``run_rankings`` simulated runs)."""

    metrics: Metrics
    methods: dict[MetricName, Literal["exact", "simulated"]]
    rankings: Annotated[int, Field(ge=1)] | None = None
    run_rankings: Annotated[int, Field(ge=1)] | None = None
    seed: Annotated[int, Field(ge=0)] | None = None


def _ordered(bounds: list[float]) -> list[float]:
    low, high = bounds
    if low > high:
        raise ValueError(f"its low end {low!r} is above its high end {high!r} (an interval is [low, high])")
    return bounds


Bounds = Annotated[list[float], Field(min_length=2, max_length=2), AfterValidator(_ordered)]


class ConfidenceIntervals(SchemaModel):
    """Percentile bootstrap intervals of each metric: ``resamples`` seeded resamples of the
    ``unit`` (queries; for galleries split by class, the classes) with replacement."""

    level: Annotated[float, Field(gt=0, lt=1)]
    method: Name
    unit: Literal["query", "class"]
    resamples: Annotated[int, Field(ge=1)]
    seed: Annotated[int, Field(ge=0)]
    bounds: dict[MetricName, Bounds]


class ClassMetrics(SchemaModel):
    """One query class's metrics: the means over its evaluated queries."""

    queries: Annotated[int, Field(ge=1)]
    metrics: Metrics


class SamplesFile(SchemaModel):
    """The per-query sidecar written with ``--log-samples`` (next to the results file)."""

    file: Name
    top_k: Annotated[int, Field(ge=1)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ResultsFile(SchemaModel):
    """One results file, as written and as read."""

    schema_version: Literal[SCHEMA_VERSION]
    name: Name
    task: TaskName
    config: ResultConfig
    dataset: DatasetFacts
    metrics: Metrics
    backbone_note: Name | None = None
    extractor: dict[Name, JsonValue] = {}
    runtime: dict[Name, JsonValue] = {}
    provenance: Provenance = Provenance()
    chance: RecordedChanceLevels | None = None
    intervals: ConfidenceIntervals | None = None
    per_class: dict[Name, ClassMetrics] = {}
    samples: SamplesFile | None = None
    ablation: list[AblationTag] = []


@dataclass
class RunResult:
    """One evaluated configuration (see the module docstring for the meaning of each field)."""

    task: str
    config: dict[str, Any]
    dataset: dict[str, Any]
    metrics: dict[str, float]
    backbone_note: str | None = None
    extractor: dict[str, str] = field(default_factory=dict)
    runtime: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    chance: dict[str, Any] | None = None
    intervals: dict[str, Any] | None = None
    per_class: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, Any] | None = None
    ablation: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Deterministic run name: a readable slug plus a hash of the full configuration."""
        return run_name(self.config)

    def to_dict(self, specs: EvaluationSpecs) -> dict[str, Any]:
        """The results file's content, checked against :class:`ResultsFile` and the registered
        metrics and tasks ``specs`` (a writer cannot write what the reader would refuse)."""
        data = {"schema_version": SCHEMA_VERSION, "name": self.name, **asdict(self)}
        for key in ("ablation", "chance", "intervals", "per_class", "samples"):
            if not data[key]:
                del data[key]  # absent rather than empty
        ResultsFile.model_validate(data, context={SPECS_KEY: specs})
        return data


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """A results file's content in the current schema version (version 1: ``versions`` moves to
    ``provenance.libraries``); other versions are returned as they are, for the schema to refuse."""
    if data.get("schema_version") == 1:
        versions = data.get("versions")
        data = {key: value for key, value in data.items() if key != "versions"}
        data.update(
            schema_version=2, provenance={"libraries": versions} if isinstance(versions, dict) else {}
        )
    return data


def result_path(output_dir: Path, result: RunResult) -> Path:
    """``<output_dir>/<dataset>/<run name>.json``."""
    return config_path(output_dir, result.config)


def config_path(output_dir: Path, config: dict[str, Any]) -> Path:
    """Where the results file of the run configured by ``config`` goes below ``output_dir``."""
    return Path(output_dir) / slug(config["dataset"]) / f"{run_name(config)}.json"


def write_result(output_dir: Path, result: RunResult, specs: EvaluationSpecs) -> Path:
    """Write ``result`` atomically (temporary file + rename), checked against the registered metrics
    and tasks ``specs``, and return its path."""
    path = result_path(output_dir, result)
    try:
        return write_text_atomic(path, json.dumps(result.to_dict(specs), indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        raise BenchError(
            f"Cannot write the results file {str(path)!r}: {exc.strerror}.",
            "Free space there or pass --output-dir DIR; the descriptors are cached, so a rerun only "
            "scores and writes.",
        ) from exc


def read_result(path: Path, specs: EvaluationSpecs) -> RunResult:
    """Read one results file, validated against :class:`ResultsFile` (migrated from older versions)
    and the registered metrics and tasks ``specs`` (``registry.evaluation_specs()``).

    Raises:
        BenchError: naming the file and, for a schema violation, each key, what it holds and what
            is allowed.
    """
    source = f"Results file {str(path)!r}"
    text = read_bounded_text(Path(path), MAX_RESULTS_BYTES, "Results file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BenchError(f"{source} is not JSON ({exc}).", "Fix or remove that file.") from exc
    except RecursionError:
        raise BenchError(f"{source} nests too deeply to read.", "Fix or remove that file.") from None
    check_nesting(data, source)
    if not isinstance(data, dict) or data.get("schema_version") not in (1, SCHEMA_VERSION):
        version = data.get("schema_version") if isinstance(data, dict) else None
        raise BenchError(
            f"{source} is not an sbir-bench results file (schema_version {version!r}; "
            f"{SCHEMA_VERSION} or 1 expected).",
            "Fix or remove that file; results files are written by `bench run`.",
        )
    data = migrate(data)
    validated(ResultsFile, data, source, context={SPECS_KEY: specs}, hint="Fix or remove that file.")
    return RunResult(
        task=data["task"],
        config=data["config"],
        dataset=data["dataset"],
        metrics=data["metrics"],
        backbone_note=data.get("backbone_note"),
        extractor=data.get("extractor", {}),
        runtime=data.get("runtime", {}),
        provenance=data.get("provenance", {}),
        chance=data.get("chance"),
        intervals=data.get("intervals"),
        per_class=data.get("per_class", {}),
        samples=data.get("samples"),
        ablation=data.get("ablation", []),
    )


def find_result_files(results_dir: Path) -> list[Path]:
    """Every ``*.json`` below ``results_dir``, sorted by path (deterministic)."""
    return sorted(p for p in Path(results_dir).rglob("*.json") if not p.name.startswith("."))
