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

:class:`RunResult` is the one model of a result, in memory and on disk: its annotations (typed
dictionaries per section) are the schema (:data:`RESULTS_FILE`); the writer validates against it
before writing and the reader after reading (strict types, unknown keys refused, metrics finite and
within their unit), with the registered tasks and metrics (:class:`bench.EvaluationSpecs`) as the
validation context: a task or metric no installed plugin registers is refused, naming it. So a
results file from elsewhere cannot crash the leaderboard or put arbitrary values in it. Files of
schema version 1 (``versions`` at the top level) are migrated on read (:func:`migrate`).
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired, get_args, get_origin, get_type_hints

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    with_config,
)
from pydantic.fields import FieldInfo
from typing_extensions import TypedDict

from bench.api.bounded_read import read_bounded_text
from bench.api.choices import CACHE_DTYPE_NAMES, DTYPE_NAMES, STUDY_AXES
from bench.api.components import POOLINGS
from bench.api.errors import BenchError
from bench.api.evaluation import EvaluationSpecs
from bench.api.files import write_text_atomic
from bench.api.validation import STRICT, Name, PathText, Scalar, check_nesting, schema_error
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


@with_config(STRICT)
class EnsembleConfig(TypedDict):
    """How an ensemble's members were combined."""

    method: Name
    weights: NotRequired[list[float] | None]
    members: Annotated[list[Name], Field(min_length=1)]


@with_config(STRICT)
class ResultConfig(TypedDict):
    """What determines a run's numbers (``config`` of a results file)."""

    backbone: Name
    layer: Name
    prompt: Name
    dataset: Name
    weights: NotRequired[PathText | None]
    weights_identity: NotRequired[PathText | None]
    pool: NotRequired[Literal[POOLINGS] | Name | None]
    t: NotRequired[int | Name | None]
    dataset_options: NotRequired[dict[Name, JsonValue]]
    dtype: NotRequired[Literal[DTYPE_NAMES] | Name | None]
    cache_dtype: NotRequired[Literal[CACHE_DTYPE_NAMES] | Name | None]
    image_size: NotRequired[int | Name | None]
    noise_samples: NotRequired[int | Name | None]
    seed: NotRequired[int | Name | None]
    train: NotRequired[dict[Name, JsonValue] | Name | None]  # text: an ensemble of trained and untrained
    prompt_content: NotRequired[Name | None]
    query_text: NotRequired[Name | None]
    limit: NotRequired[Annotated[int, Field(ge=1)] | None]
    probe: NotRequired[Name | None]
    probe_dim: NotRequired[int | Name | None]
    probe_train: NotRequired[dict[Name, JsonValue] | Name | None]
    probe_content: NotRequired[Name | None]
    ensemble: NotRequired[EnsembleConfig | None]


@with_config(ConfigDict(STRICT, extra="allow"))
class DatasetFacts(TypedDict, extra_items=JsonValue):
    """What was evaluated (``dataset`` of a results file); adapters add their own facts."""

    id: Name
    columns: NotRequired[list[MetricName]]
    num_queries: NotRequired[Annotated[int, Field(ge=0)] | None]
    num_gallery: NotRequired[Annotated[int, Field(ge=0)] | None]


@with_config(STRICT)
class AblationTag(TypedDict):
    """Which (axis, value) of an ablation study a run stands for."""

    study: Name
    axis: Literal[STUDY_AXES]
    value: Setting
    base: bool
    order: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=2, max_length=2)]


@with_config(STRICT)
class ProjectVersion(TypedDict):
    """The sbir-bench that produced a run: its version and the git commit it ran from."""

    version: Name
    git_commit: NotRequired[Name | None]
    git_dirty: NotRequired[bool | None]


@with_config(STRICT)
class ComponentSource(TypedDict):
    """Which plugin (and which version of it) provided a component."""

    kind: Literal["backbone", "dataset"]
    id: Name
    plugin: PathText
    version: NotRequired[Name | None]


@with_config(STRICT)
class WeightsLoaded(TypedDict):
    """The weights a backbone loaded: as named, and what the name resolved to (snapshot or hash)."""

    backbone: Name
    weights: PathText
    identity: NotRequired[PathText | None]


@with_config(STRICT)
class Provenance(TypedDict):
    """How a run was produced (not part of its identity): when (UTC, ISO 8601), the command line,
    the project's version and commit, each component's plugin, the weights loaded, the device and
    the library versions. Files of schema version 1 carry only ``libraries``."""

    created: NotRequired[Name | None]
    command: NotRequired[list[str]]
    sbir_bench: NotRequired[ProjectVersion | None]
    components: NotRequired[list[ComponentSource]]
    weights: NotRequired[list[WeightsLoaded]]
    device: NotRequired[Name | None]
    libraries: NotRequired[dict[Name, Name]]


Metrics = Annotated[dict[MetricName, float], Field(min_length=1), AfterValidator(within_unit)]


@with_config(STRICT)
class RecordedChanceLevels(TypedDict):
    """The expected value of each metric under a uniformly random ranking of the run's gallery.

    ``methods`` says how each was obtained: ``"exact"`` (the metric's closed form) or ``"simulated"``
    (the mean over ``rankings`` seeded random rankings per distinct number of relevant items and
    candidates; for a median, over ``run_rankings`` simulated runs)."""

    metrics: Metrics
    methods: dict[MetricName, Literal["exact", "simulated"]]
    rankings: NotRequired[Annotated[int, Field(ge=1)] | None]
    run_rankings: NotRequired[Annotated[int, Field(ge=1)] | None]
    seed: NotRequired[Annotated[int, Field(ge=0)] | None]


def _ordered(bounds: list[float]) -> list[float]:
    low, high = bounds
    if low > high:
        raise ValueError(f"its low end {low!r} is above its high end {high!r} (an interval is [low, high])")
    return bounds


Bounds = Annotated[list[float], Field(min_length=2, max_length=2), AfterValidator(_ordered)]


@with_config(STRICT)
class ConfidenceIntervals(TypedDict):
    """Percentile bootstrap intervals of each metric: ``resamples`` seeded resamples of the
    ``unit`` (queries; for galleries split by class, the classes) with replacement."""

    level: Annotated[float, Field(gt=0, lt=1)]
    method: Name
    unit: Literal["query", "class"]
    resamples: Annotated[int, Field(ge=1)]
    seed: Annotated[int, Field(ge=0)]
    bounds: dict[MetricName, Bounds]


@with_config(STRICT)
class ClassMetrics(TypedDict):
    """One query class's metrics: the means over its evaluated queries."""

    queries: Annotated[int, Field(ge=1)]
    metrics: Metrics


@with_config(STRICT)
class SamplesFile(TypedDict):
    """The per-query sidecar written with ``--log-samples`` (next to the results file)."""

    file: Name
    top_k: Annotated[int, Field(ge=1)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


@dataclass
class RunResult:
    """One evaluated configuration, as written to and read from its results file (the module
    docstring gives the meaning of each field; the file adds ``schema_version`` and ``name``).

    The annotations are the schema: each section is a typed dictionary (read as a plain ``dict``),
    checked by :data:`RESULTS_FILE` when the file is written and when it is read.
    """

    task: TaskName
    config: ResultConfig
    dataset: DatasetFacts
    metrics: Metrics
    backbone_note: Name | None = None
    extractor: dict[Name, JsonValue] = field(default_factory=dict)
    runtime: dict[Name, JsonValue] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=dict)  # type: ignore[assignment]
    chance: RecordedChanceLevels | None = None
    intervals: ConfidenceIntervals | None = None
    per_class: dict[Name, ClassMetrics] = field(default_factory=dict)
    samples: SamplesFile | None = None
    ablation: list[AblationTag] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Deterministic run name: a readable slug plus a hash of the full configuration."""
        return run_name(self.config)

    def to_dict(self, specs: EvaluationSpecs) -> dict[str, Any]:
        """The results file's content, checked against :data:`RESULTS_FILE` and the registered
        metrics and tasks ``specs`` (a writer cannot write what the reader would refuse)."""
        data = {"schema_version": SCHEMA_VERSION, "name": self.name, **asdict(self)}
        for key in ("ablation", "chance", "intervals", "per_class", "samples"):
            if not data[key]:
                del data[key]  # absent rather than empty
        RESULTS_FILE.validate_python(data, context={SPECS_KEY: specs})
        return data


def _required(hint: Any) -> Any:
    """The type inside ``NotRequired[...]`` (any other type as it is)."""
    return get_args(hint)[0] if get_origin(hint) is NotRequired else hint


def _results_file_keys() -> dict[str, Any]:
    """Each key of a results file and its type: ``schema_version``, ``name`` and :class:`RunResult`'s
    fields (those with a default optional)."""
    hints = get_type_hints(RunResult, include_extras=True)
    keys: dict[str, Any] = {"schema_version": Literal[SCHEMA_VERSION], "name": Name}
    for item in fields(RunResult):
        required = item.default is MISSING and item.default_factory is MISSING
        keys[item.name] = hints[item.name] if required else NotRequired[hints[item.name]]
    return keys


_KEYS = _results_file_keys()
RESULTS_FILE = TypeAdapter(with_config(STRICT)(TypedDict("ResultsFile", _KEYS)))  # type: ignore[operator]
"""Validates one results file's content (pass the registered metrics and tasks as the context)."""
_KEY_DESCRIPTIONS = type(
    "ResultsFileKeys",
    (),
    {"__pydantic_fields__": {key: FieldInfo.from_annotation(_required(hint)) for key, hint in _KEYS.items()}},
)
"""The top-level keys as pydantic fields: what a schema error names as valid and allowed."""


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
    """Read one results file, validated against :data:`RESULTS_FILE` (migrated from older versions)
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
    try:
        RESULTS_FILE.validate_python(data, context={SPECS_KEY: specs})
    except ValidationError as exc:
        raise schema_error(exc, source, model=_KEY_DESCRIPTIONS, hint="Fix or remove that file.") from None
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
